//! The leak guard: the last check of every de-identification, for every profile.
//!
//! The profile decides per element from its tag (Table E.1-1, options, custom rules).
//! It cannot know that a kept Code Meaning, a private text kept by Retain Safe Private or
//! a Protocol Name holds the patient's name. The guard knows the *values*: before the
//! walk it collects the identifying values of the original object ([`Identifying`]: every
//! name part of every PN, IDs, the birth date in its spellings, addresses, phone numbers,
//! institution and station names), plus those of the same patient seen in other files of
//! a batch or workbench session. Then every value the walk is about to write as kept,
//! cleaned or replaced, at every depth and in every VR that holds text (private elements
//! and text inside OB/UN values too), is searched for them with one automaton
//! ([`Matcher`]). A match is cleaned (the identifying words dropped) or, where nothing
//! valid would be left (a date, an emptied value), replaced by a dummy. Only an explicit
//! custom `keep` on the element's own tag wins; the record says so.
//!
//! The guard is a safety net over the profile, not a replacement: the decider's
//! decisions stay as they are, and each intervention is recorded as a decision of its own
//! (rule `leak-guard`, with the profile's rule it overrode), never with the value.

mod matcher;
mod values;

use values::append_normalised;
pub use values::{Identifying, Pool};

use crate::profile::vocab::{Category, Outcome};

use crate::actions::dummy::dummy;
use dicom_core::header::Header;
use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{DataElement, Tag, VR};
use dicom_object::mem::InMemElement;
use dicom_object::InMemDicomObject;
use matcher::{Look, Matcher};
use std::ops::Range;

/// One guard finding: what it found and what it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub categories: Vec<Category>,
    pub outcome: Outcome,
}

/// The identifying values of one object, checking its elements one by one.
pub struct Guard<'a> {
    matcher: Option<Matcher<'a>>,
    /// The text values written after the check, normalised as patterns are and one space
    /// apart, for [`holds_any`] once more identifying values of the patient are known (a
    /// batch learns them from later files). A value the check let through is noted as
    /// the check normalised it. `None` once longer than [`WRITTEN_LIMIT`]: the caller
    /// then de-identifies the file again.
    written: Option<String>,
}

/// Beyond this much written text a file is de-identified again rather than re-checked.
const WRITTEN_LIMIT: usize = 64 * 1024;

/// The original Patient ID of an object, which groups objects by patient for the guard
/// (trimmed; `None` when absent or empty: nothing to group by).
pub fn patient_of(obj: &InMemDicomObject) -> Option<String> {
    crate::value::text(obj, dicom_dictionary_std::tags::PATIENT_ID).filter(|p| !p.is_empty())
}

/// The identifying values of each patient over a set of originals held together (a
/// workbench session), by [`patient_of`]: what [`crate::deidentify_with_related`] takes
/// as `related` for each of them.
pub fn pooled<'a>(
    objects: impl IntoIterator<Item = &'a InMemDicomObject>,
    plan: &crate::Plan,
) -> std::collections::HashMap<String, Identifying> {
    let decider = crate::Decider::new(plan);
    let mut pools: std::collections::HashMap<String, Pool> = Default::default();
    for obj in objects {
        if let Some(patient) = patient_of(obj) {
            pools
                .entry(patient)
                .or_default()
                .add(Identifying::collect(obj, &decider));
        }
    }
    pools
        .into_iter()
        .map(|(patient, pool)| (patient, pool.into_identifying()))
        .collect()
}

/// A test of whether a text kept by [`Guard::into_written`] holds any of `ids`, built
/// once for the texts of several files.
pub fn holds_any(ids: &Identifying) -> impl Fn(&str) -> bool + '_ {
    let matcher = (!ids.is_empty()).then(|| Matcher::new(ids));
    move |text| matcher.as_ref().is_some_and(|m| m.holds_normalised(text))
}

/// Binary values are searched in windows of this many bytes, overlapping by
/// [`OVERLAP`]: a window's normalised copy stays small whatever the value's size.
const WINDOW: usize = 1 << 20;
const OVERLAP: usize = 4096;

