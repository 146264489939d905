//! Re-identification risk of a set of (de-identified) objects, for an Expert
//! Determination: how many patients or studies are unique on what is left (age, sex,
//! dates, equipment, descriptions), which attribute makes them unique, and what removing
//! or coarsening it would change. No I/O: the caller reads headers and feeds
//! [`Builder::add`] one object at a time, so memory holds one small set of values per
//! record, never the objects.
//!
//! - **Records** are patients (by the Patient ID as written in the objects) or studies
//!   (by Study Instance UID). An object without a Patient ID is taken as its study's
//!   record, and without a Study Instance UID as a record of its own: the data gives no
//!   way to link it to more, which is also all a recipient can do. Such records are
//!   counted (`records_without_id`).
//! - **A record's value** for a quasi-identifier is the sorted set of the distinct values
//!   of its objects, joined by `\` (values trimmed of spaces; an absent or empty value is
//!   the value "", of its own). `StudyInterval` is the days between the record's
//!   successive dated studies in date order (for a study: since the patient's previous
//!   study), `BirthYear` the year of the birth date, `PrivateElements` which private
//!   elements the objects carry ([`qi::Derive`]).
//! - **Figures** ([`figures`]): classes, k-min, records with k = 1, k < 5, k < 11,
//!   prosecutor risk, and with a population size the journalist and marketer risks; then
//!   for each quasi-identifier how many records are unique because of it (unique with it,
//!   not without it) and the figures without it and with it generalised.

pub mod figures;
pub mod qi;
#[cfg(test)]
mod tests;

pub use figures::{Figures, POPULATION_MODEL};
pub use qi::{defaults, select, Derive, QuasiIdentifier};

use chrono::NaiveDate;
use dicom_core::header::Header;
use dicom_core::value::Value;
use dicom_core::VR;
use dicom_dictionary_std::tags;
use dicom_object::mem::InMemElement;
use dicom_object::InMemDicomObject;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What one record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    /// One record per patient (Patient ID).
    #[default]
    Patient,
    /// One record per study (Study Instance UID).
    Study,
}

impl RecordKind {
    /// `patient` or `study`.
    pub fn from_id(s: &str) -> Option<RecordKind> {
        match s {
            "patient" => Some(RecordKind::Patient),
            "study" => Some(RecordKind::Study),
            _ => None,
        }
    }
}

/// What an analysis needs of one object: its record and its quasi-identifier values.
/// Small and owned, so readers can extract in parallel and add in turn.
#[derive(Debug, Clone)]
pub struct Observation {
    record: String,
    fallback: bool,
    patient: String,
    study: String,
    study_date: Option<NaiveDate>,
    /// Per quasi-identifier, this object's values (one, or several private elements).
    values: Vec<Vec<String>>,
}

impl Observation {
    /// What the analysis needs of one object, read from its header.
    pub fn of(obj: &InMemDicomObject, qis: &[QuasiIdentifier], kind: RecordKind) -> Observation {
        let text = |t| obj.get(t).map(element_text).unwrap_or_default();
        let (patient, study, instance) = (
            text(tags::PATIENT_ID),
            text(tags::STUDY_INSTANCE_UID),
            text(tags::SOP_INSTANCE_UID),
        );
        // Prefixed so that an ID that happens to spell a UID is not that study.
        let by_study = || match study.as_str() {
            "" => format!("i:{instance}"),
            s => format!("s:{s}"),
        };
        let (record, fallback) = match (kind, patient.as_str()) {
            (RecordKind::Patient, "") | (RecordKind::Study, _) => {
                let r = by_study();
                let fallback = kind == RecordKind::Patient || study.is_empty();
                (r, fallback)
            }
            (RecordKind::Patient, p) => (format!("p:{p}"), false),
        };
        let values = qis
            .iter()
            .map(|q| match (q.derive, q.tag) {
                (Derive::Value, Some(t)) => vec![text(t)],
                (Derive::Year, Some(t)) => vec![year_of(&text(t))],
                (Derive::Private, _) => private_elements(obj),
                (Derive::Intervals, _) | (_, None) => Vec::new(),
            })
            .collect();
        Observation {
            patient: if patient.is_empty() {
                by_study()
            } else {
                format!("p:{patient}")
            },
            study_date: parse_date(&text(tags::STUDY_DATE)),
            study: if study.is_empty() {
                format!("i:{instance}")
            } else {
                study
            },
            record,
            fallback,
            values,
        }
    }
}

