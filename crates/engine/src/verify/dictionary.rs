//! Gathering identifying values from original objects, at every depth.

use super::fold::{fold_str, is_free};
use super::table::{tables, Source};
use super::Category;
use aho_corasick::{AhoCorasick, MatchKind};
use dicom_core::header::Header;
use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::VR;
use dicom_dictionary_std::tags;
use dicom_encoding::text::{SpecificCharacterSet, TextCodec};
use dicom_object::mem::InMemElement;
use dicom_object::InMemDicomObject;
use std::collections::{HashMap, HashSet};

/// Shortest name component entered (in characters): single initials and two-letter
/// particles (`Dr`, `of`, `Li`) would match everywhere; two-letter names are still found
/// as part of the whole name (`Li^Wei` as `liwei`).
pub const MIN_NAME_CHARS: usize = 3;
/// Shortest entry in a script written without spaces (Han, kana, Hangul), where one
/// character is a syllable and names are two or three of them.
pub const MIN_FREE_CHARS: usize = 2;
/// A name component of more words than this is a description typed into a name field:
/// it is entered whole only, not word by word (family names of three words such as
/// `van der Berg` are still split).
pub const MAX_NAME_WORDS: usize = 3;
/// Shortest identifier entered: Study ID `1` or `S1` is not identifying.
pub const MIN_ID_CHARS: usize = 4;
/// Shortest identifier or address part made of digits only: four-digit numbers (years,
/// sizes, counts) are everywhere in clinical text.
pub const MIN_NUMBER_CHARS: usize = 5;
/// Identifiers with a digit and at least this long are found inside longer strings
/// (`51544914` in `MRN51544914`); shorter ones only as a word of their own.
pub const MIN_EMBEDDED_CHARS: usize = 6;
/// Shortest phone number (digits).
pub const MIN_PHONE_DIGITS: usize = 7;
/// Shortest instance UID entered (digits): test UIDs such as `1.2.3.4` are prefixes of
/// everything.
pub const MIN_UID_DIGITS: usize = 12;
/// UIDs the standard defines (classes, transfer syntaxes, well-known instances) are no
/// one's.
const STANDARD_UID_ROOT: &str = "1.2.840.10008.";
/// Shortest institution, station, address part or e-mail entered.
pub const MIN_WHOLE_CHARS: usize = 4;

const MONTHS: [(&str, &str); 12] = [
    ("jan", "january"),
    ("feb", "february"),
    ("mar", "march"),
    ("apr", "april"),
    ("may", "may"),
    ("jun", "june"),
    ("jul", "july"),
    ("aug", "august"),
    ("sep", "september"),
    ("oct", "october"),
    ("nov", "november"),
    ("dec", "december"),
];

/// How an entry must sit in the haystack to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Rule {
    /// A word of its own (boundaries on both sides).
    Word,
    /// A word of its own, or followed by `s` (`Smiths`): names.
    Possessive,
    /// Anywhere, even inside a longer word (long identifiers).
    Embedded,
    /// Anywhere: scripts without word boundaries.
    Free,
}

pub(super) struct Entry {
    pub folded: String,
    pub rules: Vec<(Category, Rule)>,
}

/// Collects identifying values from original objects; [`DictionaryBuilder::build`]
/// makes the searchable [`Dictionary`]. Builders of parts of a set can be merged.
#[derive(Default)]
pub struct DictionaryBuilder {
    entries: HashMap<String, Vec<(Category, Rule)>>,
    /// Folded values of maker, model and software attributes, and each of their words.
    makers: HashSet<String>,
    objects: u64,
}

/// Identifying values of a set of original objects, searched all at once.
pub struct Dictionary {
    pub(super) automaton: Option<AhoCorasick>,
    /// The entry each automaton pattern spells (a Latin-1 spelling shares its entry).
    pub(super) pattern_entry: Vec<u32>,
    pub(super) entries: Vec<Entry>,
}

impl DictionaryBuilder {
    /// An empty dictionary, no object added.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the identifying values of one original object (every item of every sequence).
    pub fn add_object(&mut self, obj: &InMemDicomObject) {
        self.objects += 1;
        self.walk(obj, &charset_of(obj, &SpecificCharacterSet::default()));
    }

    /// Objects added so far.
    pub fn objects(&self) -> u64 {
        self.objects
    }

    /// Adds the values another builder gathered (one per reader thread, say).
    pub fn merge(&mut self, other: DictionaryBuilder) {
        self.objects += other.objects;
        self.makers.extend(other.makers);
        for (folded, rules) in other.entries {
            for (c, r) in rules {
                self.insert(folded.clone(), c, r);
            }
        }
    }

