"""Independent check of dcmask's risk figures (crates/engine/src/risk).

Reads one row per DICOM object (patient, study, sop, study_date and one column per
quasi-identifier, as the generator wrote the values), builds the records with pandas,
groups them with pycanon (k-anonymity, equivalence classes), and computes the risk
measures from their definitions (ARX's sample risk summary; the journalist/marketer
risk of Benedetti-Franconi, E[1/F | f] with F - f negative binomial, summed term by
term). Prints one JSON object.

usage: risk_check.py OBJECTS.csv patient|study POPULATION QI1,QI2,...
"""

import json
import math
import sys
from datetime import date

import pandas as pd
from pycanon import anonymity
from pycanon.anonymity.utils import aux_anonymity


def parse_date(s):
    s = s.strip()
    if len(s) < 8 or not s[:8].isdigit():
        return None
    try:
        return date(int(s[:4]), int(s[4:6]), int(s[6:8]))
    except ValueError:
        return None


def records(objects, kind, qis):
    """One row per record: its quasi-identifiers' sorted distinct values, joined by \\."""
    objects = objects.copy()
    objects["patient_key"] = [
        ("p:" + p) if p else ("s:" + s if s else "i:" + i)
        for p, s, i in zip(objects.patient, objects.study, objects.sop)
    ]
    study_key = [s if s else "i:" + i for s, i in zip(objects.study, objects.sop)]
    objects["study_key"] = study_key
    if kind == "patient":
        objects["record"] = objects.patient_key
    else:
        objects["record"] = [("s:" + s) if s else ("i:" + i) for s, i in zip(objects.study, objects.sop)]
    # A study's date: the first one read that parses.
    study_dates = {}
    for s, d in zip(objects.study_key, objects.study_date):
        if study_dates.get(s) is None:
            study_dates[s] = parse_date(d)
    patient_studies = {}
    for p, s in zip(objects.patient_key, objects.study_key):
        patient_studies.setdefault(p, set()).add(s)

    rows = []
    for rec, group in objects.groupby("record", sort=True):
        row = {}
        for q in qis:
            if q == "StudyInterval":
                if kind == "patient":
                    dates = sorted(d for d in (study_dates[s] for s in set(group.study_key)) if d)
                    row[q] = "\\".join(str((b - a).days) for a, b in zip(dates, dates[1:]))
                else:
                    mine = study_dates[group.study_key.iloc[0]]
                    others = [
                        study_dates[s]
                        for s in patient_studies[group.patient_key.iloc[0]]
                        if study_dates[s] and mine and study_dates[s] < mine
                    ]
                    row[q] = str((mine - max(others)).days) if others else ""
            else:
                values = sorted({v.strip(" \0") for v in group[q]})
                row[q] = "\\".join(values)
        rows.append(row)
    return pd.DataFrame(rows, columns=qis)


def sizes_per_record(df, qis):
    size = [0] * len(df)
    if not qis:
        return [len(df)] * len(df)
    for members in aux_anonymity.get_equiv_class(df, qis):
        for m in members:
            size[m] = len(members)
    return size


def expected_inverse(f, p):
    """E[1/(f+X)], X ~ NegBin(f, p): the sum over x of C(x+f-1, x) p^f q^x / (f+x)."""
    if p >= 1.0:
        return 1.0 / f
    q = 1.0 - p
    mean = f * q / p
    total = 0.0
    x = 0
    while True:
        logp = (math.lgamma(x + f) - math.lgamma(f) - math.lgamma(x + 1)
                + f * math.log(p) + x * math.log(q))
        term = math.exp(logp) / (f + x)
        total += term
        # Past the mode the terms only fall: stop when they no longer count.
        if x > mean and term < 1e-17 * total:
            return total
        x += 1


def figures(size, population):
    n = len(size)
    classes = sum(1.0 / s for s in size)
    out = {
        "records": n,
        "classes": round(classes),
        "k_min": min(size),
        "unique_records": sum(1 for s in size if s == 1),
        "records_below_k5": sum(1 for s in size if s < 5),
        "records_below_k11": sum(1 for s in size if s < 11),
        "prosecutor_risk_max": 1.0 / min(size),
        "prosecutor_risk_avg": classes / n,
    }
    if population:
        p = n / population
        cache = {}
        risk = [cache.setdefault(s, expected_inverse(s, p)) for s in size]
        out["journalist_risk_max"] = max(risk)
        out["marketer_risk"] = sum(risk) / n
    return out


def age_band(v):
    parts = []
    for a in v.split("\\"):
        if a == "":
            parts.append("")
            continue
        years = int(a[:-1]) if a[-1] == "Y" else 0
        parts.append("%03dY" % (90 if years >= 90 else years // 10 * 10))
    return "\\".join(sorted(set(parts)))


def main():
    path, kind, population, qis = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split(",")
    objects = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    df = records(objects, kind, qis)
    full = sizes_per_record(df, qis)
    out = figures(full, population)
    out["k_pycanon"] = int(anonymity.k_anonymity(df, qis))
    out["contributions"] = {}
    for q in qis:
        rest = [c for c in qis if c != q]
        without = sizes_per_record(df, rest)
        out["contributions"][q] = {
            "distinct_values": int(df[q].nunique()),
            "unique_because": sum(1 for f, w in zip(full, without) if f == 1 and w > 1),
            "without": figures(without, population),
        }
    if "PatientAge" in qis:
        banded = df.copy()
        banded["PatientAge"] = [age_band(v) for v in df.PatientAge]
        out["generalized_age"] = figures(sizes_per_record(banded, qis), population)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
