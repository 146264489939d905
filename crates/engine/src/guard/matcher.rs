//! Finding identifying values in a value about to be written: one pass over the value
//! finds every pattern of the object, whatever their number.
//!
//! A value is normalised once, to lower-case letters and digits with every run of
//! anything else one space (`Smith's CT-head` → `smith s ct head`):
//!
//! - [`Kind::Words`] patterns are whole words or runs of words there: each word of the
//!   value is looked up among the patterns' (sorted, binary search), with a trailing `s`
//!   (`Smiths`, `Smith's`) going with the name.
//! - [`Kind::Squeezed`] patterns (IDs, birth dates, phone numbers) count anywhere in the
//!   value's letters and digits run together (`MRN-5154-4914` → `mrn51544914`): each
//!   position's first four bytes are a key into the patterns' keys, and only a hit is
//!   compared whole.
//!
//! The patterns are a new set for every object, so building the matcher must cost next
//! to nothing: an Aho-Corasick automaton cost more to build (about 300,000 instructions
//! for a typical header's 40 patterns) than de-identifying the whole header, while these
//! sorted tables are the patterns themselves. Each normalised byte remembers the byte
//! range of the original character it came from, so a match is a byte range of the
//! original value, which the caller removes.

use super::values::{append_normalised, normalise_into, Identifying, Kind};
use crate::profile::vocab::Category;
use std::cell::RefCell;
use std::ops::Range;

/// Which patterns a value is searched for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    All,
    /// Everything but single name parts: the defined terms of standard CS attributes.
    NoNameWords,
    /// The birth date only: DA and DT values.
    BirthDate,
}