    /// The searchable dictionary: values that are the originals' maker names dropped, one automaton over the rest.
    pub fn build(self) -> Dictionary {
        // A site named like its scanner's maker ("TOSHIBA", "OFFIS e.V." within
        // "Kuratorium OFFIS e.V.", an address inside a coding scheme's publisher) is not
        // what identifies it here.
        let in_maker = |f: &str| self.makers.iter().any(|m| m.contains(f));
        let mut entries: Vec<Entry> = self
            .entries
            .into_iter()
            .filter(|(folded, _)| !self.makers.contains(folded))
            .filter_map(|(folded, mut rules)| {
                if in_maker(&folded) {
                    rules.retain(|(c, _)| {
                        !matches!(
                            c,
                            Category::Institution | Category::Station | Category::Address
                        )
                    });
                }
                (!rules.is_empty()).then_some(Entry { folded, rules })
            })
            .collect();
        entries.sort_by(|a, b| a.folded.cmp(&b.folded));
        let mut patterns: Vec<Vec<u8>> = Vec::with_capacity(entries.len());
        let mut pattern_entry = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            patterns.push(e.folded.as_bytes().to_vec());
            pattern_entry.push(i as u32);
            // Raw bytes may hold the same name in Latin-1 (`Müller` as 4D FC 6C ...).
            if !e.folded.is_ascii() && e.folded.chars().all(|c| u32::from(c) <= 0xFF) {
                patterns.push(e.folded.chars().map(|c| u32::from(c) as u8).collect());
                pattern_entry.push(i as u32);
            }
        }
        let automaton = (!patterns.is_empty()).then(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(&patterns)
                .expect("dictionary patterns fit the automaton")
        });
        Dictionary {
            automaton,
            pattern_entry,
            entries,
        }
    }

    fn walk(&mut self, ds: &InMemDicomObject, cs: &SpecificCharacterSet) {
        let t = tables();
        for elem in ds.iter() {
            match elem.value() {
                Value::Sequence(seq) => {
                    for item in seq.items() {
                        self.walk(item, &charset_of(item, cs));
                    }
                }
                Value::PixelSequence(_) => {}
                Value::Primitive(p) => {
                    let source = t.by_tag.get(&elem.tag()).copied();
                    let vr = effective_vr(elem);
                    let by_vr = t.by_vr.get(&vr).copied();
                    if source.is_none() && by_vr.is_none() {
                        continue;
                    }
                    let Some(text) = text_value(elem, vr, p, cs) else {
                        continue;
                    };
                    match source {
                        Some(Source::Maker) => {
                            for v in values(&text) {
                                self.makers.insert(fold_str(v));
                                self.makers.extend(words(v));
                            }
                        }
                        Some(Source::Identifying(c)) => self.add(c, &text),
                        None => {}
                    }
                    if let Some(c) = by_vr.filter(|c| source != Some(Source::Identifying(*c))) {
                        self.add(c, &text);
                    }
                }
            }
        }
    }

    fn add(&mut self, category: Category, text: &str) {
        match category {
            Category::Name => values(text).for_each(|v| self.add_name(v)),
            Category::Id => values(text).for_each(|v| self.add_id(v)),
            Category::DateOfBirth => values(text).for_each(|v| self.add_birth_date(v)),
            Category::Address => values(text).for_each(|v| self.add_address(v)),
            Category::Phone | Category::Email => values(text).for_each(|v| self.add_telecom(v)),
            Category::Uid => values(text).for_each(|v| self.add_uid(v)),
            Category::Institution | Category::Station => {
                values(text).for_each(|v| self.add_whole(category, &fold_str(v)));
            }
        }
    }

    /// Enters a folded value unless it is a listed non-identifying word or one character
    /// repeated (`0000`, `xxxxx`).
    fn insert(&mut self, folded: String, category: Category, rule: Rule) -> bool {
        let mut chars = folded.chars();
        let Some(first) = chars.next() else {
            return false;
        };
        if chars.all(|c| c == first) || tables().not_identifying.contains(&folded) {
            return false;
        }
        let rules = self.entries.entry(folded).or_default();
        if !rules.contains(&(category, rule)) {
            rules.push((category, rule));
        }
        true
    }

    /// One person name: each word of family, given and middle name (in every
    /// component group: alphabetic, ideographic, phonetic), each hyphenated or spaced
    /// part whole, and the whole name in the usual orders, written together.
    fn add_name(&mut self, value: &str) {
        for group in value.split('=') {
            let comps: Vec<&str> = group.split('^').collect();
            // Family, given, middle; prefix and suffix are titles (Dr, Jr, III).
            let mut parts: Vec<String> = Vec::new();
            let mut free_words: Vec<String> = Vec::new();
            for part in comps.iter().take(3) {
                let words: Vec<String> = words(part).collect();
                let whole = fold_str(part);
                if words.len() > MAX_NAME_WORDS {
                    // A description typed into a name ("R3.2.2 Enhanced Dicom Phantom").
                    self.add_name_word(whole);
                    continue;
                }
                let mut kept = 0;
                for w in &words {
                    kept += usize::from(self.add_name_word(w.clone()));
                }
                if kept == 0 {
                    continue;
                }
                if words.len() > 1 {
                    self.add_name_word(whole.clone());
                }
                if comps.len() == 1 {
                    free_words = words;
                }
                parts.push(whole);
            }
            let orders: Vec<Vec<&String>> = if parts.len() >= 2 {
                let (fam, rest) = (&parts[0], &parts[1..]);
                let mut given_first: Vec<&String> = rest.iter().collect();
                given_first.push(fam);
                vec![
                    parts.iter().collect(),
                    given_first,
                    vec![&parts[1], fam],
                    vec![fam, &parts[1]],
                ]
            } else if free_words.len() >= 2 {
                // Written without `^` ("John Smith"): also the other way round.
                vec![free_words.iter().rev().collect()]
            } else {
                Vec::new()
            };
            for order in orders {
                let joined: String = order.into_iter().map(String::as_str).collect();
                self.add_name_word(joined);
            }
        }
    }

    fn add_name_word(&mut self, w: String) -> bool {
        let n = w.chars().count();
        if w.chars().any(is_free) {
            return n >= MIN_FREE_CHARS && self.insert(w, Category::Name, Rule::Free);
        }
        if n < MIN_NAME_CHARS || w.chars().all(|c| c.is_numeric()) {
            return false;
        }
        self.insert(w, Category::Name, Rule::Possessive)
    }

    fn add_id(&mut self, value: &str) {
        let f = fold_str(value);
        let n = f.chars().count();
        if f.chars().any(is_free) {
            if n >= MIN_FREE_CHARS {
                self.insert(f, Category::Id, Rule::Free);
            }
            return;
        }
        let digits = f.chars().all(|c| c.is_numeric());
        if n < if digits {
            MIN_NUMBER_CHARS
        } else {
            MIN_ID_CHARS
        } {
            return;
        }
        let rule = if n >= MIN_EMBEDDED_CHARS && f.chars().any(|c| c.is_numeric()) {
            Rule::Embedded
        } else {
            Rule::Word
        };
        self.insert(f, Category::Id, rule);
    }

    /// A DA value in its common spellings: 19600412, 1960-04-12, 12/04/1960, 04/12/1960,
    /// 12.04.1960, 12 Apr 1960, 12 April 1960, April 12, 1960 (separators fold away).
    /// Other values (an alternative calendar) are entered whole. A 1 January birth date
    /// is not entered: it is how a year alone is written (HIPAA Safe Harbor keeps the
    /// year, `19600101`) and the usual stand-in for an unknown date (`19000101`).
    fn add_birth_date(&mut self, value: &str) {
        let f = fold_str(value);
        let date = (f.len() == 8 && f.bytes().all(|b| b.is_ascii_digit()))
            .then(|| (&f[0..4], &f[4..6], &f[6..8]))
            .filter(|(_, m, d)| {
                matches!(m.parse::<u8>(), Ok(1..=12)) && matches!(d.parse::<u8>(), Ok(1..=31))
            });
        if date.is_some_and(|(_, m, d)| m == "01" && d == "01") {
            return;
        }
        let Some((y, m, d)) = date else {
            if f.chars().count() >= MIN_EMBEDDED_CHARS {
                self.insert(f, Category::DateOfBirth, Rule::Word);
            }
            return;
        };
        let mut forms = vec![
            format!("{y}{m}{d}"),
            format!("{d}{m}{y}"),
            format!("{m}{d}{y}"),
        ];
        let (abbr, full) = MONTHS[usize::from(m.parse::<u8>().expect("checked")) - 1];
        let day_short = d.trim_start_matches('0');
        for mon in [abbr, full] {
            for day in [d, day_short] {
                forms.push(format!("{day}{mon}{y}"));
                forms.push(format!("{mon}{day}{y}"));
            }
        }
        for form in forms {
            self.insert(form, Category::DateOfBirth, Rule::Word);
        }
    }

    /// An instance UID, digits only (the dots fold away; a UID within a longer UID is not
    /// matched, see the matcher's number rule).
    fn add_uid(&mut self, value: &str) {
        if value.starts_with(STANDARD_UID_ROOT)
            || !value.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        {
            return;
        }
        let f = fold_str(value);
        if f.len() >= MIN_UID_DIGITS {
            self.insert(f, Category::Uid, Rule::Word);
        }
    }

    /// An address whole and each of its parts (`^`, comma, semicolon, line separated).
    fn add_address(&mut self, value: &str) {
        self.add_emails(value);
        self.add_whole(Category::Address, &fold_str(value));
        for part in value.split(['^', ',', ';', '\n', '\r']) {
            self.add_whole(Category::Address, &fold_str(part));
        }
    }

    /// Phone numbers (digits: whole, last ten and last seven) and e-mail addresses.
    fn add_telecom(&mut self, value: &str) {
        self.add_emails(value);
        for number in value.split(['\n', '\r', ';', ',', '/']) {
            let digits: String = number
                .split_whitespace()
                .filter(|t| !t.contains('@'))
                .flat_map(|t| t.chars().filter(char::is_ascii_digit))
                .collect();
            let n = digits.len();
            if n < MIN_PHONE_DIGITS {
                continue;
            }
            for tail in [n, 10, MIN_PHONE_DIGITS] {
                if tail <= n {
                    self.insert(digits[n - tail..].to_string(), Category::Phone, Rule::Word);
                }
            }
        }
    }

    fn add_emails(&mut self, value: &str) {
        for token in value.split(|c: char| c.is_whitespace() || ",;<>()\"".contains(c)) {
            if token.contains('@') {
                let token = token.strip_prefix("mailto:").unwrap_or(token);
                let f = fold_str(token);
                if f.chars().count() >= MIN_WHOLE_CHARS {
                    self.insert(f, Category::Email, Rule::Word);
                }
            }
        }
    }

    fn add_whole(&mut self, category: Category, f: &str) {
        let n = f.chars().count();
        if f.chars().any(is_free) {
            if n >= MIN_FREE_CHARS {
                self.insert(f.to_string(), category, Rule::Free);
            }
            return;
        }
        let digits = f.chars().all(|c| c.is_numeric());
        if n >= if digits {
            MIN_NUMBER_CHARS
        } else {
            MIN_WHOLE_CHARS
        } {
            self.insert(f.to_string(), category, Rule::Word);
        }
    }
}

