//! The identifying values of an original object, gathered once before the walk.
//!
//! Every person name (any element with VR PN, at any depth) gives its name parts; the
//! attributes of `data/identifying.csv` give IDs, the birth date, addresses, phone
//! numbers, institution and station names. Values are kept normalised (lower-case letters
//! and digits), as the patterns the [`Matcher`](super::Matcher) looks for: this set holds
//! originals and is never written anywhere but the linkage (a batch journal).

use crate::decide::{Action, Decider, Facts, PrivateKind, Source};
use crate::tag::parse_tag;
use dicom_core::header::Header;
use dicom_core::value::Value;
use dicom_core::{Tag, VR};
use dicom_object::InMemDicomObject;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

/// What kind of identifying value a pattern comes from; findings name it, never the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Name,
    Id,
    DateOfBirth,
    Address,
    Phone,
    Institution,
    Station,
}

impl Category {
    /// The category as reports print it.
    pub fn label(self) -> &'static str {
        match self {
            Category::Name => "name",
            Category::Id => "id",
            Category::DateOfBirth => "date of birth",
            Category::Address => "address",
            Category::Phone => "phone",
            Category::Institution => "institution",
            Category::Station => "station",
        }
    }
}

/// Where a pattern is looked for in a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Whole words (one or several), at word boundaries: names, addresses, institutions.
    Words,
    /// Anywhere in the value's letters and digits run together: IDs of five characters
    /// and more, birth dates in any spelling, phone numbers (`MRN-5154-4914` holds
    /// `51544914`, `12/04/1960` holds `12041960`).
    Squeezed,
}

/// The identifying values of one object (or of one patient over several objects).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identifying {
    /// Normalised pattern → where to look for it and what it is. Ordered, so that the
    /// automaton and the digest do not depend on insertion order.
    patterns: BTreeMap<String, (Kind, Category)>,
}

const TABLE_CSV: &str = include_str!("../../data/identifying.csv");

#[derive(Deserialize)]
struct Row {
    tag: String,
    #[allow(dead_code)] // for people reading the table
    keyword: String,
    category: Category,
    #[allow(dead_code)] // for people reading the table
    reason: String,
}

fn table() -> &'static HashMap<Tag, Category> {
    static TABLE: OnceLock<HashMap<Tag, Category>> = OnceLock::new();
    TABLE.get_or_init(|| {
        csv::Reader::from_reader(TABLE_CSV.as_bytes())
            .deserialize::<Row>()
            .map(|r| {
                let r = r.expect("data/identifying.csv is valid");
                let tag = parse_tag(&r.tag).expect("data/identifying.csv has valid tags");
                (tag, r.category)
            })
            .collect()
    })
}

/// Titles and particles that are parts of names but identify no one.
const NOT_NAME_PARTS: &[&str] = &[
    "dr", "mr", "mrs", "ms", "md", "phd", "jr", "sr", "ii", "iii", "iv", "the", "of", "and", "von",
    "van", "der", "de", "la", "le", "du", "del", "di", "da",
];

/// Values that stand for no one: an object de-identified before, or a test object.
/// dcmask's own dummies are among them, so the guard never chases its own output.
const PLACEHOLDERS: &[&str] = &[
    "anonymized",
    "anonymised",
    "anonymous",
    "anon",
    "unknown",
    "none",
    "null",
    "nil",
    "na",
    "removed",
    "deidentified",
    "redacted",
    "noname",
    "patient",
    "xxx",
    "xxxx",
    "99dcmask",
];

/// Lower-case letters and digits of each word of `text` (words split at anything else).
pub(crate) fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().flat_map(char::to_lowercase).collect())
}

impl Identifying {
    /// Collects the identifying values of an original object at every depth. Attributes
    /// that the plan keeps by its table or an option (Retain Institution Identity keeps
    /// Institution Name, say) are not identifying under that plan and are left out; a
    /// custom `keep` keeps the value in its own element only, so it is collected.
    pub fn collect(obj: &InMemDicomObject, decider: &Decider, facts: &Facts) -> Identifying {
        let mut ids = Identifying::default();
        // An explicit stack instead of recursion: nesting depth is the input's to choose.
        let mut stack: Vec<&InMemDicomObject> = vec![obj];
        while let Some(ds) = stack.pop() {
            for elem in ds {
                let (tag, vr) = (elem.tag(), elem.vr());
                if let Value::Sequence(seq) = elem.value() {
                    stack.extend(seq.items());
                    continue;
                }
                let category = match (vr, table().get(&tag)) {
                    (_, Some(c)) => *c,
                    (VR::PN, None) => Category::Name,
                    _ => continue,
                };
                if tag.0 % 2 == 0 && kept_by_profile(decider, tag, vr, facts) {
                    continue;
                }
                let Ok(values) = elem.value().to_multi_str() else {
                    continue;
                };
                for v in values.iter() {
                    ids.add(category, v);
                }
            }
        }
        ids
    }

