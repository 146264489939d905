//! Clean (C) for free text: drop the words that identify, keep the rest.
//!
//! A token is dropped when it equals an identifying value of the same object
//! (name parts, IDs, accession number, birth date in common spellings, address
//! parts), or when it is a date, phone number, e-mail address or a run of five
//! or more digits. Only counts per category are recorded, never the text.

use dicom_core::Tag;
use dicom_object::InMemDicomObject;
use regex::Regex;
use serde::Serialize;
use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Why a token was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Name,
    Identifier,
    Date,
    Address,
    Phone,
    Email,
    Number,
}

/// Dropped tokens per category.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CleanCounts(pub std::collections::BTreeMap<Category, usize>);

impl CleanCounts {
    fn add(&mut self, c: Category) {
        *self.0.entry(c).or_default() += 1;
    }

    pub fn merge(&mut self, other: &CleanCounts) {
        for (c, n) in &other.0 {
            *self.0.entry(*c).or_default() += n;
        }
    }

    pub fn total(&self) -> usize {
        self.0.values().sum()
    }
}

/// The identifying words of one object, normalised to lower-case alphanumerics.
#[derive(Debug, Default, Clone)]
pub struct Identifiers(HashMap<String, Category>);

const NAMES: &[Tag] = &[
    Tag(0x0010, 0x0010),
    Tag(0x0010, 0x1001),
    Tag(0x0010, 0x1005),
    Tag(0x0010, 0x1060),
    Tag(0x0010, 0x2297),
    Tag(0x0008, 0x0090),
    Tag(0x0008, 0x1050),
    Tag(0x0008, 0x1060),
    Tag(0x0008, 0x1070),
    Tag(0x0032, 0x1032),
];
const IDS: &[Tag] = &[
    Tag(0x0010, 0x0020),
    Tag(0x0010, 0x1000),
    Tag(0x0008, 0x0050),
    Tag(0x0020, 0x0010),
    Tag(0x0038, 0x0010),
    Tag(0x0010, 0x1090),
    Tag(0x0018, 0x1000),
];
const BIRTH_DATE: Tag = Tag(0x0010, 0x0030);
const ADDRESSES: &[Tag] = &[
    Tag(0x0010, 0x1040),
    Tag(0x0008, 0x0081),
    Tag(0x0008, 0x0080),
    Tag(0x0010, 0x2154),
];

/// The identifying values of an object, collected on the first Clean action: most
/// plans never clean, and collecting normalises every name part and date spelling.
/// Holds copies of only the elements [`Identifiers::collect`] reads.
pub struct LazyIdentifiers {
    source: InMemDicomObject,
    built: OnceCell<Identifiers>,
}

impl LazyIdentifiers {
    pub fn of(obj: &InMemDicomObject) -> LazyIdentifiers {
        let wanted = NAMES
            .iter()
            .chain(IDS)
            .chain(ADDRESSES)
            .chain([&BIRTH_DATE]);
        LazyIdentifiers {
            source: InMemDicomObject::from_element_iter(
                wanted.filter_map(|t| obj.get(*t).cloned()),
            ),
            built: OnceCell::new(),
        }
    }

    pub fn get(&self) -> &Identifiers {
        self.built
            .get_or_init(|| Identifiers::collect(&self.source))
    }
}