impl<'a> Guard<'a> {
    /// A guard for these identifying values (the object's own, with those of the same
    /// patient elsewhere: [`Identifying::with`]).
    pub fn new(ids: &'a Identifying) -> Guard<'a> {
        Guard {
            matcher: (!ids.is_empty()).then(|| Matcher::new(ids)),
            written: Some(String::new()),
        }
    }

    /// The text values written after the check, normalised and one space apart (binary
    /// values by their printable runs); `None` when there was too much of it to keep.
    pub fn into_written(self) -> Option<String> {
        self.written
    }

    /// Notes what is written for an element the check did not note as it looked.
    fn note_written(&mut self, elem: &InMemElement) {
        let Some(w) = &mut self.written else {
            return;
        };
        let Value::Primitive(p) = elem.value() else {
            return;
        };
        match elem.vr() {
            VR::OB | VR::UN => {
                let bytes = p.to_bytes();
                for run in bytes.split(|b| !b.is_ascii_graphic() && *b != b' ') {
                    if let Ok(run) = std::str::from_utf8(run).map(str::trim) {
                        if run.len() >= 4 {
                            append_normalised(run, w);
                        }
                    }
                }
            }
            vr if is_text(vr) => {
                append_normalised(&text_of(p), w);
            }
            _ => {}
        }
    }

    /// Checks one element about to be written. Returns the element to write and, when it
    /// held an identifying value, what was found and done.
    pub fn check(
        &mut self,
        elem: InMemElement,
        custom_keep: bool,
    ) -> (InMemElement, Option<Finding>) {
        let mark = self.written.as_ref().map(String::len);
        let tag = elem.tag();
        let (elem, finding, noted) = find(
            self.matcher.as_ref(),
            self.written.as_mut(),
            elem,
            custom_keep,
        );
        // What a custom keep writes is the expert's word, not the guard's to check again;
        // a changed value is noted as it is written.
        if noted && (custom_keep || finding.is_some()) {
            if let (Some(w), Some(mark)) = (&mut self.written, mark) {
                w.truncate(mark);
            }
        }
        let noted_as_written = noted && finding.is_none();
        if !(custom_keep || is_bulk(tag) || noted_as_written) {
            self.note_written(&elem);
        }
        if self
            .written
            .as_ref()
            .is_some_and(|w| w.len() > WRITTEN_LIMIT)
        {
            self.written = None;
        }
        (elem, finding)
    }
}

/// Checks one element: the element to write, what was found and done, and whether the
/// value was noted in `written` as it was looked at.
fn find(
    matcher: Option<&Matcher>,
    written: Option<&mut String>,
    elem: InMemElement,
    custom_keep: bool,
) -> (InMemElement, Option<Finding>, bool) {
    let Some(m) = matcher else {
        return (elem, None, false);
    };
    let (tag, vr) = (elem.tag(), elem.vr());
    let Value::Primitive(p) = elem.value() else {
        return (elem, None, false);
    };
    if is_bulk(tag) {
        return (elem, None, false);
    }
    let noted = written.is_some() && is_text(vr);
    let checked = match vr {
        _ if !is_text(vr) && !matches!(vr, VR::OB | VR::UN) => None,
        // The CS values of standard attributes are defined terms (`PRIMARY`, `TEXT`):
        // a name part that happens to be one is not a leak, an ID or date would be.
        VR::CS if tag.0 % 2 == 0 => clean_strings(m, p, vr, Look::NoNameWords, written),
        VR::AE | VR::CS | VR::LO | VR::LT | VR::PN | VR::SH | VR::ST | VR::UC | VR::UR | VR::UT => {
            clean_strings(m, p, vr, Look::All, written)
        }
        VR::DA | VR::DT => clean_strings(m, p, vr, Look::BirthDate, written),
        VR::OB | VR::UN => clean_bytes(m, &p.to_bytes()),
        _ => None,
    };
    let Some((new, mut categories)) = checked else {
        return (elem, None, noted);
    };
    categories.sort();
    categories.dedup();
    if custom_keep {
        let f = Finding {
            categories,
            outcome: Outcome::KeptByCustomRule,
        };
        return (elem, Some(f), noted);
    }
    let (value, outcome) = match new {
        Some(v) => (v, Outcome::Cleaned),
        None => (dummy(vr), Outcome::Dummied),
    };
    let f = Finding {
        categories,
        outcome,
    };
    (DataElement::new(tag, vr, value), Some(f), noted)
}

/// A value's text as written, multiple values joined by `\`: borrowed for the usual
/// string values (trailing padding trimmed, as `to_multi_str` does), where `to_multi_str`
/// would copy each value.
fn text_of(p: &PrimitiveValue) -> std::borrow::Cow<'_, str> {
    match p {
        PrimitiveValue::Str(_) | PrimitiveValue::Strs(_) => p.to_str(),
        other => other.to_multi_str().join("\\").into(),
    }
}