impl Dictionary {
    /// Distinct searched values (spellings and parts count one each).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is nothing to search for.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The folded words of a text.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .map(fold_str)
        .filter(|w| !w.is_empty())
}

/// The values of a multi-valued text, trimmed of padding.
fn values(text: &str) -> impl Iterator<Item = &str> {
    text.split('\\')
        .map(|v| v.trim_matches(|c: char| c == ' ' || c == '\0'))
        .filter(|v| !v.is_empty())
}

/// The VR an element's value is read as: an element written as UN is read as its
/// dictionary VR (some writers give every element VR UN).
pub(super) fn effective_vr(elem: &InMemElement) -> VR {
    match elem.vr() {
        VR::UN => crate::profile::tag::dictionary_vr(elem.tag()).unwrap_or(VR::UN),
        vr => vr,
    }
}

/// VRs whose values are text to search (dates for the birth date and UIDs for the
/// instance UIDs only).
pub(super) fn is_text(vr: VR) -> bool {
    matches!(
        vr,
        VR::AE
            | VR::CS
            | VR::LO
            | VR::LT
            | VR::PN
            | VR::SH
            | VR::ST
            | VR::UC
            | VR::UR
            | VR::UT
            | VR::DA
            | VR::DT
            | VR::UI
    )
}

/// A text element's value; an element written as UN whose dictionary VR is text is
/// decoded with the data set's character set.
pub(super) fn text_value(
    elem: &InMemElement,
    vr: VR,
    p: &PrimitiveValue,
    cs: &SpecificCharacterSet,
) -> Option<String> {
    if !is_text(vr) {
        return None;
    }
    if elem.vr() == VR::UN {
        let bytes = p.to_bytes();
        return Some(
            cs.decode(&bytes)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned()),
        );
    }
    Some(p.to_str().into_owned())
}

/// The character set of a data set or item: its own Specific Character Set (first term
/// dicom-rs knows), else the enclosing one.
pub(super) fn charset_of(
    ds: &InMemDicomObject,
    outer: &SpecificCharacterSet,
) -> SpecificCharacterSet {
    let Some(e) = ds.get(tags::SPECIFIC_CHARACTER_SET) else {
        return outer.clone();
    };
    let text = match e.value() {
        Value::Primitive(p) if e.vr() == VR::UN => String::from_utf8_lossy(&p.to_bytes()).into(),
        _ => e.to_str().map(|s| s.into_owned()).unwrap_or_default(),
    };
    text.split('\\')
        .map(|c| c.trim_matches(|c: char| c == ' ' || c == '\0'))
        .find_map(SpecificCharacterSet::from_code)
        .unwrap_or_else(|| outer.clone())
}
