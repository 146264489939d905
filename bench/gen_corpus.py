#!/usr/bin/env python3
"""Generates the benchmark corpus: plain Python, no packages needed.

    gen_corpus.py OUTDIR [--ct N] [--small N] [--patients N]

- N CT slices, 512x512 16-bit, Explicit VR Little Endian (default 1000)
- N small 64x64 16-bit images (default 5000)

spread over several fictitious patients, each file with its own PHI (name, ID, birth date,
dates and times, accession number, institution, physicians, descriptions, UIDs), in folders
named after the patient and the study (PHI in the paths too, as in real exports).
The output is deterministic: the same arguments give the same bytes.
"""

import os
import random
import struct
import sys

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
SC_IMAGE = "1.2.840.10008.5.1.4.1.1.7"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
ROOT = "1.2.826.0.1.3680043.8.498"
LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT"}

FIRST = ["JOHN", "JANE", "MARIA", "LI", "AHMED", "OLGA", "PEDRO", "AIKO", "FATIMA", "NILS"]
LAST = ["DOE", "ROE", "SMITH", "GARCIA", "NGUYEN", "KOWALSKI", "OKAFOR", "TANAKA", "MULLER", "SILVA"]


def pad(value: bytes, vr: bytes) -> bytes:
    if len(value) % 2:
        value += b"\0" if vr == b"UI" else b" "
    return value


def element(group: int, elem: int, vr: bytes, value) -> bytes:
    if isinstance(value, str):
        value = value.encode("ascii")
    value = pad(value, vr)
    if vr in LONG_VRS:
        return struct.pack("<HH2sHI", group, elem, vr, 0, len(value)) + value
    return struct.pack("<HH2sH", group, elem, vr, len(value)) + value


def us(v: int) -> bytes:
    return struct.pack("<H", v)


def dicom_file(ds: list, sop_class: str, sop_uid: str) -> bytes:
    meta_body = b"".join(
        [
            element(0x0002, 0x0001, b"OB", b"\x00\x01"),
            element(0x0002, 0x0002, b"UI", sop_class),
            element(0x0002, 0x0003, b"UI", sop_uid),
            element(0x0002, 0x0010, b"UI", EXPLICIT_LE),
            element(0x0002, 0x0012, b"UI", ROOT + ".1"),
            element(0x0002, 0x0013, b"SH", "BENCHGEN_1"),
        ]
    )
    meta = element(0x0002, 0x0000, b"UL", struct.pack("<I", len(meta_body))) + meta_body
    body = b"".join(element(g, e, vr, v) for (g, e, vr, v) in sorted(ds, key=lambda x: (x[0], x[1])))
    return b"\0" * 128 + b"DICM" + meta + body