/// The VRs whose values the guard reads as text.
fn is_text(vr: VR) -> bool {
    matches!(
        vr,
        VR::AE
            | VR::CS
            | VR::DA
            | VR::DT
            | VR::LO
            | VR::LT
            | VR::PN
            | VR::SH
            | VR::ST
            | VR::UC
            | VR::UR
            | VR::UT
    )
}

/// Image, overlay and waveform samples: numbers, not text, and cleaned (or not) by
/// Clean Pixel Data and the overlay rules.
fn is_bulk(tag: Tag) -> bool {
    matches!(tag.0, 0x7FE0 | 0x6000..=0x60FF)
        || tag == Tag(0x5400, 0x1010)
        || tag == Tag(0x5600, 0x0020)
}

/// The cleaned value of a text element, `Some(None)` when a dummy must replace it, or
/// `None` when it holds nothing identifying.
#[allow(clippy::type_complexity)]
fn clean_strings(
    m: &Matcher,
    p: &PrimitiveValue,
    vr: VR,
    look: Look,
    mut written: Option<&mut String>,
) -> Option<(Option<PrimitiveValue>, Vec<Category>)> {
    // A value built in memory may hold its multiple values joined by `\`; the free-text
    // VRs have a single value, in which `\` is an ordinary character. Most values hold
    // nothing: they are searched borrowed, and copied only when one holds a match.
    let joined = text_of(p);
    let single = matches!(vr, VR::LT | VR::ST | VR::UT | VR::UR);
    let parts = || {
        let (whole, split) = if single {
            (Some(joined.as_ref()), None)
        } else {
            (None, Some(joined.split('\\')))
        };
        whole.into_iter().chain(split.into_iter().flatten())
    };
    // The matches of each part, gathered only from the first part that has any.
    let mut found = Vec::new();
    for (i, v) in parts().enumerate() {
        let spans = match written.as_deref_mut() {
            Some(w) => m.find_into(v, look, w),
            None => m.find(v, look),
        };
        if found.is_empty() && !spans.is_empty() {
            found.resize_with(i, Vec::new);
        }
        if !found.is_empty() || !spans.is_empty() {
            found.push(spans);
        }
    }
    if found.is_empty() {
        return None;
    }
    let mut categories = Vec::new();
    let mut out = Vec::with_capacity(found.len());
    for (v, spans) in parts().zip(found) {
        if spans.is_empty() {
            out.push(v.to_string());
            continue;
        }
        categories.extend(spans.iter().map(|(_, c)| *c));
        let ranges: Vec<Range<usize>> = spans.into_iter().map(|(r, _)| r).collect();
        let cleaned = tidy(&remove(v, &ranges), vr);
        if !cleaned.is_empty() {
            out.push(cleaned);
        }
    }
    if categories.is_empty() {
        return None;
    }
    // A date or a URI cannot lose part of itself and stay valid; an element left with
    // nothing gets a dummy.
    if matches!(vr, VR::DA | VR::DT | VR::UR) || out.is_empty() {
        return Some((None, categories));
    }
    Some((Some(PrimitiveValue::Strs(out.into())), categories))
}

