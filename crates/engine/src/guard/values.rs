//! The identifying values of an original object, gathered once before the walk.
//!
//! Every person name (any element with VR PN, at any depth) gives its name parts; the
//! attributes of `data/identifying.csv` give IDs, the birth date, addresses, phone
//! numbers, institution and station names. Values are kept normalised (lower-case letters
//! and digits), as the patterns the [`Matcher`](super::Matcher) looks for: this set holds
//! originals and is never written anywhere but the linkage (a batch journal).

use crate::decide::Decider;
use crate::profile::tag::parse_tag;
use crate::profile::vocab::Category;
use dicom_core::header::Header;
use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{Tag, VR};
use dicom_object::InMemDicomObject;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::OnceLock;

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
///
/// The patterns' text lives in one buffer: a header's few dozen patterns (thirteen
/// spellings of one birth date among them) are collected for every file of a batch, and
/// one allocation per pattern cost more than finding them.
#[derive(Debug, Clone, Default)]
pub struct Identifying {
    /// Every pattern's normalised text, one after the other.
    text: String,
    /// Each pattern's place in `text`, where to look for it and what it is; sorted by
    /// pattern and without duplicates (see [`Identifying::settle`]), so that matching and
    /// digests do not depend on the order values were found in.
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone, Copy)]
struct Pattern {
    /// The first eight bytes, big-endian and zero-padded: most comparisons of a sort end
    /// there, without reading the text (patterns hold no zero byte).
    head: u64,
    start: u32,
    len: u32,
    kind: Kind,
    category: Category,
}

impl Pattern {
    fn of(self, text: &str) -> &str {
        &text[self.range()]
    }

    /// As bytes, for sorting: same order as the text, without the char-boundary checks.
    fn bytes(self, text: &str) -> &[u8] {
        &text.as_bytes()[self.range()]
    }

    /// The order of two patterns of two sets (`self`'s text in `mine`), as
    /// [`Identifying::settle`] sorts them: the heads decide most comparisons.
    fn order(&self, mine: &str, other: &Pattern, theirs: &str) -> Ordering {
        self.head
            .cmp(&other.head)
            .then_with(|| self.bytes(mine).cmp(other.bytes(theirs)))
    }

    fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.start as usize + self.len as usize
    }
}

impl PartialEq for Identifying {
    fn eq(&self, other: &Identifying) -> bool {
        self.patterns().eq(other.patterns())
    }
}

impl Eq for Identifying {}

/// As a list of `[pattern, kind, category]`: what a batch digests to name the set.
impl Serialize for Identifying {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.patterns())
    }
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

/// The table, sorted by tag, and a 256-bit filter of its tags: it is looked up for every
/// element of every object, and most elements are not in it.
struct Table {
    rows: Vec<(Tag, Category)>,
    filter: [u64; 4],
}

/// A tag's bit in [`Table::filter`].
fn filter_bit(tag: Tag) -> (usize, u64) {
    let h = u32::from(tag.0)
        .wrapping_mul(31)
        .wrapping_add(u32::from(tag.1));
    let h = ((h ^ (h >> 8)) & 255) as usize;
    (h / 64, 1 << (h % 64))
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut rows: Vec<(Tag, Category)> = csv::Reader::from_reader(TABLE_CSV.as_bytes())
            .deserialize::<Row>()
            .map(|r| {
                let r = r.expect("data/identifying.csv is valid");
                let tag = parse_tag(&r.tag).expect("data/identifying.csv has valid tags");
                (tag, r.category)
            })
            .collect();
        rows.sort_unstable();
        let mut filter = [0; 4];
        for (tag, _) in &rows {
            let (word, bit) = filter_bit(*tag);
            filter[word] |= bit;
        }
        Table { rows, filter }
    })
}

fn category_of(tag: Tag) -> Option<Category> {
    let t = table();
    let (word, bit) = filter_bit(tag);
    if t.filter[word] & bit == 0 {
        return None;
    }
    t.rows
        .binary_search_by_key(&tag, |(t, _)| *t)
        .ok()
        .map(|i| t.rows[i].1)
}

/// Manufacturer and Manufacturer's Model Name: what the device is, never who the patient
/// is (see [`Identifying::forget_makers`]).
const MAKERS: [Tag; 2] = [Tag(0x0008, 0x0070), Tag(0x0008, 0x1090)];