/// Distinct strings of one quasi-identifier, numbered in order of arrival.
#[derive(Default)]
struct Interner {
    ids: HashMap<String, u32>,
    strings: Vec<String>,
}

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(id) = self.ids.get(s) {
            return *id;
        }
        let id = self.strings.len() as u32;
        self.ids.insert(s.to_string(), id);
        self.strings.push(s.to_string());
        id
    }
}

struct Acc {
    fallback: bool,
    patient: String,
    /// Per quasi-identifier, the distinct values of the record's objects.
    values: Vec<BTreeSet<u32>>,
    /// Study → its date (the first one read).
    studies: BTreeMap<String, Option<NaiveDate>>,
}

/// Collects observations; [`Builder::finish`] groups them.
pub struct Builder {
    qis: Vec<QuasiIdentifier>,
    kind: RecordKind,
    values: Vec<Interner>,
    records: HashMap<String, Acc>,
    instances: u64,
}

impl Builder {
    /// A builder over these quasi-identifiers, grouping objects into records of this kind.
    pub fn new(qis: Vec<QuasiIdentifier>, kind: RecordKind) -> Builder {
        Builder {
            values: qis.iter().map(|_| Interner::default()).collect(),
            qis,
            kind,
            records: HashMap::new(),
            instances: 0,
        }
    }

    /// The quasi-identifiers the figures are over.
    pub fn quasi_identifiers(&self) -> &[QuasiIdentifier] {
        &self.qis
    }

    /// What one record is.
    pub fn kind(&self) -> RecordKind {
        self.kind
    }

    /// Adds one object (read from its header; the pixel data is not needed).
    pub fn add_object(&mut self, obj: &InMemDicomObject) {
        let o = Observation::of(obj, &self.qis, self.kind);
        self.add(o);
    }

    /// Adds an observation made elsewhere (by a reader thread, say).
    pub fn add(&mut self, o: Observation) {
        self.instances += 1;
        let n = self.qis.len();
        let acc = self.records.entry(o.record).or_insert_with(|| Acc {
            fallback: o.fallback,
            patient: o.patient,
            values: vec![BTreeSet::new(); n],
            studies: BTreeMap::new(),
        });
        for (i, vals) in o.values.iter().enumerate() {
            for v in vals {
                acc.values[i].insert(self.values[i].id(v));
            }
        }
        let date = acc.studies.entry(o.study).or_insert(o.study_date);
        if date.is_none() {
            *date = o.study_date;
        }
    }