def header(rng, patient, study, series_uid, n, sop_class, sop_uid, rows, cols):
    name, pid, birth, sex = patient
    study_uid, study_date, accession, study_desc = study
    time = "%02d%02d%02d" % (rng.randrange(7, 19), rng.randrange(60), rng.randrange(60))
    return [
        (0x0008, 0x0005, b"CS", "ISO_IR 100"),
        (0x0008, 0x0008, b"CS", "ORIGINAL\\PRIMARY\\AXIAL"),
        (0x0008, 0x0012, b"DA", study_date),
        (0x0008, 0x0013, b"TM", time),
        (0x0008, 0x0016, b"UI", sop_class),
        (0x0008, 0x0018, b"UI", sop_uid),
        (0x0008, 0x0020, b"DA", study_date),
        (0x0008, 0x0021, b"DA", study_date),
        (0x0008, 0x0022, b"DA", study_date),
        (0x0008, 0x0023, b"DA", study_date),
        (0x0008, 0x0030, b"TM", time),
        (0x0008, 0x0031, b"TM", time),
        (0x0008, 0x0032, b"TM", time),
        (0x0008, 0x0033, b"TM", time),
        (0x0008, 0x0050, b"SH", accession),
        (0x0008, 0x0060, b"CS", "CT" if sop_class == CT_IMAGE else "OT"),
        (0x0008, 0x0070, b"LO", "BenchVendor"),
        (0x0008, 0x0080, b"LO", "Saint Example Hospital"),
        (0x0008, 0x0081, b"ST", "1 Example Road, Springfield"),
        (0x0008, 0x0090, b"PN", "HOUSE^GREGORY"),
        (0x0008, 0x1010, b"SH", "STATION%02d" % rng.randrange(10)),
        (0x0008, 0x1030, b"LO", study_desc),
        (0x0008, 0x103E, b"LO", "AXIAL %s %d" % (name.split("^")[0], n)),
        (0x0008, 0x1040, b"LO", "RADIOLOGY"),
        (0x0008, 0x1050, b"PN", "CAMERON^ALLISON"),
        (0x0008, 0x1090, b"LO", "BenchScanner 9000"),
        (0x0010, 0x0010, b"PN", name),
        (0x0010, 0x0020, b"LO", pid),
        (0x0010, 0x0030, b"DA", birth),
        (0x0010, 0x0040, b"CS", sex),
        (0x0010, 0x1010, b"AS", "%03dY" % (2020 - int(birth[:4]))),
        (0x0010, 0x1040, b"LO", "%d Main Street, Springfield" % rng.randrange(1, 999)),
        (0x0010, 0x2154, b"SH", "555-%04d" % rng.randrange(10000)),
        (0x0010, 0x4000, b"LT", "Patient %s, ID %s, seen on %s" % (name, pid, study_date)),
        (0x0018, 0x0050, b"DS", "1.25"),
        (0x0018, 0x1000, b"LO", "SN%06d" % rng.randrange(10**6)),
        (0x0020, 0x000D, b"UI", study_uid),
        (0x0020, 0x000E, b"UI", series_uid),
        (0x0020, 0x0010, b"SH", "S%05d" % rng.randrange(10**5)),
        (0x0020, 0x0011, b"IS", "1"),
        (0x0020, 0x0013, b"IS", str(n)),
        (0x0020, 0x0032, b"DS", "0\\0\\%d" % n),
        (0x0020, 0x0052, b"UI", study_uid + ".9"),
        (0x0028, 0x0002, b"US", us(1)),
        (0x0028, 0x0004, b"CS", "MONOCHROME2"),
        (0x0028, 0x0010, b"US", us(rows)),
        (0x0028, 0x0011, b"US", us(cols)),
        (0x0028, 0x0100, b"US", us(16)),
        (0x0028, 0x0101, b"US", us(12)),
        (0x0028, 0x0102, b"US", us(11)),
        (0x0028, 0x0103, b"US", us(0)),
    ]


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit(__doc__)
    out = args[0]
    opts = {"--ct": 1000, "--small": 5000, "--patients": 20}
    for i in range(1, len(args), 2):
        opts[args[i]] = int(args[i + 1])
    rng = random.Random(20240601)
    patients = []
    for p in range(opts["--patients"]):
        name = "%s^%s" % (LAST[p % len(LAST)], FIRST[(p * 7 + 3) % len(FIRST)])
        birth = "%04d%02d%02d" % (1930 + rng.randrange(80), rng.randrange(1, 13), rng.randrange(1, 29))
        patients.append((name, "MRN%07d" % rng.randrange(10**7), birth, "MF"[p % 2]))
    noise = rng.randbytes(512 * 512 * 2 + 65536)
    counter = 0

    def write(kind, count, rows, sop_class):
        nonlocal counter
        per_patient = max(1, count // len(patients))
        for i in range(count):
            counter += 1
            p = patients[(i // per_patient) % len(patients)]
            k = i // per_patient
            study_uid = "%s.%d.%d" % (ROOT, counter // 500 + 1, (i // per_patient) + 1)
            study_date = "20%02d%02d%02d" % (10 + (k % 12), (k % 12) + 1, (k % 28) + 1)
            study = (study_uid, study_date, "ACC%08d" % (k + 1), "%s %s" % (kind, p[0]))
            series_uid = study_uid + ".1"
            sop_uid = "%s.%d.%d.%d" % (ROOT, 7, counter, i)
            ds = header(rng, p, study, series_uid, i + 1, sop_class, sop_uid, rows, rows)
            n = rows * rows * 2
            off = (counter * 4099) % 65536
            ds.append((0x7FE0, 0x0010, b"OW", noise[off : off + n]))
            folder = os.path.join(out, kind, "%s_%s" % (p[0].replace("^", "_"), p[1]), "%s %s" % (study_date, kind))
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, "%s_%05d.dcm" % (p[0].split("^")[0], i + 1)), "wb") as f:
                f.write(dicom_file(ds, sop_class, sop_uid))

    write("CT", opts["--ct"], 512, CT_IMAGE)
    write("SMALL", opts["--small"], 64, SC_IMAGE)


if __name__ == "__main__":
    main()
