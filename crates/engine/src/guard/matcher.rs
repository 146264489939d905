//! Finding identifying values in a value about to be written: one Aho-Corasick automaton
//! over every pattern of the object, run over two normalised forms of the value.
//!
//! - The *spaced* form: lower-case letters and digits, every run of anything else one
//!   space (`Smith's CT-head` → `smith s ct head`). [`Kind::Words`] patterns count only
//!   at word boundaries there, and a trailing `s` (`Smiths`, `Smith's`) goes with them.
//! - The *squeezed* form: letters and digits only (`MRN-5154-4914` → `mrn51544914`).
//!   [`Kind::Squeezed`] patterns count anywhere in it.
//!
//! Each normalised byte remembers the byte range of the original character it came
//! from, so a match is a byte range of the original value, which the caller removes.

use super::values::{Category, Identifying, Kind};
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
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

/// The compiled patterns of one object (and of the same patient in other files).
pub struct Matcher {
    automaton: AhoCorasick,
    kinds: Vec<(Kind, Category)>,
}

/// A normalised value with, for each of its bytes, where it came from in the original.
struct Normalised {
    text: Vec<u8>,
    /// Original byte range of each normalised byte.
    from: Vec<(u32, u32)>,
}

impl Normalised {
    /// `spaced`: separators become one space; otherwise they are dropped.
    fn of(chars: impl Iterator<Item = (usize, char, usize)>, spaced: bool) -> Normalised {
        let mut n = Normalised {
            text: Vec::new(),
            from: Vec::new(),
        };
        let mut buf = [0u8; 4];
        for (start, c, len) in chars {
            let (s, e) = (start as u32, (start + len) as u32);
            if c.is_alphanumeric() {
                for lower in c.to_lowercase() {
                    for b in lower.encode_utf8(&mut buf).bytes() {
                        n.text.push(b);
                        n.from.push((s, e));
                    }
                }
            } else if spaced && !n.text.is_empty() && n.text.last() != Some(&b' ') {
                n.text.push(b' ');
                n.from.push((s, e));
            }
        }
        n
    }

    fn original(&self, r: Range<usize>) -> Range<usize> {
        self.from[r.start].0 as usize..self.from[r.end - 1].1 as usize
    }

    fn boundary_before(&self, at: usize) -> bool {
        at == 0 || self.text[at - 1] == b' '
    }

    fn boundary_at(&self, at: usize) -> bool {
        at >= self.text.len() || self.text[at] == b' '
    }
}

impl Matcher {
    /// `None` when there is nothing to look for.
    pub fn new(ids: &Identifying) -> Option<Matcher> {
        if ids.is_empty() {
            return None;
        }
        let (patterns, kinds): (Vec<&str>, Vec<(Kind, Category)>) =
            ids.patterns().map(|(p, k, c)| (p, (k, c))).unzip();
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            // Built once per object for a few dozen short values: a contiguous NFA builds
            // in microseconds, where a DFA would cost more to build than it saves.
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(&patterns)
            .expect("a few short patterns always build");
        Some(Matcher { automaton, kinds })
    }

    /// Byte ranges of `text` that hold identifying values, merged and in order, with the
    /// category of each.
    pub fn find(&self, text: &str, look: Look) -> Vec<(Range<usize>, Category)> {
        let chars = text.char_indices().map(|(i, c)| (i, c, c.len_utf8()));
        self.find_in(chars, look)
    }

    /// Like [`Matcher::find`] over bytes that may be binary: ASCII letters and digits
    /// count, every other byte separates words.
    pub fn find_bytes(&self, bytes: &[u8]) -> Vec<(Range<usize>, Category)> {
        let chars = bytes.iter().enumerate().map(|(i, &b)| {
            let c = if b.is_ascii_alphanumeric() {
                b as char
            } else {
                ' '
            };
            (i, c, 1)
        });
        self.find_in(chars, Look::All)
    }

    fn find_in<I>(&self, chars: I, look: Look) -> Vec<(Range<usize>, Category)>
    where
        I: Iterator<Item = (usize, char, usize)> + Clone,
    {
        let mut spans = Vec::new();
        if look != Look::BirthDate {
            let spaced = Normalised::of(chars.clone(), true);
            for m in self.automaton.find_overlapping_iter(&spaced.text) {
                let (kind, category) = self.kinds[m.pattern().as_usize()];
                if kind != Kind::Words || !spaced.boundary_before(m.start()) {
                    continue;
                }
                // Name patterns are single name parts.
                if look == Look::NoNameWords && category == Category::Name {
                    continue;
                }
                let mut end = m.end();
                if !spaced.boundary_at(end) {
                    // A possessive or plural written without an apostrophe: `Smiths`.
                    if spaced.text[end] == b's' && spaced.boundary_at(end + 1) {
                        end += 1;
                    } else {
                        continue;
                    }
                } else if spaced.text.get(end..end + 2) == Some(b" s")
                    && spaced.boundary_at(end + 2)
                {
                    // `Smith's`: the `s` after the apostrophe goes with the name.
                    end += 2;
                }
                spans.push((spaced.original(m.start()..end), category));
            }
        }
        let squeezed = Normalised::of(chars, false);
        for m in self.automaton.find_overlapping_iter(&squeezed.text) {
            let (kind, category) = self.kinds[m.pattern().as_usize()];
            if kind == Kind::Squeezed
                && (look != Look::BirthDate || category == Category::DateOfBirth)
            {
                spans.push((squeezed.original(m.range()), category));
            }
        }
        merge(spans)
    }
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
    use crate::decide::{Decider, Facts};
    use crate::plan::{Plan, ProfileId};
    use dicom_core::{DataElement, VR};
    use dicom_dictionary_std::tags;
    use dicom_object::InMemDicomObject;

    fn matcher() -> Matcher {
        let obj = InMemDicomObject::from_element_iter([
            DataElement::new(tags::PATIENT_NAME, VR::PN, "Smith^Anna"),
            DataElement::new(tags::PATIENT_ID, VR::LO, "51544914"),
            DataElement::new(tags::PATIENT_BIRTH_DATE, VR::DA, "19600412"),
            DataElement::new(tags::STATION_NAME, VR::SH, "CT01 ROOM"),
        ]);
        let plan = Plan::builtin(ProfileId::Basic);
        let ids = Identifying::collect(&obj, &Decider::new(&plan), &Facts::default());
        Matcher::new(&ids).unwrap()
    }

    fn found<'a>(m: &Matcher, text: &'a str) -> Vec<&'a str> {
        m.find(text, Look::All)
            .into_iter()
            .map(|(r, _)| &text[r])
            .collect()
    }

    #[test]
    fn words_at_boundaries_possessives_and_squeezed_ids() {
        let m = matcher();
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
        assert!(found(&m, "CT01 only").is_empty());
    }

    #[test]
    fn dates_only_and_bytes() {
        let m = matcher();
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