    /// Groups the records. Derived values that need every study of a patient
    /// (`StudyInterval`) are made here.
    pub fn finish(self) -> Analysis {
        let Builder {
            qis,
            kind,
            values,
            records,
            instances,
        } = self;
        // Sorted by record key: the same objects give the same analysis in any order.
        let mut records: Vec<(String, Acc)> = records.into_iter().collect();
        records.sort_by(|a, b| a.0.cmp(&b.0));
        let intervals = intervals(kind, &records);
        let mut joined: Vec<Interner> = qis.iter().map(|_| Interner::default()).collect();
        let mut coarse: Vec<Interner> = qis.iter().map(|_| Interner::default()).collect();
        let mut keys = Vec::with_capacity(records.len());
        let mut coarse_keys = Vec::with_capacity(records.len());
        for (r, (_, acc)) in records.iter().enumerate() {
            let mut key = Vec::with_capacity(qis.len());
            let mut ckey = Vec::with_capacity(qis.len());
            for (i, q) in qis.iter().enumerate() {
                let set: BTreeSet<&str> = if q.derive == Derive::Intervals {
                    BTreeSet::from([intervals[r].as_str()])
                } else if acc.values[i].is_empty() {
                    // No object had the element: absent is a value of its own, "".
                    BTreeSet::from([""])
                } else {
                    acc.values[i]
                        .iter()
                        .map(|id| values[i].strings[*id as usize].as_str())
                        .collect()
                };
                key.push(joined[i].id(&join(set.iter().copied())));
                ckey.push(match q.generalize {
                    Some(g) => {
                        let set: BTreeSet<String> = set.iter().map(|v| coarsen(&g, v)).collect();
                        coarse[i].id(&join(set.iter().map(String::as_str)))
                    }
                    None => key[i],
                });
            }
            keys.push(key);
            coarse_keys.push(ckey);
        }
        Analysis {
            kind,
            instances,
            records_without_id: records.iter().filter(|(_, a)| a.fallback).count() as u64,
            distinct: joined.iter().map(|j| j.strings.len() as u64).collect(),
            qis,
            keys,
            coarse_keys,
            table: joined.into_iter().map(|j| j.strings).collect(),
        }
    }
}

/// A record's `StudyInterval` value, in record order.
fn intervals(kind: RecordKind, records: &[(String, Acc)]) -> Vec<String> {
    let days = |dates: &[NaiveDate]| -> Vec<String> {
        dates
            .windows(2)
            .map(|w| (w[1] - w[0]).num_days().to_string())
            .collect()
    };
    match kind {
        RecordKind::Patient => records
            .iter()
            .map(|(_, a)| {
                let mut dates: Vec<NaiveDate> = a.studies.values().flatten().copied().collect();
                dates.sort();
                days(&dates).join("\\")
            })
            .collect(),
        RecordKind::Study => {
            let mut by_patient: HashMap<&str, Vec<NaiveDate>> = HashMap::new();
            for (_, a) in records {
                by_patient
                    .entry(&a.patient)
                    .or_default()
                    .extend(a.studies.values().flatten());
            }
            for dates in by_patient.values_mut() {
                dates.sort();
            }
            records
                .iter()
                .map(|(_, a)| {
                    let Some(Some(date)) = a.studies.values().next() else {
                        return String::new();
                    };
                    by_patient[a.patient.as_str()]
                        .iter()
                        .rev()
                        .find(|d| *d < date)
                        .map(|prev| (*date - *prev).num_days().to_string())
                        .unwrap_or_default()
                })
                .collect()
        }
    }
}

fn join<'a>(set: impl Iterator<Item = &'a str>) -> String {
    set.collect::<Vec<_>>().join("\\")
}

/// A record value coarsened component by component; what does not read as its VR is
/// dropped, as the `generalize` action drops it.
fn coarsen(g: &crate::actions::generalize::Generalization, value: &str) -> String {
    value
        .split('\\')
        .map(|c| g.text(c).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\\")
}

/// An element's value as compared: components trimmed of spaces (and NUL padding),
/// joined by `\`; bytes (OB, UN) read as Latin-1-ish text; a sequence by its item count.
fn element_text(e: &InMemElement) -> String {
    let trim = |s: &str| s.trim_matches(|c: char| c == ' ' || c == '\0').to_string();
    match e.value() {
        Value::Primitive(p) => match e.vr() {
            VR::OB | VR::UN | VR::OW => trim(&String::from_utf8_lossy(&p.to_bytes())),
            _ => {
                let parts: Vec<String> = p.to_multi_str().iter().map(|s| trim(s)).collect();
                if parts.iter().all(String::is_empty) {
                    String::new()
                } else {
                    parts.join("\\")
                }
            }
        },
        Value::Sequence(s) => format!("{} items", s.items().len()),
        Value::PixelSequence(_) => String::new(),
    }
}

fn year_of(date: &str) -> String {
    match date.get(..4) {
        Some(y) if y.bytes().all(|b| b.is_ascii_digit()) => y.to_string(),
        _ => String::new(),
    }
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.get(..8)?, "%Y%m%d").ok()
}