/// The value with identifying bytes overwritten by `X`, keeping its length: a binary
/// structure around the text (a vendor header) stays readable.
#[allow(clippy::type_complexity)]
fn clean_bytes(m: &Matcher, bytes: &[u8]) -> Option<(Option<PrimitiveValue>, Vec<Category>)> {
    let mut spans = Vec::new();
    let mut start = 0;
    loop {
        let end = (start + WINDOW).min(bytes.len());
        // Each window owns the matches that start in its part of the overlap.
        let from = if start == 0 { 0 } else { start + OVERLAP / 2 };
        let to = if end == bytes.len() {
            end
        } else {
            end - OVERLAP / 2
        };
        spans.extend(
            m.find_bytes(&bytes[start..end])
                .into_iter()
                .map(|(r, c)| (r.start + start..r.end + start, c))
                .filter(|(r, _)| r.start >= from && r.start < to),
        );
        if end == bytes.len() {
            break;
        }
        start = end - OVERLAP;
    }
    if spans.is_empty() {
        return None;
    }
    let mut out = bytes.to_vec();
    let mut categories = Vec::with_capacity(spans.len());
    for (r, c) in spans {
        out[r].fill(b'X');
        categories.push(c);
    }
    Some((Some(PrimitiveValue::U8(out.into())), categories))
}

/// `text` without the byte ranges (sorted, disjoint).
fn remove(text: &str, ranges: &[Range<usize>]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for r in ranges {
        out.push_str(&text[at..r.start]);
        out.push(' ');
        at = r.end;
    }
    out.push_str(&text[at..]);
    out
}

