//! Hostile inputs for fuzz tests: corpus files damaged in seeded, repeatable ways (bit
//! flips, cuts, absurd lengths, relabelled transfer syntaxes) and generated ones (deep
//! nesting, a deflate bomb). Any test that feeds files to dcmask (batch, inspect, the
//! workbench's upload) can use [`mutants`].
#![allow(dead_code)]

use dcmask_engine::io;
use dcmask_engine::io::precheck::MAX_DEPTH;
use dicom_core::VR;
use dicom_dictionary_std::tags;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::InMemDicomObject;
use std::io::Write;
use std::path::Path;

/// Small corpus files, one or more per transfer syntax and structure worth damaging.
pub const SEEDS: &[&str] = &[
    "pydicom/test_files/CT_small.dcm",
    "pydicom/test_files/MR_small_implicit.dcm",
    "pydicom/test_files/MR_small_bigendian.dcm",
    "pydicom/test_files/MR_small_RLE.dcm",
    "pydicom/test_files/SC_rgb_rle_16bit_2frame.dcm",
    "pydicom/test_files/rtdose_rle_1frame.dcm",
    "pydicom/test_files/image_dfl.dcm",
    "pydicom/test_files/SC_rgb_small_odd_jpeg.dcm",
    "pydicom/test_files/JPGExtended.dcm",
    "pydicom/test_files/SC_rgb_jpeg_gdcm.dcm",
    "pydicom/test_files/MR_small_jpeg_ls_lossless.dcm",
    "pydicom/test_files/MR_small_jp2klossless.dcm",
    "pydicom/test_files/nested_priv_SQ.dcm",
    "pydicom/test_files/test-SR.dcm",
    "pydicom/charset_files/chrSQEncoding.dcm",
];

/// Transfer syntaxes a file is relabelled to.
const RELABEL: &[&str] = &[
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.5",
];

/// A damaged or hostile input and how it was made (no PHI: seed path and mutation).
pub struct Mutant {
    pub what: String,
    pub bytes: Vec<u8>,
}

/// SplitMix64: a seeded generator, the same numbers on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The mutants of one round: every seed damaged in each way, plus the generated inputs.
/// Round `r` draws its own random choices; round 0 is what CI runs.
pub fn mutants(corpus: &Path, round: u64) -> Vec<Mutant> {
    let mut rng = Rng::new(0x5EED_0000 + round);
    let mut out = Vec::new();
    for seed in SEEDS {
        let bytes = std::fs::read(corpus.join(seed)).unwrap_or_else(|e| panic!("{seed}: {e}"));
        damage(seed, &bytes, &mut rng, &mut out);
    }
    if round == 0 {
        out.extend(generated());
    }
    out
}

/// Where the data set starts: after the preamble and the file meta group.
fn data_set_start(bytes: &[u8]) -> usize {
    if bytes.len() >= 144 && &bytes[128..132] == b"DICM" {
        let group = u32::from_le_bytes(bytes[140..144].try_into().unwrap()) as usize;
        (144 + group).min(bytes.len())
    } else {
        0
    }
}

fn damage(seed: &str, bytes: &[u8], rng: &mut Rng, out: &mut Vec<Mutant>) {
    let start = data_set_start(bytes);
    let len = bytes.len();
    // Bit flips anywhere past the preamble (the meta group too).
    for flips in [1, 2, 4, 16] {
        let mut b = bytes.to_vec();
        for _ in 0..flips {
            let at = 128 + rng.below(len - 128);
            b[at] ^= 1 << rng.below(8);
        }
        out.push(Mutant {
            what: format!("{seed}: {flips} bit flip(s)"),
            bytes: b,
        });
    }
    // Cuts every len/6 bytes from a random start, and 1 to 7 bytes off the end.
    let step = (len / 6).max(1);
    let mut at = 132 + rng.below(step);
    while at < len {
        out.push(Mutant {
            what: format!("{seed}: cut at {at}"),
            bytes: bytes[..at].to_vec(),
        });
        at += step;
    }
    let off = 1 + rng.below(7);
    out.push(Mutant {
        what: format!("{seed}: {off} bytes cut off the end"),
        bytes: bytes[..len - off].to_vec(),
    });
    // Absurd lengths: after an explicit VR (two letters), or any four bytes of the data set.
    for _ in 0..3 {
        let mut b = bytes.to_vec();
        let vr_at = (start..len.saturating_sub(8)).find(|&i| {
            i >= start + rng.below(len - start)
                && VR::from_binary([b[i], b[i + 1]]).is_some()
                && b[i].is_ascii_uppercase()
        });
        let what = match vr_at {
            Some(i) if matches!(&b[i..i + 2], b"OB" | b"OW" | b"SQ" | b"UN" | b"UT") => {
                b[i + 4..i + 8].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
                format!("{seed}: 4-byte length at {i} set to 0xFFFFFFF0")
            }
            Some(i) => {
                b[i + 2..i + 4].copy_from_slice(&0xFFFFu16.to_le_bytes());
                format!("{seed}: 2-byte length at {i} set to 0xFFFF")
            }
            None => {
                let i = start + rng.below(len - start - 4);
                b[i..i + 4].copy_from_slice(&0x7FFF_FFF0u32.to_le_bytes());
                format!("{seed}: 4 bytes at {i} set to 0x7FFFFFF0")
            }
        };
        out.push(Mutant { what, bytes: b });
    }
    // A JPEG frame header (SOF0, SOF1, SOF3) declaring 65535 × 65535.
    if let Some(i) = (start..len.saturating_sub(9))
        .find(|&i| bytes[i] == 0xFF && matches!(bytes[i + 1], 0xC0 | 0xC1 | 0xC3))
    {
        let mut b = bytes.to_vec();
        b[i + 5..i + 9].copy_from_slice(&[0xFF; 4]);
        out.push(Mutant {
            what: format!("{seed}: JPEG frame header at {i} declares 65535 x 65535"),
            bytes: b,
        });
    }
    // The data set as it is, under the meta group of another transfer syntax.
    if start > 0 {
        for _ in 0..2 {
            let ts = RELABEL[rng.below(RELABEL.len())];
            let mut b = meta_group(ts);
            b.extend_from_slice(&bytes[start..]);
            out.push(Mutant {
                what: format!("{seed}: relabelled {ts}"),
                bytes: b,
            });
        }
    }
}