/// The private data elements of the top level, as `CREATOR:ggggxxee`.
fn private_elements(obj: &InMemDicomObject) -> Vec<String> {
    let creators: HashMap<(u16, u16), String> = obj
        .iter()
        .filter(|e| e.tag().0 % 2 == 1 && (0x0010..=0x00FF).contains(&e.tag().1))
        .map(|e| ((e.tag().0, e.tag().1), element_text(e)))
        .collect();
    obj.iter()
        .map(|e| e.tag())
        .filter(|t| t.0 % 2 == 1 && t.1 >= 0x1000)
        .map(|t| {
            let creator = creators
                .get(&(t.0, t.1 >> 8))
                .map(String::as_str)
                .unwrap_or("");
            format!("{creator}:{:04X}xx{:02X}", t.0, t.1 & 0xFF)
        })
        .collect()
}

/// Records grouped by their quasi-identifier values.
pub struct Analysis {
    kind: RecordKind,
    instances: u64,
    records_without_id: u64,
    qis: Vec<QuasiIdentifier>,
    /// Per record, per quasi-identifier: the number of its value in `table`.
    keys: Vec<Vec<u32>>,
    /// The same with the quasi-identifier generalised (equal where it has no
    /// generalization): numbers of another table, compared only among themselves.
    coarse_keys: Vec<Vec<u32>>,
    distinct: Vec<u64>,
    /// Per quasi-identifier, its distinct record values.
    table: Vec<Vec<String>>,
}

/// The analysis as reported: the figures, then each quasi-identifier's part in them.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// What one record is.
    pub record: RecordKind,
    /// Objects read.
    pub instances: u64,
    /// Records keyed by a finer identifier than asked (no Patient ID, no Study UID).
    pub records_without_id: u64,
    /// The figures over every quasi-identifier.
    #[serde(flatten)]
    pub figures: Figures,
    /// The population size the journalist and marketer risk assume, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub population: Option<u64>,
    /// The population model used with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub population_model: Option<&'static str>,
    /// Those that drive uniqueness first.
    pub quasi_identifiers: Vec<Contribution>,
}

/// One quasi-identifier's part in the figures.
#[derive(Debug, Clone, Serialize)]
pub struct Contribution {
    /// The quasi-identifier's id.
    pub id: String,
    /// Its tag, when it is read from one attribute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Why it is a quasi-identifier.
    pub reason: String,
    /// Distinct values among the records (a count; the values are not reported).
    pub distinct_values: u64,
    /// Records unique with it and not without it.
    pub unique_because: u64,
    /// The figures with it left out.
    pub without: Figures,
    /// The figures with it coarsened instead, when it has a coarsening.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generalized: Option<Generalized>,
}

/// The figures with one quasi-identifier coarsened.
#[derive(Debug, Clone, Serialize)]
pub struct Generalized {
    /// As a `generalize` rule's `to`.
    pub to: String,
    /// The figures after coarsening.
    #[serde(flatten)]
    pub figures: Figures,
}

impl Analysis {
    /// Records analysed.
    pub fn records(&self) -> usize {
        self.keys.len()
    }