/// A value after removal: spaces collapsed, no separator left dangling at either end
/// or around a person name's components.
fn tidy(text: &str, vr: VR) -> String {
    let ends = |c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '-' | '_' | '.' | '/');
    let collapse = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    if vr == VR::PN {
        // Component groups (`=`) and components (`^`) keep their places; empty trailing
        // ones go, as PS3.5 6.2.1 asks.
        let groups: Vec<String> = text
            .split('=')
            .map(|g| {
                let parts: Vec<String> = g
                    .split('^')
                    .map(|c| collapse(c).trim_matches(ends).to_string())
                    .collect();
                parts.join("^").trim_end_matches('^').to_string()
            })
            .collect();
        let joined = groups.join("=").trim_end_matches('=').to_string();
        return if joined.chars().all(|c| c == '^' || c == '=') {
            String::new()
        } else {
            joined
        };
    }
    collapse(text).trim_matches(ends).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::plan::{Plan, ProfileId};
    use crate::decide::Decider;
    use dicom_dictionary_std::tags;

    fn ids() -> Identifying {
        let obj = InMemDicomObject::from_element_iter([
            DataElement::new(tags::PATIENT_NAME, VR::PN, "Abernathy^Douglas"),
            DataElement::new(tags::PATIENT_ID, VR::LO, "MRN51544914"),
            DataElement::new(tags::PATIENT_BIRTH_DATE, VR::DA, "19600412"),
        ]);
        let plan = Plan::builtin(ProfileId::Basic);
        Identifying::collect(&obj, &Decider::new(&plan))
    }

    fn check(g: &mut Guard, tag: Tag, vr: VR, v: &str) -> (String, Option<Outcome>) {
        let (e, f) = g.check(DataElement::new(tag, vr, v), false);
        (e.to_str().unwrap().to_string(), f.map(|f| f.outcome))
    }

    #[test]
    fn the_text_let_through_is_kept_normalised_as_written() {
        let ids = ids();
        let mut g = Guard::new(&ids);
        check(&mut g, tags::STUDY_DESCRIPTION, VR::LO, "Head CT, Smith");
        check(&mut g, tags::SERIES_DESCRIPTION, VR::LO, "Abernathy scan");
        g.check(
            DataElement::new(tags::PROTOCOL_NAME, VR::LO, "Douglas"),
            true,
        );
        let bytes = PrimitiveValue::from(b"\x01\x02VENDOR HDR\x00ab".to_vec());
        g.check(DataElement::new(Tag(0x0009, 0x1010), VR::OB, bytes), false);
        let written = g.into_written().expect("short text is kept");
        // The cleaned value as written, not the original; nothing of the custom keep.
        assert_eq!(written, "head ct smith scan vendor hdr");
        let other = |name: &str| {
            let obj = InMemDicomObject::from_element_iter([DataElement::new(
                tags::PATIENT_NAME,
                VR::PN,
                name,
            )]);
            Identifying::collect(&obj, &Decider::new(&Plan::builtin(ProfileId::Basic)))
        };
        assert!(holds_any(&other("Smith^Ann"))(&written));
        assert!(!holds_any(&other("Zeta^Ann"))(&written));
    }

    #[test]
    fn cleans_words_and_dummies_what_would_be_empty() {
        let ids = ids();
        let mut g = Guard::new(&ids);
        assert_eq!(
            check(
                &mut g,
                tags::CODE_MEANING,
                VR::LO,
                "Knee of Douglas Abernathy's"
            ),
            ("Knee of".into(), Some(Outcome::Cleaned))
        );
        assert_eq!(
            check(&mut g, tags::CODE_MEANING, VR::LO, "ABERNATHY"),
            ("ANONYMIZED".into(), Some(Outcome::Dummied))
        );
        assert_eq!(
            check(&mut g, tags::PROTOCOL_NAME, VR::LO, "Chest PA"),
            ("Chest PA".into(), None)
        );
        assert_eq!(
            check(&mut g, tags::CONTENT_DATE, VR::DA, "19600412"),
            ("19000101".into(), Some(Outcome::Dummied))
        );
        assert_eq!(
            check(
                &mut g,
                tags::REFERRING_PHYSICIAN_NAME,
                VR::PN,
                "Abernathy^Douglas^^Dr"
            ),
            ("^^^Dr".into(), Some(Outcome::Cleaned))
        );
        assert_eq!(
            check(&mut g, tags::OPERATORS_NAME, VR::PN, "Jones^Douglas"),
            ("Jones".into(), Some(Outcome::Cleaned))
        );
        // Multiple values are cleaned one by one; those left empty go.
        assert_eq!(
            check(&mut g, Tag(0x0010, 0x1000), VR::LO, "MRN51544914\\X-7"),
            ("X-7".into(), Some(Outcome::Cleaned))
        );
    }

    #[test]
    fn custom_keep_wins_and_is_said() {
        let ids = ids();
        let mut g = Guard::new(&ids);
        let e = DataElement::new(tags::STUDY_DESCRIPTION, VR::LO, "Abernathy");
        let (e, f) = g.check(e, true);
        assert_eq!(e.to_str().unwrap(), "Abernathy");
        assert_eq!(f.unwrap().outcome, Outcome::KeptByCustomRule);
    }

    #[test]
    fn binary_values_keep_their_length() {
        let ids = ids();
        let mut g = Guard::new(&ids);
        let mut big = vec![0u8; WINDOW + 10];
        // Across the first window's end, and one in the middle of the second.
        big[WINDOW - 3..WINDOW + 6].copy_from_slice(b"ABERNATHY");
        big.extend_from_slice(b"\x00id MRN51544914\x00");
        let e = DataElement::new(Tag(0x0029, 0x1010), VR::OB, PrimitiveValue::U8(big.into()));
        let (e, f) = g.check(e, false);
        let out = e.value().to_bytes().unwrap().into_owned();
        assert_eq!(out.len(), WINDOW + 10 + 16);
        assert_eq!(&out[WINDOW - 3..WINDOW + 6], b"XXXXXXXXX");
        assert!(!out.windows(8).any(|w| w == b"51544914"));
        assert_eq!(f.unwrap().categories, [Category::Name, Category::Id]);
    }
}