fn normalise(token: &str) -> String {
    token
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

impl Identifiers {
    /// Collects the identifying values found at the top level of an object.
    pub fn collect(obj: &InMemDicomObject) -> Identifiers {
        let mut ids = Identifiers::default();
        let mut add = |tags: &[Tag], cat: Category| {
            for &t in tags {
                let Some(text) = obj.get(t).and_then(|e| e.to_str().ok()) else {
                    continue;
                };
                ids.insert(&text, cat);
            }
        };
        add(NAMES, Category::Name);
        add(IDS, Category::Identifier);
        add(ADDRESSES, Category::Address);
        if let Some(birth) = obj.get(BIRTH_DATE).and_then(|e| e.to_str().ok()) {
            ids.insert_date(birth.trim());
        }
        ids
    }

    fn insert(&mut self, text: &str, cat: Category) {
        let whole = normalise(text);
        if whole.len() >= 2 {
            self.0.insert(whole, cat);
        }
        for part in
            text.split(|c: char| c == '^' || c == '\\' || c == '=' || c.is_whitespace() || c == ',')
        {
            let n = normalise(part);
            // Single letters (initials) and very short parts would drop ordinary words.
            if n.chars().count() >= 2
                && !matches!(
                    n.as_str(),
                    "dr" | "mr" | "mrs" | "ms" | "md" | "the" | "of" | "and"
                )
            {
                self.0.entry(n).or_insert(cat);
            }
        }
    }

    /// A birth date in the spellings people type: 19600412, 1960-04-12, 12/04/1960, 04/12/1960, 12.04.1960.
    fn insert_date(&mut self, da: &str) {
        if da.len() != 8 || !da.bytes().all(|b| b.is_ascii_digit()) {
            return;
        }
        let (y, m, d) = (&da[..4], &da[4..6], &da[6..8]);
        for s in [
            da.to_string(),
            format!("{y}-{m}-{d}"),
            format!("{d}/{m}/{y}"),
            format!("{m}/{d}/{y}"),
            format!("{d}.{m}.{y}"),
            format!("{d}{m}{y}"),
            format!("{m}{d}{y}"),
        ] {
            self.0.insert(normalise(&s), Category::Date);
        }
    }

    /// The category of the identifying value the token equals once normalised
    /// (lower-case alphanumerics), if any.
    pub fn category_of(&self, token: &str) -> Option<Category> {
        let n = normalise(token);
        if n.is_empty() {
            return None;
        }
        self.0.get(&n).copied()
    }

    /// Like [`category_of`](Self::category_of), also accepting what text burned into an
    /// image and read back by OCR looks like: a truncated value (`PATIENTFI..` for
    /// `PATIENTFIVE`, at least 4 characters) or one misread character (at least 5).
    pub fn approx_category_of(&self, token: &str) -> Option<Category> {
        if let Some(c) = self.category_of(token) {
            return Some(c);
        }
        let n: Vec<char> = normalise(token).chars().collect();
        if n.len() < 4 {
            return None;
        }
        let truncated = token.trim_end().ends_with("..") || token.trim_end().ends_with('…');
        // The smallest category, so that the answer does not depend on the map's order.
        self.0
            .iter()
            .filter_map(|(v, c)| {
                let v: Vec<char> = v.chars().collect();
                let prefix = (truncated || n.len() >= 5) && v.len() > n.len() && v.starts_with(&n);
                let one_off = n.len() >= 5 && v.len() == n.len() && {
                    n.iter().zip(&v).filter(|(a, b)| a != b).count() == 1
                };
                (prefix || one_off).then_some(*c)
            })
            .min()
    }
}

impl Identifiers {
    /// Where identifying values of at least 4 characters occur inside a text read from an
    /// image, ignoring case, spaces and punctuation (OCR often glues words: a name and an
    /// ID read as one token): ranges of `text`'s characters, with their category.
    pub fn spans_in(&self, text: &str) -> Vec<(std::ops::Range<usize>, Category)> {
        let mut folded = String::new();
        let mut at = Vec::new();
        for (i, c) in text.chars().enumerate() {
            if c.is_alphanumeric() {
                for l in c.to_lowercase() {
                    folded.push(l);
                    at.push(i);
                }
            }
        }
        let mut out = Vec::new();
        for (v, &c) in &self.0 {
            if v.chars().count() < 4 {
                continue;
            }
            for (start, _) in folded.match_indices(v.as_str()) {
                let first = folded[..start].chars().count();
                let last = first + v.chars().count() - 1;
                out.push((at[first]..at[last] + 1, c));
            }
        }
        out.sort_by_key(|(r, c)| (r.start, r.end, *c));
        out
    }
}

impl Category {
    /// The category as records name it.
    pub fn label(self) -> &'static str {
        match self {
            Category::Name => "name",
            Category::Identifier => "identifier",
            Category::Date => "date",
            Category::Address => "address",
            Category::Phone => "phone",
            Category::Email => "email",
            Category::Number => "number",
        }
    }
}