    /// Class sizes of every record when the quasi-identifiers are read through `key`.
    fn sizes_per_record<'a>(&'a self, key: impl Fn(usize) -> Vec<u32> + 'a) -> Vec<u64> {
        let mut classes: HashMap<Vec<u32>, u64> = HashMap::new();
        let keys: Vec<Vec<u32>> = (0..self.keys.len()).map(key).collect();
        for k in &keys {
            *classes.entry(k.clone()).or_default() += 1;
        }
        keys.iter().map(|k| classes[k]).collect()
    }

    fn figures_of(&self, per_record: &[u64], population: Option<u64>) -> Figures {
        // Each class of f records appears f times: one size per class.
        let mut sizes: HashMap<u64, u64> = HashMap::new();
        for s in per_record {
            *sizes.entry(*s).or_default() += 1;
        }
        let classes = sizes
            .into_iter()
            .flat_map(|(s, n)| std::iter::repeat_n(s, (n / s) as usize));
        Figures::of(classes, population)
    }

    /// The figures; `population` (the size of the population the records were drawn
    /// from) must be at least the number of records.
    pub fn report(&self, population: Option<u64>) -> Result<Report, String> {
        if let Some(n) = population {
            if n < self.records() as u64 {
                return Err(format!(
                    "the population ({n}) is smaller than the number of records ({})",
                    self.records()
                ));
            }
        }
        let full = self.sizes_per_record(|r| self.keys[r].clone());
        let figures = self.figures_of(&full, population);
        let mut contributions: Vec<(usize, Contribution)> = self
            .qis
            .iter()
            .enumerate()
            .map(|(i, q)| {
                let without = self.sizes_per_record(|r| {
                    let mut k = self.keys[r].clone();
                    k.remove(i);
                    k
                });
                let unique_because = full
                    .iter()
                    .zip(&without)
                    .filter(|(f, w)| **f == 1 && **w > 1)
                    .count() as u64;
                let generalized = q.generalize.map(|g| {
                    let sizes = self.sizes_per_record(|r| {
                        let mut k = self.keys[r].clone();
                        k[i] = self.coarse_keys[r][i];
                        k
                    });
                    Generalized {
                        to: g.spec(),
                        figures: self.figures_of(&sizes, population),
                    }
                });
                (
                    i,
                    Contribution {
                        id: q.id.clone(),
                        tag: q.tag.map(crate::profile::tag::tag_id),
                        reason: q.reason.clone(),
                        distinct_values: self.distinct[i],
                        unique_because,
                        without: self.figures_of(&without, population),
                        generalized,
                    },
                )
            })
            .collect();
        contributions
            .sort_by(|(i, a), (j, b)| b.unique_because.cmp(&a.unique_because).then(i.cmp(j)));
        Ok(Report {
            record: self.kind,
            instances: self.instances,
            records_without_id: self.records_without_id,
            figures,
            population,
            population_model: population.map(|_| POPULATION_MODEL),
            quasi_identifiers: contributions.into_iter().map(|(_, c)| c).collect(),
        })
    }

    /// Per quasi-identifier, in the analysis's order: its distinct record values and how
    /// many records hold each, most frequent first (ties by value). They are the objects'
    /// values: for a caller to show where that is allowed, never for a report.
    pub fn value_counts(&self) -> Vec<Vec<(&str, u64)>> {
        (0..self.qis.len())
            .map(|i| {
                let mut n = vec![0u64; self.table[i].len()];
                for k in &self.keys {
                    n[k[i] as usize] += 1;
                }
                let mut v: Vec<(&str, u64)> =
                    self.table[i].iter().map(String::as_str).zip(n).collect();
                v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                v
            })
            .collect()
    }

    /// The records as a table, one row per record (in a stable order), one column per
    /// quasi-identifier: the values an independent implementation is checked on. They
    /// are the objects' values: keep them in memory, never in a report.
    pub fn table(&self) -> (Vec<String>, Vec<Vec<&str>>) {
        let header = self.qis.iter().map(|q| q.id.clone()).collect();
        let rows = self
            .keys
            .iter()
            .map(|k| {
                k.iter()
                    .enumerate()
                    .map(|(i, id)| self.table[i][*id as usize].as_str())
                    .collect()
            })
            .collect();
        (header, rows)
    }
}