    /// Adds the identifying values of `other` (another object of the same patient).
    pub fn merge(&mut self, other: &Identifying) {
        for (p, (kind, cat)) in &other.patterns {
            self.insert(p.clone(), *kind, *cat);
        }
    }

    /// Whether nothing identifying was found.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Number of patterns looked for.
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    /// Whether `other` holds no pattern this set lacks.
    pub fn covers(&self, other: &Identifying) -> bool {
        other.patterns.keys().all(|p| self.patterns.contains_key(p))
    }

    pub(crate) fn patterns(&self) -> impl Iterator<Item = (&str, Kind, Category)> {
        self.patterns.iter().map(|(p, (k, c))| (p.as_str(), *k, *c))
    }

    fn insert(&mut self, pattern: String, kind: Kind, category: Category) {
        self.patterns
            .entry(pattern)
            .and_modify(|(k, c)| {
                // The same text as a name and as an ID: keep one answer, whatever the order.
                if (category, kind == Kind::Words) < (*c, *k == Kind::Words) {
                    *c = category;
                    *k = kind;
                }
            })
            .or_insert((kind, category));
    }

    fn add(&mut self, category: Category, value: &str) {
        let value = value.trim_matches(|c: char| c == '\0' || c.is_whitespace());
        let squeezed: String = words(value).collect();
        if squeezed.is_empty() || PLACEHOLDERS.contains(&squeezed.as_str()) {
            return;
        }
        match category {
            Category::Name => {
                for w in words(value) {
                    if w.chars().count() >= 2
                        && !NOT_NAME_PARTS.contains(&w.as_str())
                        && !PLACEHOLDERS.contains(&w.as_str())
                    {
                        self.insert(w, Kind::Words, category);
                    }
                }
            }
            Category::Id => match squeezed.chars().count() {
                n if n >= 5 => self.insert(squeezed, Kind::Squeezed, category),
                // Short IDs only as whole words, and only with a digit: Study ID "1" or
                // "CT" would otherwise match everywhere.
                3 | 4 if squeezed.chars().any(|c| c.is_ascii_digit()) => {
                    self.insert(squeezed, Kind::Words, category)
                }
                _ => {}
            },
            Category::DateOfBirth => {
                for spelling in date_spellings(value) {
                    self.insert(spelling, Kind::Squeezed, category);
                }
            }
            Category::Phone => {
                let digits: String = value.chars().filter(char::is_ascii_digit).collect();
                if digits.len() >= 7 {
                    self.insert(digits, Kind::Squeezed, category);
                }
            }
            Category::Address => {
                self.phrase(value, category);
                for part in value.split(['^', ',', '\\', '\n', '\r', ';']) {
                    self.phrase(part, category);
                }
            }
            Category::Institution | Category::Station => self.phrase(value, category),
        }
    }

    /// A value as a sequence of whole words, when it has at least four letters or digits.
    fn phrase(&mut self, value: &str, category: Category) {
        let words: Vec<String> = words(value).collect();
        let letters: usize = words.iter().map(|w| w.chars().count()).sum();
        let joined = words.join(" ");
        if letters >= 4 && !PLACEHOLDERS.contains(&joined.as_str()) {
            self.insert(joined, Kind::Words, category);
        }
    }
}