/// Titles and particles that are parts of names but identify no one (alphabetical, for
/// people reading it).
const NOT_NAME_PARTS: &[&str] = &[
    "and", "da", "de", "del", "der", "di", "dr", "du", "ii", "iii", "iv", "jr", "la", "le", "md",
    "mr", "mrs", "ms", "of", "phd", "sr", "the", "van", "von",
];

/// Values that stand for no one: an object de-identified before, or a test object.
/// dcmask's own dummies are among them, so the guard never chases its own output.
const PLACEHOLDERS: &[&str] = &[
    "99dcmask",
    "anon",
    "anonymised",
    "anonymized",
    "anonymous",
    "deidentified",
    "na",
    "nil",
    "noname",
    "none",
    "null",
    "patient",
    "redacted",
    "removed",
    "unknown",
    "xxx",
    "xxxx",
];

/// Whether `word` is one of `list`. Every name part of every object is looked up: a
/// scan comparing lengths first costs less than a binary search's string comparisons.
fn is_in(list: &[&str], word: &str) -> bool {
    list.iter()
        .any(|w| w.len() == word.len() && w.as_bytes() == word.as_bytes())
}

/// Appends the lower-case letters and digits of `text` to `out`, every run of anything
/// else as one space (none at either end): the form patterns and values are compared in.
/// Most DICOM text is ASCII, which takes the fast path.
pub(crate) fn normalise_into(text: &str, out: &mut String) {
    let start = out.len();
    // A separator is written only once a letter or digit follows it.
    let mut gap = false;
    if text.is_ascii() {
        out.reserve(text.len());
        for b in text.bytes() {
            if b.is_ascii_alphanumeric() {
                if gap {
                    out.push(' ');
                    gap = false;
                }
                out.push(b.to_ascii_lowercase() as char);
            } else {
                gap = out.len() > start;
            }
        }
    } else {
        for c in text.chars() {
            if c.is_alphanumeric() {
                if gap {
                    out.push(' ');
                    gap = false;
                }
                out.extend(c.to_lowercase());
            } else {
                gap = out.len() > start;
            }
        }
    }
}

/// Appends `text` normalised to `out`, one space after what `out` holds when it adds
/// anything; returns where the addition starts.
pub(crate) fn append_normalised(text: &str, out: &mut String) -> usize {
    let joined = !out.is_empty();
    if joined {
        out.push(' ');
    }
    let start = out.len();
    normalise_into(text, out);
    if joined && out.len() == start {
        out.pop();
    }
    start
}

impl Identifying {
    /// Collects the identifying values of an original object at every depth. Attributes
    /// that the plan keeps by its table or an option (Retain Institution Identity keeps
    /// Institution Name, say) are not identifying under that plan and are left out; a
    /// custom `keep` keeps the value in its own element only, so it is collected.
    pub fn collect(obj: &InMemDicomObject, decider: &Decider) -> Identifying {
        // A header's usual amount, so that the buffers rarely grow.
        let mut ids = Identifying {
            text: String::with_capacity(512),
            patterns: Vec::with_capacity(64),
        };
        let mut scratch = String::with_capacity(64);
        // The normalised makers and models, one per line.
        let mut makers = String::with_capacity(64);
        // An explicit stack instead of recursion: nesting depth is the input's to choose.
        let mut stack: Vec<&InMemDicomObject> = vec![obj];
        while let Some(ds) = stack.pop() {
            for elem in ds {
                let (tag, vr) = (elem.tag(), elem.vr());
                if let Value::Sequence(seq) = elem.value() {
                    stack.extend(seq.items());
                    continue;
                }
                if MAKERS.contains(&tag) {
                    if let Ok(v) = elem.value().to_str() {
                        normalise_into(&v, &mut makers);
                        makers.push('\n');
                    }
                    continue;
                }
                let category = match (vr, category_of(tag)) {
                    (_, Some(c)) => c,
                    (VR::PN, None) => Category::Name,
                    _ => continue,
                };
                if tag.0 % 2 == 0 && decider.table_keeps(tag, vr) {
                    continue;
                }
                // Text values as they are: `to_multi_str` would copy each of them.
                match elem.value() {
                    Value::Primitive(PrimitiveValue::Str(v)) => ids.add(category, v, &mut scratch),
                    Value::Primitive(PrimitiveValue::Strs(vs)) => {
                        for v in vs {
                            ids.add(category, v, &mut scratch);
                        }
                    }
                    other => {
                        for v in other.to_multi_str().iter().flat_map(|vs| vs.iter()) {
                            ids.add(category, v, &mut scratch);
                        }
                    }
                }
            }
        }
        ids.forget_makers(&makers);
        ids.settle();
        ids
    }