/// The patterns of one object (and of the same patient in other files), ready to match.
pub struct Matcher<'a> {
    /// One-word patterns, sorted.
    words: Vec<(&'a str, Category)>,
    /// Patterns of several words, by their first word, sorted.
    phrases: Vec<(&'a str, &'a str, Category)>,
    /// Squeezed patterns by the key of their first four bytes, sorted.
    squeezed: Vec<(u32, &'a str, Category)>,
    /// The squeezed patterns' keys: most positions of a value are ruled out by it.
    keys: Filter,
    /// The one-word patterns and the phrases' first words: most words of a value are
    /// ruled out by it before any binary search.
    firsts: Filter,
    /// Buffers reused from value to value: most values hold nothing identifying, and
    /// finding that out should allocate nothing. A value's normalised form...
    spaced: RefCell<String>,
    /// ... and its letters and digits run together, each with its position in the
    /// normalised form.
    run_together: RefCell<(Vec<u8>, Vec<u32>)>,
}

/// Where each byte of a value's spaced form ([`normalise_into`]) came from in the
/// original value: computed only for a value that holds a match.
fn origins(chars: impl Iterator<Item = (usize, char)>) -> Vec<(u32, u32)> {
    let mut from = Vec::new();
    let mut last_space = true;
    for (start, c) in chars {
        let (s, e) = (start as u32, (start + c.len_utf8()) as u32);
        if c.is_alphanumeric() {
            for lower in c.to_lowercase() {
                from.extend(std::iter::repeat_n((s, e), lower.len_utf8()));
            }
            last_space = false;
        } else if !last_space {
            from.push((s, e));
            last_space = true;
        }
    }
    from
}

fn key(bytes: &[u8]) -> u32 {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// A bit set of hashes: "certainly not a pattern" for most words and positions of a
/// value, so that the binary searches run only where a pattern may start. Sized to the
/// patterns (16 bits each, at least 512), it stays sparse for an object's few dozen
/// patterns and for a patient's thousands pooled over a batch alike.
struct Filter {
    bits: Vec<u64>,
    /// `64 - log2(number of bits)`: a hash's top bits pick its bit.
    shift: u32,
}

impl Filter {
    fn new(patterns: usize) -> Filter {
        let bits = (patterns * 16).next_power_of_two().max(512);
        Filter {
            bits: vec![0; bits / 64],
            shift: 64 - bits.trailing_zeros(),
        }
    }

    fn slot(&self, hash: u64) -> (usize, u64) {
        let i = (hash.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize;
        (i / 64, 1 << (i % 64))
    }

    fn insert(&mut self, hash: u64) {
        let (word, bit) = self.slot(hash);
        self.bits[word] |= bit;
    }

    fn may_hold(&self, hash: u64) -> bool {
        let (word, bit) = self.slot(hash);
        self.bits[word] & bit != 0
    }
}

/// FNV-1a of a word, for [`Filter`].
fn hash(word: &[u8]) -> u64 {
    word.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A byte of possibly binary data as text: ASCII letters and digits, else a separator.
fn ascii(b: u8) -> char {
    if b.is_ascii_alphanumeric() {
        b as char
    } else {
        ' '
    }
}

impl<'a> Matcher<'a> {
    pub fn new(ids: &'a Identifying) -> Matcher<'a> {
        let n = ids.len();
        let (mut words, mut phrases, mut squeezed) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for (p, kind, category) in ids.patterns() {
            match kind {
                Kind::Words => match p.bytes().position(|b| b == b' ') {
                    None => words.push((p, category)),
                    Some(space) => phrases.push((&p[..space], p, category)),
                },
                Kind::Squeezed if p.len() >= 4 => squeezed.push((key(p.as_bytes()), p, category)),
                // Never made (squeezed values have five characters or more); whole words then.
                Kind::Squeezed => words.push((p, category)),
            }
        }
        // A set's patterns are sorted (see `Identifying::settle`), which sorts the words
        // and the phrases (by their first word: a space sorts before any letter or digit).
        debug_assert!(words.is_sorted() && phrases.is_sorted());
        squeezed.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
        let mut keys = Filter::new(squeezed.len());
        for (k, _, _) in &squeezed {
            keys.insert(u64::from(*k));
        }
        let mut firsts = Filter::new(words.len() + phrases.len());
        let first_words = words.iter().map(|(w, _)| *w);
        for w in first_words.chain(phrases.iter().map(|(f, _, _)| *f)) {
            firsts.insert(hash(w.as_bytes()));
        }
        Matcher {
            words,
            phrases,
            squeezed,
            keys,
            firsts,
            // A header's values are short: buffers this size rarely grow.
            spaced: RefCell::new(String::with_capacity(256)),
            run_together: RefCell::new((Vec::with_capacity(256), Vec::with_capacity(256))),
        }
    }

    /// Byte ranges of `text` that hold identifying values, merged and in order, with the
    /// category of each.
    pub fn find(&self, text: &str, look: Look) -> Vec<(Range<usize>, Category)> {
        let mut spaced = self.spaced.borrow_mut();
        spaced.clear();
        normalise_into(text, &mut spaced);
        let spans = self.search(&spaced, look);
        self.on(text, spans)
    }

    /// Like [`Matcher::find`], with the normalised value appended to `out` (one space
    /// after what it holds): the text a batch keeps to check again is made by the check.
    pub fn find_into(
        &self,
        text: &str,
        look: Look,
        out: &mut String,
    ) -> Vec<(Range<usize>, Category)> {
        let start = append_normalised(text, out);
        let spans = self.search(out.get(start..).unwrap_or_default(), look);
        self.on(text, spans)
    }

    /// Spans of a value's normalised form as byte ranges of the value.
    fn on(
        &self,
        text: &str,
        spans: Vec<(Range<usize>, Category)>,
    ) -> Vec<(Range<usize>, Category)> {
        if spans.is_empty() {
            return spans;
        }
        to_original(spans, &origins(text.char_indices()))
    }

    /// Whether a text already normalised ([`normalise_into`], values joined by spaces)
    /// holds any pattern.
    pub fn holds_normalised(&self, text: &str) -> bool {
        !self.search(text, Look::All).is_empty()
    }

    /// Like [`Matcher::find`] over bytes that may be binary: ASCII letters and digits
    /// count, every other byte separates words.
    pub fn find_bytes(&self, bytes: &[u8]) -> Vec<(Range<usize>, Category)> {
        let spans = {
            let mut spaced = self.spaced.borrow_mut();
            spaced.clear();
            for c in bytes.iter().map(|&b| ascii(b)) {
                if c != ' ' {
                    spaced.push(c.to_ascii_lowercase());
                } else if !spaced.is_empty() && !spaced.ends_with(' ') {
                    spaced.push(' ');
                }
            }
            if spaced.ends_with(' ') {
                spaced.pop();
            }
            self.search(&spaced, Look::All)
        };
        if spans.is_empty() {
            return spans;
        }
        let from = origins(bytes.iter().enumerate().map(|(i, &b)| (i, ascii(b))));
        to_original(spans, &from)
    }

    fn word(&self, w: &[u8]) -> Option<Category> {
        if !self.firsts.may_hold(hash(w)) {
            return None;
        }
        self.words
            .binary_search_by(|(p, _)| p.as_bytes().cmp(w))
            .ok()
            .map(|i| self.words[i].1)
    }

    /// Matches in a normalised text, as its byte ranges.
    fn search(&self, text: &str, look: Look) -> Vec<(Range<usize>, Category)> {
        let text = text.as_bytes();
        let mut spans = Vec::new();
        if look != Look::BirthDate {
            self.find_words(text, look, &mut spans);
        }
        if !self.squeezed.is_empty() {
            let (squeezed, at) = &mut *self.run_together.borrow_mut();
            squeezed.clear();
            at.clear();
            for (i, &b) in text.iter().enumerate() {
                if b != b' ' {
                    squeezed.push(b);
                    at.push(i as u32);
                }
            }
            self.find_squeezed(squeezed, at, look, &mut spans);
        }
        spans
    }

    fn find_words(&self, text: &[u8], look: Look, spans: &mut Vec<(Range<usize>, Category)>) {
        let mut words = text
            .split(|&b| b == b' ')
            .scan(0usize, |pos, w| {
                let start = *pos;
                *pos += w.len() + 1;
                Some(start..start + w.len())
            })
            .filter(|w| !w.is_empty())
            .peekable();
        while let Some(w) = words.next() {
            let word = &text[w.clone()];
            // Name patterns are single name parts; the defined terms of CS skip them.
            let single = if look == Look::NoNameWords {
                None
            } else {
                self.word(word).or_else(|| {
                    // A possessive or plural written without an apostrophe: `Smiths`.
                    let stem = word.strip_suffix(b"s").filter(|s| !s.is_empty())?;
                    self.word(stem)
                })
            };
            if let Some(c) = single {
                // `Smith's`: the `s` after the apostrophe goes with the name.
                let end = match words.peek() {
                    Some(next) if &text[next.clone()] == b"s" => next.end,
                    _ => w.end,
                };
                spans.push((w.start..end, c));
            }
            if self.phrases.is_empty() || !self.firsts.may_hold(hash(word)) {
                continue;
            }
            let first = self
                .phrases
                .partition_point(|(f, _, _)| f.as_bytes() < word);
            for (f, phrase, c) in &self.phrases[first..] {
                if f.as_bytes() != word {
                    break;
                }
                if look == Look::NoNameWords && *c == Category::Name {
                    continue;
                }
                let end = w.start + phrase.len();
                let at_boundary = end == text.len() || text.get(end) == Some(&b' ');
                if at_boundary && text.get(w.start..end) == Some(phrase.as_bytes()) {
                    spans.push((w.start..end, *c));
                }
            }
        }
    }

    fn find_squeezed(
        &self,
        t: &[u8],
        at: &[u32],
        look: Look,
        spans: &mut Vec<(Range<usize>, Category)>,
    ) {
        for i in 0..t.len().saturating_sub(3) {
            let k = key(&t[i..]);
            if !self.keys.may_hold(u64::from(k)) {
                continue;
            }
            let first = self.squeezed.partition_point(|(pk, _, _)| *pk < k);
            for (pk, p, c) in &self.squeezed[first..] {
                if *pk != k {
                    break;
                }
                if look == Look::BirthDate && *c != Category::DateOfBirth {
                    continue;
                }
                if t[i..].starts_with(p.as_bytes()) {
                    let end = at[i + p.len() - 1] as usize + 1;
                    spans.push((at[i] as usize..end, *c));
                }
            }
        }
    }
}

/// Ranges of the spaced form as ranges of the original, merged.
fn to_original(
    spans: Vec<(Range<usize>, Category)>,
    from: &[(u32, u32)],
) -> Vec<(Range<usize>, Category)> {
    merge(
        spans
            .into_iter()
            .map(|(r, c)| (from[r.start].0 as usize..from[r.end - 1].1 as usize, c))
            .collect(),
    )
}

/// Sorted, with overlapping ranges joined (the smaller category kept).
fn merge(mut spans: Vec<(Range<usize>, Category)>) -> Vec<(Range<usize>, Category)> {
    spans.sort_by_key(|(r, c)| (r.start, r.end, *c));
    let mut out: Vec<(Range<usize>, Category)> = Vec::with_capacity(spans.len());
    for (r, c) in spans {
        match out.last_mut() {
            Some((last, lc)) if r.start <= last.end => {
                last.end = last.end.max(r.end);
                *lc = (*lc).min(c);
            }
            _ => out.push((r, c)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::plan::{Plan, ProfileId};
    use crate::decide::Decider;
    use dicom_core::{DataElement, VR};
    use dicom_dictionary_std::tags;
    use dicom_object::InMemDicomObject;

    fn identifying() -> Identifying {
        let obj = InMemDicomObject::from_element_iter([
            DataElement::new(tags::PATIENT_NAME, VR::PN, "Smith^Anna"),
            DataElement::new(tags::PATIENT_ID, VR::LO, "51544914"),
            DataElement::new(tags::PATIENT_BIRTH_DATE, VR::DA, "19600412"),
            DataElement::new(tags::STATION_NAME, VR::SH, "CT01 ROOM"),
        ]);
        let plan = Plan::builtin(ProfileId::Basic);
        Identifying::collect(&obj, &Decider::new(&plan))
    }

    fn found<'t>(m: &Matcher, text: &'t str) -> Vec<&'t str> {
        m.find(text, Look::All)
            .into_iter()
            .map(|(r, _)| &text[r])
            .collect()
    }

    #[test]
    fn words_at_boundaries_possessives_and_squeezed_ids() {
        let ids = identifying();
        let m = Matcher::new(&ids);
        assert_eq!(found(&m, "CT head for SMITH, anna"), ["SMITH", "anna"]);
        assert_eq!(found(&m, "the Smiths' scan"), ["Smiths"]);
        assert_eq!(found(&m, "Smith's knee"), ["Smith's"]);
        assert_eq!(found(&m, "PAT01_SMITH_MRN51544914"), ["SMITH", "51544914"]);
        assert_eq!(found(&m, "MRN 5154-4914"), ["5154-4914"]);
        assert_eq!(found(&m, "born 12/04/1960"), ["12/04/1960"]);
        assert_eq!(found(&m, "born April 12, 1960"), ["April 12, 1960"]);
        assert_eq!(found(&m, "protocol ct01 room 3"), ["ct01 room"]);
        // Not at a word boundary, or another word: left alone.
        assert!(found(&m, "Blacksmith hammer; Annabel").is_empty());
        assert!(found(&m, "CT01 only; ct01 roomy").is_empty());
    }

    #[test]
    fn dates_only_and_bytes() {
        let ids = identifying();
        let m = Matcher::new(&ids);
        assert_eq!(m.find("19600412", Look::BirthDate).len(), 1);
        assert!(m.find("Smith", Look::BirthDate).is_empty());
        assert!(m.find("SMITH", Look::NoNameWords).is_empty());
        assert_eq!(m.find("ID51544914", Look::NoNameWords).len(), 1);
        let bytes = b"\x00\x07SMITH^ANNA\x00\x01ID51544914";
        let spans: Vec<&[u8]> = m
            .find_bytes(bytes)
            .into_iter()
            .map(|(r, _)| &bytes[r])
            .collect();
        assert_eq!(spans, [&b"SMITH"[..], b"ANNA", b"51544914"]);
    }
}