/// Whether the plan keeps this attribute by Table E.1-1 or an option, so that its value
/// is not identifying under the plan.
fn kept_by_profile(decider: &Decider, tag: Tag, vr: VR, facts: &Facts) -> bool {
    // Whether the profile keeps it does not depend on the attribute's neighbours.
    let d = decider.decide(
        tag,
        vr,
        PrivateKind::Standard,
        facts,
        &crate::presence::Siblings::default(),
    );
    d.action == Action::Keep && matches!(d.rule.source, Source::Table | Source::Option)
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// A DA birth date as people write it, squeezed: 19600412, 12041960 (12/04/1960,
/// 12.04.1960), 04121960 (04/12/1960), the same without leading zeros, and with the
/// month's name (12 Apr 1960, April 12, 1960).
fn date_spellings(da: &str) -> Vec<String> {
    let da = da.trim();
    if da.len() != 8 || !da.bytes().all(|b| b.is_ascii_digit()) {
        return Vec::new();
    }
    let (y, m, d) = (&da[..4], &da[4..6], &da[6..8]);
    let Ok(month) = m.parse::<usize>() else {
        return Vec::new();
    };
    let (m1, d1) = (m.trim_start_matches('0'), d.trim_start_matches('0'));
    let mut out = vec![
        da.to_string(),
        format!("{d}{m}{y}"),
        format!("{m}{d}{y}"),
        format!("{d1}{m1}{y}"),
        format!("{m1}{d1}{y}"),
    ];
    if let Some(name) = month.checked_sub(1).and_then(|i| MONTHS.get(i)) {
        for mon in [&name[..3], name] {
            for day in [d, d1] {
                out.push(format!("{day}{mon}{y}"));
                out.push(format!("{mon}{day}{y}"));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Plan, ProfileId};
    use crate::ProfileOption;
    use dicom_core::value::DataSetSequence;
    use dicom_core::DataElement;
    use dicom_dictionary_std::tags;

    fn collect(obj: &InMemDicomObject, plan: &Plan) -> Identifying {
        Identifying::collect(obj, &Decider::new(plan), &Facts::default())
    }

    fn has(ids: &Identifying, p: &str) -> bool {
        ids.patterns.contains_key(p)
    }

    #[test]
    fn names_ids_dates_and_places_at_every_depth() {
        let inner = InMemDicomObject::from_element_iter([DataElement::new(
            tags::PERFORMING_PHYSICIAN_NAME,
            VR::PN,
            "Abernathy-Jones^Mary",
        )]);
        let obj = InMemDicomObject::from_element_iter([
            DataElement::new(tags::PATIENT_NAME, VR::PN, "Doe^John^^Dr"),
            DataElement::new(tags::PATIENT_ID, VR::LO, "MRN-5154-4914"),
            DataElement::new(tags::STUDY_ID, VR::SH, "1"),
            DataElement::new(tags::ACCESSION_NUMBER, VR::SH, "A12"),
            DataElement::new(tags::PATIENT_BIRTH_DATE, VR::DA, "19600412"),
            DataElement::new(tags::INSTITUTION_NAME, VR::LO, "St. Elsewhere General"),
            DataElement::new(tags::STATION_NAME, VR::SH, "CT"),
            DataElement::new(
                tags::PATIENT_ADDRESS,
                VR::LO,
                "12 Elm Road^Springfield^IL^62704",
            ),
            DataElement::new(
                tags::PROCEDURE_CODE_SEQUENCE,
                VR::SQ,
                DataSetSequence::from(vec![inner]),
            ),
        ]);
        let ids = collect(&obj, &Plan::builtin(ProfileId::Basic));
        for p in [
            "doe",
            "john",
            "mrn51544914",
            "a12",
            "19600412",
            "12041960",
            "12apr1960",
            "april121960",
            "st elsewhere general",
            "12 elm road",
            "springfield",
            "62704",
            "abernathy",
            "jones",
            "mary",
        ] {
            assert!(has(&ids, p), "{p} missing");
        }
        // Titles, one-character and placeholder parts, Study ID "1" and a two-letter
        // station name are not patterns: they would match ordinary text.
        for p in ["dr", "1", "ct", "il"] {
            assert!(!has(&ids, p), "{p} should not be a pattern");
        }
    }

    #[test]
    fn retained_attributes_are_not_identifying_under_their_option() {
        let obj = InMemDicomObject::from_element_iter([DataElement::new(
            tags::INSTITUTION_NAME,
            VR::LO,
            "Springfield General",
        )]);
        assert!(has(
            &collect(&obj, &Plan::builtin(ProfileId::Basic)),
            "springfield general"
        ));
        let mut plan = Plan::builtin(ProfileId::Basic);
        plan.options = vec![ProfileOption::RetainInstitutionIdentity];
        assert!(collect(&obj, &plan).is_empty());
    }

    #[test]
    fn placeholders_identify_no_one() {
        let obj = InMemDicomObject::from_element_iter([
            DataElement::new(tags::PATIENT_NAME, VR::PN, "ANONYMIZED"),
            DataElement::new(tags::PATIENT_ID, VR::LO, "Anonymous"),
        ]);
        assert!(collect(&obj, &Plan::builtin(ProfileId::Basic)).is_empty());
    }

    #[test]
    fn merge_and_cover() {
        let a = InMemDicomObject::from_element_iter([DataElement::new(
            tags::PATIENT_NAME,
            VR::PN,
            "Doe^John",
        )]);
        let b = InMemDicomObject::from_element_iter([DataElement::new(
            tags::OTHER_PATIENT_NAMES,
            VR::PN,
            "Roe^John",
        )]);
        let plan = Plan::builtin(ProfileId::Basic);
        let (mut x, y) = (collect(&a, &plan), collect(&b, &plan));
        assert!(!x.covers(&y));
        x.merge(&y);
        assert!(x.covers(&y) && has(&x, "roe") && has(&x, "doe"));
    }
}