    /// A site or station named like the device's maker or model (`TOSHIBA` beside
    /// Manufacturer `TOSHIBA_MEC`, test objects do it) names the maker, not where the
    /// patient was: cleaning it out of Manufacturer would only damage the data.
    fn forget_makers(&mut self, makers: &str) {
        if makers.is_empty() {
            return;
        }
        let text = &self.text;
        // A site whose every word is a word of one maker's name.
        self.patterns.retain(|e| {
            !matches!(e.category, Category::Institution | Category::Station)
                || !makers
                    .lines()
                    .any(|m| e.of(text).split(' ').all(|w| m.split(' ').any(|x| x == w)))
        });
    }

    /// Sorts the patterns and keeps one of each: for the same text found as a name and as
    /// an ID, one answer whatever the order they came in.
    fn settle(&mut self) {
        let text = &self.text;
        let same = |a: &Pattern, b: &Pattern| a.head == b.head && a.bytes(text) == b.bytes(text);
        self.patterns.sort_unstable_by(|a, b| {
            a.head
                .cmp(&b.head)
                .then_with(|| a.bytes(text).cmp(b.bytes(text)))
                .then_with(|| rank(a.kind, a.category).cmp(&rank(b.kind, b.category)))
        });
        self.patterns.dedup_by(|later, first| same(later, first));
    }

    /// Adds the identifying values of `other` (another object of the same patient). Both
    /// sets are sorted: one pass merges them, keeping for a pattern found in both the
    /// entry [`Identifying::settle`] would keep.
    pub fn merge(&mut self, other: &Identifying) {
        let mine = std::mem::take(self);
        *self = Identifying::merged(mine.patterns(), other.patterns());
    }

    /// One set of two sorted, duplicate-free lists of patterns (see [`Identifying::merge`]).
    fn merged<'x>(
        mine: impl Iterator<Item = (&'x str, Kind, Category)>,
        theirs: impl Iterator<Item = (&'x str, Kind, Category)>,
    ) -> Identifying {
        let mut out = Identifying::default();
        let (mut mine, mut theirs) = (mine.peekable(), theirs.peekable());
        loop {
            let next = match (mine.peek(), theirs.peek()) {
                (Some(a), Some(b)) => match a.0.cmp(b.0) {
                    Ordering::Less => mine.next(),
                    Ordering::Greater => theirs.next(),
                    Ordering::Equal => {
                        let (a, b) = (mine.next(), theirs.next());
                        let (a, b) = (a.expect("peeked"), b.expect("peeked"));
                        Some(if rank(b.1, b.2) < rank(a.1, a.2) {
                            b
                        } else {
                            a
                        })
                    }
                },
                (Some(_), None) => mine.next(),
                (None, Some(_)) => theirs.next(),
                (None, None) => break,
            };
            let (p, k, c) = next.expect("one side has more");
            out.insert(p, k, c);
        }
        out
    }

    /// These values with those of `related` (the same patient's other files), borrowed
    /// as they are when `related` adds nothing.
    pub fn with<'a>(&'a self, related: Option<&Identifying>) -> std::borrow::Cow<'a, Identifying> {
        match related {
            Some(r) if !self.covers(r) => {
                let mut all = self.clone();
                all.merge(r);
                std::borrow::Cow::Owned(all)
            }
            _ => std::borrow::Cow::Borrowed(self),
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
        other.patterns().all(|(p, _, _)| self.has(p))
    }

    pub(crate) fn patterns(&self) -> impl Iterator<Item = (&str, Kind, Category)> {
        self.patterns
            .iter()
            .map(|e| (e.of(&self.text), e.kind, e.category))
    }

    fn has(&self, pattern: &str) -> bool {
        self.patterns
            .binary_search_by(|e| e.bytes(&self.text).cmp(pattern.as_bytes()))
            .is_ok()
    }

    /// Adds a pattern; [`Identifying::settle`] sorts them once all are in.
    fn insert(&mut self, pattern: &str, kind: Kind, category: Category) {
        self.insert_parts(std::iter::once(pattern), kind, category);
    }