/// The category of the first identifying pattern (e-mail, date, phone number, run of five
/// or more digits) found in the text, if any: the patterns [`clean_text`] drops.
pub fn pattern_category(text: &str) -> Option<Category> {
    patterns()
        .iter()
        .find(|(re, _)| re.is_match(text))
        .map(|(_, c)| *c)
}

/// Where the identifying patterns of [`pattern_category`] match in the text (byte ranges).
pub fn pattern_spans(text: &str) -> Vec<(std::ops::Range<usize>, Category)> {
    patterns()
        .iter()
        .flat_map(|(re, c)| re.find_iter(text).map(move |m| (m.range(), *c)))
        .collect()
}

fn patterns() -> &'static [(Regex, Category)] {
    static P: OnceLock<Vec<(Regex, Category)>> = OnceLock::new();
    P.get_or_init(|| {
        let month = "(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\\.?";
        let r = |s: &str| Regex::new(s).expect("valid pattern");
        vec![
            (r(r"(?i)[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}"), Category::Email),
            (
                r(&format!(
                    r"(?i)\b\d{{4}}[-/.]\d{{1,2}}[-/.]\d{{1,2}}\b|\b\d{{1,2}}[-/.]\d{{1,2}}[-/.]\d{{2,4}}\b|\b\d{{1,2}}\s+{month}\s+\d{{2,4}}\b|\b{month}\s+\d{{1,2}},?\s+\d{{2,4}}\b"
                )),
                Category::Date,
            ),
            (
                r(r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?)?\b\d{2,4}[\s.-]\d{3,4}[\s.-]\d{3,4}\b"),
                Category::Phone,
            ),
            (r(r"\d{5,}"), Category::Number),
        ]
    })
}

/// Removes identifying tokens from a free-text value and counts what went.
pub fn clean_text(text: &str, ids: &Identifiers, counts: &mut CleanCounts) -> String {
    let mut s = text.to_string();
    for (re, cat) in patterns() {
        if re.is_match(&s) {
            let n = re.find_iter(&s).count();
            for _ in 0..n {
                counts.add(*cat);
            }
            s = re.replace_all(&s, " ").into_owned();
        }
    }
    let mut kept: Vec<&str> = Vec::new();
    for token in s.split_whitespace() {
        let core = token.trim_matches(|c: char| !c.is_alphanumeric());
        match ids.category_of(core) {
            Some(cat) => counts.add(cat),
            None => kept.push(token),
        }
    }
    kept.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::{DataElement, VR};

    fn object() -> InMemDicomObject {
        InMemDicomObject::from_element_iter([
            DataElement::new(Tag(0x0010, 0x0010), VR::PN, "Doe^Johnathan"),
            DataElement::new(Tag(0x0010, 0x0020), VR::LO, "MRN778899"),
            DataElement::new(Tag(0x0010, 0x0030), VR::DA, "19600412"),
            DataElement::new(Tag(0x0008, 0x0050), VR::SH, "ACC42"),
        ])
    }

    #[test]
    fn drops_identifying_tokens_and_patterns() {
        let ids = Identifiers::collect(&object());
        let mut counts = CleanCounts::default();
        let out = clean_text(
            "CT head for JOHNATHAN doe (MRN778899) acc ACC42 born 12/04/1960 call 555-123-4567 j.doe@example.org 1234567",
            &ids,
            &mut counts,
        );
        for bad in [
            "JOHNATHAN",
            "doe",
            "MRN778899",
            "ACC42",
            "1960",
            "555",
            "example",
            "1234567",
        ] {
            assert!(!out.contains(bad), "{bad} survived in {out}");
        }
        assert!(out.starts_with("CT head for"), "{out}");
        assert_eq!(counts.0[&Category::Name], 2);
        assert_eq!(counts.0[&Category::Email], 1);
        assert!(counts.total() >= 7);
    }

    #[test]
    fn leaves_clinical_text_alone() {
        let ids = Identifiers::collect(&object());
        let mut counts = CleanCounts::default();
        assert_eq!(
            clean_text("T1 AX POST GAD 3mm", &ids, &mut counts),
            "T1 AX POST GAD 3mm"
        );
        assert_eq!(counts.total(), 0);
    }
}