/// Preamble and file meta group of a CT image in `ts`.
fn meta_group(ts: &str) -> Vec<u8> {
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(ts)
        .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.2")
        .media_storage_sop_instance_uid("1.2.826.0.1.3680043.2.1125.9.1")
        .build()
        .unwrap();
    let mut b = io::to_bytes(&InMemDicomObject::new_empty().with_exact_meta(meta)).unwrap();
    b.truncate(data_set_start(&b));
    b
}

/// A minimal CT data set before its pixel data, Explicit VR Little Endian.
fn ct_header() -> Vec<u8> {
    let mut ds = InMemDicomObject::new_empty();
    ds.put_str(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.2");
    ds.put_str(
        tags::SOP_INSTANCE_UID,
        VR::UI,
        "1.2.826.0.1.3680043.2.1125.9.1",
    );
    ds.put_str(
        tags::STUDY_INSTANCE_UID,
        VR::UI,
        "1.2.826.0.1.3680043.2.1125.9",
    );
    ds.put_str(
        tags::SERIES_INSTANCE_UID,
        VR::UI,
        "1.2.826.0.1.3680043.2.1125.9.2",
    );
    ds.put_str(tags::PATIENT_NAME, VR::PN, "Fuzz^Patient");
    ds.put_str(tags::PATIENT_ID, VR::LO, "FUZZ-001");
    ds.put_str(tags::MODALITY, VR::CS, "CT");
    let full = io::to_bytes(
        &ds.with_exact_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax("1.2.840.10008.1.2.1")
                .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.2")
                .media_storage_sop_instance_uid("1.2.826.0.1.3680043.2.1125.9.1")
                .build()
                .unwrap(),
        ),
    )
    .unwrap();
    full[data_set_start(&full)..].to_vec()
}

/// Content Sequences nested `depth` deep (undefined lengths), then 16 bytes of pixels.
fn nested(depth: usize) -> Vec<u8> {
    let mut b = ct_header();
    for _ in 0..depth {
        b.extend([
            0x40, 0x00, 0x30, 0xA7, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        b.extend([0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
    }
    for _ in 0..depth {
        b.extend([0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        b.extend([0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
    }
    b.extend([0xE0, 0x7F, 0x10, 0x00, b'O', b'W', 0, 0, 16, 0, 0, 0]);
    b.extend([0u8; 16]);
    b
}

/// Deep nesting (at the limit, past it, far past it) and a deflate bomb.
fn generated() -> Vec<Mutant> {
    let mut out = Vec::new();
    for depth in [MAX_DEPTH, MAX_DEPTH + 1, 1000, 5000] {
        let mut b = meta_group("1.2.840.10008.1.2.1");
        b.extend(nested(depth));
        out.push(Mutant {
            what: format!("sequences nested {depth} deep"),
            bytes: b,
        });
    }
    // 64 MiB of zeros in a private element: about 64 KB deflated.
    let mut ds = ct_header();
    ds.extend([0x29, 0x00, 0x10, 0x10, b'O', b'B', 0, 0]);
    ds.extend((64u32 << 20).to_le_bytes());
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(&ds).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        z.write_all(&zeros).unwrap();
    }
    z.write_all(&[0xE0, 0x7F, 0x10, 0x00, b'O', b'W', 0, 0, 16, 0, 0, 0])
        .unwrap();
    z.write_all(&[0u8; 16]).unwrap();
    let mut b = meta_group("1.2.840.10008.1.2.1.99");
    b.extend(z.finish().unwrap());
    out.push(Mutant {
        what: "deflate bomb (64 MiB of zeros)".into(),
        bytes: b,
    });
    out
}

/// How many bytes of data set the engine may hold for `bytes`: its size, or for a
/// deflated data set what it inflates to, within the engine's limit.
pub fn data_set_bytes(bytes: &[u8]) -> u64 {
    let start = data_set_start(bytes);
    let deflated = bytes[..start]
        .windows(22)
        .any(|w| w == b"1.2.840.10008.1.2.1.99");
    if !deflated {
        return bytes.len() as u64;
    }
    let limit = io::inflated_limit((bytes.len() - start) as u64);
    let mut z = flate2::read::DeflateDecoder::new(&bytes[start..]);
    let n = std::io::copy(
        &mut std::io::Read::take(&mut z, limit + 1),
        &mut std::io::sink(),
    )
    .unwrap_or(0);
    n.max(bytes.len() as u64)
}