    /// Adds the pattern that `parts` make together, written straight into the buffer.
    fn insert_parts<'p>(
        &mut self,
        parts: impl Iterator<Item = &'p str>,
        kind: Kind,
        category: Category,
    ) {
        let start = self.text.len();
        parts.for_each(|p| self.text.push_str(p));
        let mut head = [0u8; 8];
        let written = &self.text.as_bytes()[start..];
        let n = written.len().min(8);
        head[..n].copy_from_slice(&written[..n]);
        self.patterns.push(Pattern {
            head: u64::from_be_bytes(head),
            start: start as u32,
            len: (self.text.len() - start) as u32,
            kind,
            category,
        });
    }

    /// Adds the patterns of one value; `scratch` is a buffer reused across values.
    fn add(&mut self, category: Category, value: &str, scratch: &mut String) {
        scratch.clear();
        normalise_into(value, scratch);
        let spaced = scratch.as_str();
        if spaced.is_empty() || is_in(PLACEHOLDERS, spaced) {
            return;
        }
        match category {
            Category::Name => {
                for w in spaced.split(' ') {
                    if w.chars().nth(1).is_some()
                        && !is_in(NOT_NAME_PARTS, w)
                        && !is_in(PLACEHOLDERS, w)
                    {
                        self.insert(w, Kind::Words, category);
                    }
                }
            }
            Category::Id => {
                let chars = spaced.chars().filter(|c| *c != ' ').count();
                let squeezed = || spaced.split(' ');
                let placeholder = || is_in(PLACEHOLDERS, &squeezed().collect::<String>());
                match chars {
                    n if n >= 5 && (!spaced.contains(' ') || !placeholder()) => {
                        self.insert_parts(squeezed(), Kind::Squeezed, category)
                    }
                    // Short IDs only as whole words, and only with a digit: Study ID "1"
                    // or "CT" would otherwise match everywhere.
                    3 | 4 if spaced.bytes().any(|b| b.is_ascii_digit()) => {
                        self.insert_parts(squeezed(), Kind::Words, category)
                    }
                    _ => {}
                }
            }
            Category::DateOfBirth => {
                date_spellings(value.trim(), &mut |s| {
                    self.insert(s, Kind::Squeezed, category)
                });
            }
            Category::Phone => {
                let digits = value.split(|c: char| !c.is_ascii_digit());
                if value.bytes().filter(u8::is_ascii_digit).count() >= 7 {
                    self.insert_parts(digits, Kind::Squeezed, category);
                }
            }
            Category::Address => {
                self.phrase(spaced, category);
                for part in value.split(['^', ',', '\\', '\n', '\r', ';']) {
                    scratch.clear();
                    normalise_into(part, scratch);
                    self.phrase(scratch, category);
                }
            }
            Category::Institution | Category::Station => self.phrase(spaced, category),
        }
    }

    /// A normalised value as a sequence of whole words, when it has at least four
    /// letters or digits.
    fn phrase(&mut self, spaced: &str, category: Category) {
        let letters = spaced.chars().filter(|c| *c != ' ').count();
        if letters >= 4 && !is_in(PLACEHOLDERS, spaced) {
            self.insert(spaced, Kind::Words, category);
        }
    }
}

/// Which of two entries of the same pattern a set keeps: the lower rank (the category's
/// order, then squeezed before words, the wider search).
fn rank(kind: Kind, category: Category) -> (Category, bool) {
    (category, kind == Kind::Words)
}

/// The identifying values of many objects (a patient's files in a batch or a session),
/// gathered one object at a time. A hash map: adding an object costs its own values
/// whatever the size of the pool, where merging sorted sets walks the whole pool for
/// every object (quadratic in the files of a patient whose files differ).
///
/// Hashed with foldhash: a patient's values are hashed for every file, and SipHash cost a
/// third of the pooling; its per-process random seed still keeps collisions out of an
/// input's reach.
#[derive(Debug, Default)]
pub struct Pool {
    patterns: HashMap<String, (Kind, Category), foldhash::fast::RandomState>,
    /// The set added last. A patient's files mostly hold the same values: a new set is
    /// first walked beside it (both are sorted), and only what it lacks is looked up.
    last: Identifying,
}

impl Pool {
    /// Adds the values of one object, keeping for a pattern seen before the entry
    /// [`Identifying::settle`] would keep.
    pub fn add(&mut self, ids: Identifying) {
        let last = std::mem::take(&mut self.last);
        let mut before = last.patterns.iter().peekable();
        for e in &ids.patterns {
            while before
                .next_if(|b| b.order(&last.text, e, &ids.text).is_lt())
                .is_some()
            {}
            let same = before.next_if(|b| b.order(&last.text, e, &ids.text).is_eq());
            let (pattern, kind, category) = (e.of(&ids.text), e.kind, e.category);
            // In the last set, so in the map with that rank or a lower one.
            if same.is_some_and(|b| rank(kind, category) >= rank(b.kind, b.category)) {
                continue;
            }
            // Looked up borrowed, copied only when new.
            match self.patterns.get_mut(pattern) {
                Some(e) => {
                    if rank(kind, category) < rank(e.0, e.1) {
                        *e = (kind, category);
                    }
                }
                None => {
                    self.patterns.insert(pattern.to_string(), (kind, category));
                }
            }
        }
        self.last = ids;
    }

    /// Number of distinct patterns.
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The pooled values as one sorted set (one sort, once every object is in).
    pub fn into_identifying(self) -> Identifying {
        let mut ids = Identifying {
            text: String::with_capacity(self.patterns.keys().map(String::len).sum()),
            patterns: Vec::with_capacity(self.patterns.len()),
        };
        for (p, (k, c)) in &self.patterns {
            ids.insert(p, *k, *c);
        }
        ids.settle();
        ids
    }
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
/// month's name (12 Apr 1960, April 12, 1960). Each spelling is given to `add`.
fn date_spellings(da: &str, add: &mut dyn FnMut(&str)) {
    if da.len() != 8 || !da.bytes().all(|b| b.is_ascii_digit()) {
        return;
    }
    let (y, m, d) = (&da[..4], &da[4..6], &da[6..8]);
    let Ok(month) = m.parse::<usize>() else {
        return;
    };
    let (m1, d1) = (m.trim_start_matches('0'), d.trim_start_matches('0'));
    let mut s = String::with_capacity(16);
    let mut put = |parts: [&str; 3]| {
        s.clear();
        for p in parts {
            s.push_str(p);
        }
        add(&s);
    };
    for parts in [[y, m, d], [d, m, y], [m, d, y], [d1, m1, y], [m1, d1, y]] {
        put(parts);
    }
    if let Some(name) = month.checked_sub(1).and_then(|i| MONTHS.get(i)) {
        for mon in [&name[..3], name] {
            for day in [d, d1] {
                put([day, mon, y]);
                put([mon, day, y]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_or_pooling_sets_equals_sorting_their_union() {
        let set = |entries: &[(&str, Kind, Category)]| {
            let mut s = Identifying::default();
            for (p, k, c) in entries {
                s.insert(p, *k, *c);
            }
            s.settle();
            s
        };
        let a = set(&[
            ("abernathy", Kind::Words, Category::Name),
            ("51544914", Kind::Squeezed, Category::Id),
            ("douglas", Kind::Words, Category::Name),
            ("st mary", Kind::Words, Category::Institution),
        ]);
        let b = set(&[
            ("51544914", Kind::Words, Category::Name),
            ("douglas", Kind::Words, Category::Name),
            ("zeta", Kind::Words, Category::Station),
            ("19600412", Kind::Squeezed, Category::DateOfBirth),
        ]);
        for (x, y) in [(&a, &b), (&b, &a), (&a, &a)] {
            let mut merged = x.clone();
            merged.merge(y);
            let mut union = x.clone();
            for (p, k, c) in y.patterns() {
                union.insert(p, k, c);
            }
            union.settle();
            assert_eq!(merged, union);
            let mut pool = Pool::default();
            for set in [x, y, x] {
                pool.add(set.clone());
            }
            assert_eq!(pool.into_identifying(), union);
        }
    }
    use crate::decide::plan::{Plan, ProfileId};
    use crate::ProfileOption;
    use dicom_core::value::DataSetSequence;
    use dicom_core::DataElement;
    use dicom_dictionary_std::tags;

    fn collect(obj: &InMemDicomObject, plan: &Plan) -> Identifying {
        Identifying::collect(obj, &Decider::new(plan))
    }

    fn has(ids: &Identifying, p: &str) -> bool {
        ids.has(p)
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
    fn a_site_named_like_the_maker_is_not_identifying() {
        let obj = InMemDicomObject::from_element_iter([
            DataElement::new(tags::INSTITUTION_NAME, VR::LO, "TOSHIBA"),
            DataElement::new(tags::MANUFACTURER, VR::LO, "TOSHIBA_MEC"),
            DataElement::new(tags::STATION_NAME, VR::SH, "WENCESLASCT7"),
        ]);
        let ids = collect(&obj, &Plan::builtin(ProfileId::Basic));
        assert!(!has(&ids, "toshiba") && has(&ids, "wenceslasct7"));
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
