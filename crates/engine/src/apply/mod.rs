//! Applies a plan to an object: walks every element at every depth, asks the decider,
//! carries out the decision and records it.
//!
//! Beside it: the check that an object holds what its SOP class requires ([`complete`])
//! and the markers that say how it was de-identified ([`markers`]).

mod complete;
pub mod markers;

use crate::actions::clean::{clean_text, LazyIdentifiers};
use crate::actions::dates;
use crate::actions::dummy::dummy;
use crate::actions::key::Key;
use crate::actions::pseudonym;
use crate::apply::markers::{add_markers, Temporal};
use crate::decide::plan::{DateShift, Plan};
use crate::decide::{Decider, Facts, PrivateKind};
use crate::error::{Error, Result};
use crate::guard::{self, Guard, Identifying};
use crate::pixel::{self, PixelTools, RegionRules};
use crate::profile::options::ProfileOption;
use crate::profile::private::{block_of, is_creator, safe_private};
use crate::profile::tag::{dictionary_vr, is_binary, keyword, tag_id};
use crate::profile::vocab::{Action, Decision, Source};
use crate::record::{Entry, Leak, Mappings, Record};
use crate::value::text;
use dicom_core::header::Header;
use dicom_core::value::{DataSetSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_encoding::text::SpecificCharacterSet;
use dicom_object::mem::InMemElement;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, InMemDicomObject};
use std::collections::{HashMap, HashSet};

/// The de-identified object with what was decided and the identifier mappings made.
pub struct Outcome {
    /// The de-identified object, file meta rebuilt.
    pub object: DefaultDicomObject,
    /// What was decided for each element, without original values.
    pub record: Record,
    /// The originals and replacements of UIDs and Patient IDs.
    pub mappings: Mappings,
    /// The identifying values of the original object, for the leak guard of other files
    /// of the same patient (see [`deidentify_with_related`]). Originals: keep in memory
    /// or in the linkage only.
    pub identifying: Identifying,
    /// The original Patient ID, which groups files by patient for the guard. An original
    /// value: never write it outside the linkage.
    pub patient: Option<String>,
    /// The text the leak guard checked, as written (what the guard let through),
    /// normalised as the guard compares text: a batch that learns more identifying values
    /// of the patient from later files looks for them here ([`guard::holds_any`]) instead
    /// of reading the output again.
    pub guarded_text: Option<String>,
}

/// dcmask's Implementation Class UID, written into every file meta group it creates.
pub const IMPLEMENTATION_CLASS_UID: &str = "2.25.302043645349391587962478346374416470071";
pub const IMPLEMENTATION_VERSION: &str = concat!("DCMASK_", env!("CARGO_PKG_VERSION"));

/// De-identifies one object according to the plan. With Clean Pixel Data, the shipped
/// region rules blank burned-in text.
pub fn deidentify(obj: DefaultDicomObject, plan: &Plan, key: &Key) -> Result<Outcome> {
    deidentify_with_regions(obj, plan, key, RegionRules::shipped())
}

/// [`deidentify`] with the region rules to use for Clean Pixel Data (e.g. the shipped
/// ones merged with a user's, [`RegionRules::shipped_with`]).
pub fn deidentify_with_regions(
    obj: DefaultDicomObject,
    plan: &Plan,
    key: &Key,
    regions: &RegionRules,
) -> Result<Outcome> {
    deidentify_with(obj, plan, key, &PixelTools::rules(regions))
}

/// [`deidentify`] with everything Clean Pixel Data may use: region rules, a text detector
/// (OCR, run on the original pixels when [`pixel::detect::needs_ocr`]), manual boxes and
/// the ids of proposed boxes the user switched off. Which detected text is blanked is
/// the plan's [`Plan::pixel_text`].
pub fn deidentify_with(
    obj: DefaultDicomObject,
    plan: &Plan,
    key: &Key,
    tools: &PixelTools,
) -> Result<Outcome> {
    deidentify_with_related(obj, plan, key, tools, None)
}

/// [`deidentify_with`], the leak guard also looking for `related`: the identifying values
/// of the same patient seen in other files of a batch or session (the union of their
/// [`Outcome::identifying`]).
pub fn deidentify_with_related(
    obj: DefaultDicomObject,
    plan: &Plan,
    key: &Key,
    tools: &PixelTools,
    related: Option<&Identifying>,
) -> Result<Outcome> {
    plan.validate()?;
    let meta = obj.meta().clone();
    if meta.media_storage_sop_class_uid().trim_end_matches('\0')
        == uids::MEDIA_STORAGE_DIRECTORY_STORAGE
    {
        return Err(Error::Dicomdir);
    }
    let incomplete = match crate::apply::complete::missing(&obj, meta.media_storage_sop_class_uid())
    {
        Some(e) if !plan.allow_incomplete => return Err(e),
        found => found.and_then(|e| e.missing_names()),
    };
    // Boxes come from the original object: the walk empties Manufacturer and the like,
    // and OCR must read the pixels before anything else changes them.
    let cleans_pixels = plan
        .effective_options()
        .contains(&ProfileOption::CleanPixelData);
    let pixel_assessment = cleans_pixels
        .then(|| pixel::Assessment::from(pixel::propose(&obj, tools, plan.pixel_text)));
    let burned_in = (!cleans_pixels)
        .then(|| pixel::burned_in_risk(&obj))
        .flatten()
        .map(|why| format!("pixels not cleaned by this profile, and {why}"));
    let ds = obj.into_inner();
    let charset = charset_of(&ds);
    let original = |t: Tag| text(&ds, t);
    let offset = match plan.shift() {
        Some(DateShift::Days(n)) => n,
        Some(DateShift::Auto(_)) => {
            pseudonym::date_offset(key, original(tags::PATIENT_ID).as_deref())
        }
        None => 0,
    };
    let decider = Decider::new(plan);
    let facts = facts(&ds);
    let identifying = Identifying::collect(&ds, &decider);
    let patient = guard::patient_of(&ds);
    let looked_for = identifying.with(related);
    let mut walker = Walker {
        charset,
        guard: Guard::new(&looked_for),
        decider,
        facts,
        ids: LazyIdentifiers::of(&ds),
        key,
        offset,
        record: Record {
            profile: plan.label(),
            options: plan
                .effective_options()
                .iter()
                .map(|o| o.id().to_string())
                .collect(),
            edition: crate::profile::table::EDITION,
            key_fingerprint: key.fingerprint(),
            date_shift: match plan.shift() {
                Some(DateShift::Days(_)) => "fixed",
                Some(DateShift::Auto(_)) => "auto",
                None => "none",
            },
            burned_in,
            incomplete: incomplete.map(|what| {
                format!("incomplete: {what} missing; written as incomplete objects were allowed")
            }),
            ..Record::default()
        },
        maps: Mappings::default(),
        temporal: Temporal::default(),
    };
    let original_identity = [original(tags::PATIENT_NAME), original(tags::PATIENT_ID)];
    let out = walker.walk(ds, "");
    let (mut out, transfer_syntax, pixels_cleaned) = match pixel_assessment {
        Some(a) => pixel::clean(out, &meta, a, &mut walker.record)?,
        None => (out, meta.transfer_syntax().to_string(), false),
    };
    let identity_kept = [tags::PATIENT_NAME, tags::PATIENT_ID]
        .iter()
        .zip(&original_identity)
        .any(|(t, orig)| {
            let now = text(&out, *t);
            orig.as_ref()
                .is_some_and(|o| !o.is_empty() && now.as_ref() == Some(o))
        });
    add_markers(
        &mut out,
        plan,
        walker.temporal,
        identity_kept,
        pixels_cleaned,
    );

    let instance = text(&out, tags::SOP_INSTANCE_UID)
        .unwrap_or_else(|| walker.map_uid(meta.media_storage_sop_instance_uid()));
    let new_meta = FileMetaTableBuilder::new()
        .transfer_syntax(transfer_syntax)
        .media_storage_sop_class_uid(meta.media_storage_sop_class_uid().trim_end_matches('\0'))
        .media_storage_sop_instance_uid(instance)
        .implementation_class_uid(IMPLEMENTATION_CLASS_UID)
        .implementation_version_name(IMPLEMENTATION_VERSION)
        .build()
        .map_err(|e| Error::write(format!("file meta group: {e}")))?;
    Ok(Outcome {
        object: out.with_exact_meta(new_meta),
        record: walker.record,
        mappings: walker.maps,
        guarded_text: walker.guard.into_written(),
        identifying,
        patient,
    })
}

/// Facts from the whole object that single-element rules need.
fn facts(ds: &InMemDicomObject) -> Facts {
    let value = |t: Tag| text(ds, t);
    let from_age = value(tags::PATIENT_AGE).and_then(|a| dates::age_years(&a));
    let from_dates = value(tags::PATIENT_BIRTH_DATE).and_then(|b| {
        [
            tags::STUDY_DATE,
            tags::SERIES_DATE,
            tags::ACQUISITION_DATE,
            tags::CONTENT_DATE,
        ]
        .into_iter()
        .find_map(|t| value(t).and_then(|d| dates::years_between(&b, &d)))
    });
    let class = value(tags::SOP_CLASS_UID).unwrap_or_default();
    Facts {
        age_90_plus: from_age.max(from_dates).is_some_and(|y| y >= 90),
        enhanced_equipment: uses_enhanced_equipment(class.trim_end_matches(['\0', ' '])),
    }
}

/// Whether a SOP class's IOD includes the Enhanced General Equipment module, judged by
/// the families of IODs that do, whose standard names say so
/// (`data/enhanced-equipment.csv`).
fn uses_enhanced_equipment(class_uid: &str) -> bool {
    use dicom_core::dictionary::UidDictionary;
    static FAMILIES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let families = FAMILIES.get_or_init(|| {
        csv::Reader::from_reader(include_str!("../../data/enhanced-equipment.csv").as_bytes())
            .records()
            .map(|r| r.expect("data/enhanced-equipment.csv is valid")[0].to_string())
            .collect()
    });
    let Some(entry) = dicom_dictionary_std::StandardSopClassDictionary.by_uid(class_uid) else {
        return false;
    };
    families
        .iter()
        .any(|family| entry.name.contains(family.as_str()))
}

struct Walker<'a> {
    /// The object's character set, for decoding values written with VR UN.
    charset: SpecificCharacterSet,
    /// Checks every value about to be written as kept, cleaned or replaced.
    guard: Guard<'a>,
    decider: Decider,
    facts: Facts,
    ids: LazyIdentifiers,
    key: &'a Key,
    offset: i64,
    record: Record,
    maps: Mappings,
    temporal: Temporal,
}

impl Walker<'_> {
    fn walk(&mut self, ds: InMemDicomObject, prefix: &str) -> InMemDicomObject {
        let creators: HashMap<(u16, u16), String> = ds
            .iter()
            .filter(|e| is_creator(e.tag()))
            .filter_map(|e| Some(((e.tag().0, e.tag().1), e.to_str().ok()?.to_string())))
            .collect();
        let siblings = crate::profile::presence::Siblings::of(&ds);
        let mut out = InMemDicomObject::new_empty();
        let mut kept_blocks = HashSet::new();
        let mut creator_elems = Vec::new();
        for elem in ds {
            let elem = resolve_un(elem, &self.charset);
            let tag = elem.tag();
            if is_creator(tag) {
                creator_elems.push(elem);
                continue;
            }
            let private = if tag.0.is_multiple_of(2) {
                PrivateKind::Standard
            } else {
                let creator = block_of(tag).and_then(|b| creators.get(&(tag.0, b)));
                PrivateKind::Element {
                    safe: creator.is_some_and(|c| safe_private().is_safe(tag, c)),
                }
            };
            let decision = self
                .decider
                .decide(tag, elem.vr(), private, &self.facts, &siblings);
            if let Some(kept) = self.apply(elem, &decision, prefix) {
                if let Some(b) = block_of(tag) {
                    kept_blocks.insert((tag.0, b));
                }
                out.put(kept);
            }
        }
        // A private creator stays exactly when some element of its block stays.
        for elem in creator_elems {
            let tag = elem.tag();
            let keep = kept_blocks.contains(&(tag.0, tag.1));
            let decision = Decision {
                action: if keep { Action::Keep } else { Action::Remove },
                rule: crate::profile::vocab::Rule {
                    source: Source::Private,
                    id: "gggg,0010-00FF".into(),
                    code: None,
                    option: None,
                    explanation: if keep {
                        "private creator kept with the safe elements of its block".into()
                    } else {
                        "private creator removed with its block".into()
                    },
                    note: None,
                },
            };
            if let Some(kept) = self.apply(elem, &decision, prefix) {
                out.put(kept);
            }
        }
        out
    }

    /// Carries out a decision on one element; `None` when it is removed.
    fn apply(
        &mut self,
        elem: InMemElement,
        decision: &Decision,
        prefix: &str,
    ) -> Option<InMemElement> {
        let tag = elem.tag();
        // Built only when needed: most elements are kept silently and never recorded.
        let path = || {
            let mut p = String::with_capacity(prefix.len() + 9);
            p.push_str(prefix);
            crate::profile::tag::push_tag_digits(&mut p, tag);
            p
        };
        let vr = elem.vr();
        // A date present in the input, for Longitudinal Temporal Information Modified.
        let dated = matches!(vr, VR::DA | VR::DT)
            && elem
                .to_str()
                .is_ok_and(|s| !s.trim_matches(['\0', ' ']).is_empty());
        let (result, changed) = match (&decision.action, elem.value()) {
            (Action::Remove, _) => (None, true),
            (Action::Empty, Value::Sequence(s)) => {
                let changed = !s.items().is_empty();
                (
                    Some(DataElement::new(
                        tag,
                        VR::SQ,
                        DataSetSequence::new(Vec::new(), Length::UNDEFINED),
                    )),
                    changed,
                )
            }
            // A dummied code sequence (e.g. Person Identification Code Sequence): its
            // codes are the identifier, so one dummy code item replaces them all.
            (Action::Dummy, Value::Sequence(s))
                if s.items()
                    .first()
                    .is_some_and(|i| i.get(tags::CODE_VALUE).is_some()) =>
            {
                let item = InMemDicomObject::from_element_iter([
                    DataElement::new(tags::CODE_VALUE, VR::SH, "ANONYMIZED"),
                    DataElement::new(tags::CODING_SCHEME_DESIGNATOR, VR::SH, "99DCMASK"),
                    DataElement::new(tags::CODE_MEANING, VR::LO, "Anonymized"),
                ]);
                (
                    Some(DataElement::new(
                        tag,
                        VR::SQ,
                        DataSetSequence::new(vec![item], Length::UNDEFINED),
                    )),
                    true,
                )
            }
            (_, Value::Sequence(_)) => {
                let before = self.record.changed_count();
                let items = elem.into_value().into_items().expect("sequence");
                let items: Vec<InMemDicomObject> = items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| self.walk(item, &format!("{}/{i}/", path())))
                    .collect();
                let changed = self.record.changed_count() > before;
                (
                    Some(DataElement::new(
                        tag,
                        VR::SQ,
                        DataSetSequence::new(items, Length::UNDEFINED),
                    )),
                    changed,
                )
            }
            (Action::Keep, _) => (Some(elem), false),
            (Action::Empty, v) => {
                let changed = !v
                    .primitive()
                    .is_none_or(|p| p.multiplicity() == 0 || p.to_str().trim().is_empty());
                (
                    Some(DataElement::new(tag, vr, PrimitiveValue::Empty)),
                    changed,
                )
            }
            (action, Value::Primitive(p)) => {
                let new = self.transform(action, tag, vr, p);
                let changed = new != *p;
                (Some(DataElement::new(tag, vr, new)), changed)
            }
            // Encapsulated pixel data reached by a value-changing rule: only removal is safe.
            (_, Value::PixelSequence(_)) => (None, true),
        };
        let (result, leak) = match result {
            Some(e) if guards(&decision.action) => {
                let custom_keep =
                    decision.rule.source == Source::Custom && decision.action == Action::Keep;
                let (e, finding) = self.guard.check(e, custom_keep);
                (Some(e), finding)
            }
            other => (other, None),
        };
        if dated {
            // What became of this date, the guard's word included.
            let replaced = leak
                .as_ref()
                .is_some_and(|f| f.outcome != crate::profile::vocab::Outcome::KeptByCustomRule);
            self.temporal.note(if replaced {
                None
            } else {
                Some(&decision.action)
            });
        }
        let silent = leak.is_none()
            && decision.rule.source == Source::Residual
            && decision.rule.id == "not-listed"
            && !changed;
        if !silent {
            let (action, rule, changed, leak) = match leak {
                Some(f) if f.outcome == crate::profile::vocab::Outcome::KeptByCustomRule => (
                    decision.action.clone(),
                    decision.rule.clone(),
                    changed,
                    Some(Leak {
                        categories: f.categories,
                        outcome: f.outcome,
                        overrode: None,
                    }),
                ),
                Some(f) => (
                    if f.outcome == crate::profile::vocab::Outcome::Dummied {
                        Action::Dummy
                    } else {
                        Action::Clean
                    },
                    leak_guard_rule(f.outcome),
                    true,
                    Some(Leak {
                        categories: f.categories,
                        outcome: f.outcome,
                        overrode: Some(decision.rule.clone()),
                    }),
                ),
                None => (
                    decision.action.clone(),
                    decision.rule.clone(),
                    changed,
                    None,
                ),
            };
            self.record.entries.push(Entry {
                path: path(),
                tag: tag_id(tag),
                keyword: keyword(tag),
                vr: vr.to_string(),
                action,
                rule,
                changed,
                leak,
            });
        }
        result
    }

    /// The new value of a primitive element under a value-changing action.
    fn transform(
        &mut self,
        action: &Action,
        tag: Tag,
        vr: VR,
        value: &PrimitiveValue,
    ) -> PrimitiveValue {
        let strings = || -> Vec<String> { value.to_multi_str().into_owned() };
        let map_each = |f: &mut dyn FnMut(&str) -> Option<String>| -> PrimitiveValue {
            let out: Vec<String> = strings().iter().filter_map(|s| f(s)).collect();
            if out.is_empty() || out.iter().all(String::is_empty) {
                PrimitiveValue::Empty
            } else {
                PrimitiveValue::Strs(out.into())
            }
        };
        match action {
            Action::Dummy => dummy(vr),
            Action::ReplaceUid => map_each(&mut |s| Some(self.map_uid(s))),
            Action::Pseudonymize if vr == VR::UI => map_each(&mut |s| Some(self.map_uid(s))),
            Action::Pseudonymize if tag == tags::PATIENT_ID => map_each(&mut |s| {
                let new = pseudonym::patient_id(self.key, s);
                self.maps
                    .patient_ids
                    .insert(s.trim().to_string(), new.clone());
                Some(new)
            }),
            Action::Pseudonymize if is_binary(vr) => dummy(vr),
            Action::Pseudonymize => map_each(&mut |s| Some(pseudonym::token(self.key, vr, s))),
            Action::Clean => {
                let (ids, counts) = (self.ids.get(), &mut self.record.cleaned);
                let cleaned = map_each(&mut |s| Some(clean_text(s, ids, counts)));
                // Nothing left of a value the table codes D (e.g. a Structure Set Label
                // equal to the Study ID): a dummy keeps the Type 1 attribute valid.
                if cleaned == PrimitiveValue::Empty && crate::decide::needs_value(tag, vr) {
                    dummy(vr)
                } else {
                    cleaned
                }
            }
            Action::ShiftDate => {
                let days = self.offset;
                map_each(&mut |s| dates::shift(s, days))
            }
            Action::YearOnly => map_each(&mut dates::year_only),
            Action::AgeCap => map_each(&mut |s| match dates::age_years(s) {
                Some(y) if y >= 90 => Some("090Y".into()),
                Some(_) => Some(s.trim().to_string()),
                None => None,
            }),
            Action::Replace(v) => replacement(vr, v),
            Action::Generalize(g) => g.value(vr, value),
            Action::Keep | Action::Remove | Action::Empty => value.clone(),
        }
    }

    fn map_uid(&mut self, original: &str) -> String {
        let orig = original.trim_end_matches(['\0', ' ']);
        if orig.is_empty() {
            return String::new();
        }
        let new = pseudonym::uid(self.key, orig);
        self.maps.uids.insert(orig.to_string(), new.clone());
        new
    }
}

/// Whether the leak guard looks at what an action writes: values kept, cleaned or given
/// by the user. The others write what the engine made (dummies, keyed pseudonyms, UIDs,
/// shifted or reduced dates), which holds no original. A generalized value is made from
/// the original, but only for ages, dates and numbers, and what is written is the
/// engine's (a band's lower bound, the first of a month or year, a multiple of the
/// step): no text of the original survives, and checking it could only dummy a
/// coarsened date that happens to spell a birth date (a year cut to 0101 on a 1 January
/// birthday), undoing what the expert chose.
fn guards(action: &Action) -> bool {
    matches!(action, Action::Keep | Action::Clean | Action::Replace(_))
}

/// The rule of a leak-guard intervention.
fn leak_guard_rule(outcome: crate::profile::vocab::Outcome) -> crate::profile::vocab::Rule {
    crate::profile::vocab::Rule {
        source: Source::LeakGuard,
        id: "leak-guard".into(),
        code: None,
        option: None,
        explanation: if outcome == crate::profile::vocab::Outcome::Dummied {
            "held an identifying value of the patient and nothing valid was left without it: \
             replaced by a dummy"
        } else {
            "held an identifying value of the patient: the identifying words were dropped"
        }
        .into(),
        note: None,
    }
}

/// The character set named by the object's Specific Character Set (first term dicom-rs
/// knows), read also when that element itself was written with VR UN.
fn charset_of(ds: &InMemDicomObject) -> SpecificCharacterSet {
    let Some(e) = ds.get(tags::SPECIFIC_CHARACTER_SET) else {
        return SpecificCharacterSet::default();
    };
    let text = match e.value() {
        Value::Primitive(p) if e.vr() == VR::UN => {
            String::from_utf8_lossy(&p.to_bytes()).into_owned()
        }
        _ => e.to_str().map(|s| s.into_owned()).unwrap_or_default(),
    };
    text.split('\\')
        .map(|c| c.trim_matches(|c: char| c == ' ' || c == '\0'))
        .find_map(SpecificCharacterSet::from_code)
        .unwrap_or_default()
}

/// A standard element written with VR UN although the dictionary knows it (some writers
/// do this for every element, e.g. `explicit_VR-UN.dcm`) is re-read as its dictionary VR
/// before anything is decided. Otherwise a UID would get a binary dummy instead of its
/// mapping, and dates and names outside Table E.1-1 would not be recognised by VR.
/// A UN value is encoded as Implicit VR Little Endian (PS3.5 6.2.2), sequences included,
/// so the element is decoded as a one-element implicit VR data set. Values that do not
/// decode stay UN (and are then treated as binary).
fn resolve_un(elem: InMemElement, charset: &SpecificCharacterSet) -> InMemElement {
    let tag = elem.tag();
    if elem.vr() != VR::UN || tag.0 % 2 == 1 || tag.1 == 0 {
        return elem;
    }
    if matches!(dictionary_vr(tag), None | Some(VR::UN)) {
        return elem;
    }
    let Value::Primitive(p) = elem.value() else {
        return elem;
    };
    let bytes = p.to_bytes();
    let Ok(len) = u32::try_from(bytes.len()) else {
        return elem;
    };
    let mut buf = Vec::with_capacity(bytes.len() + 8);
    buf.extend_from_slice(&tag.0.to_le_bytes());
    buf.extend_from_slice(&tag.1.to_le_bytes());
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&bytes);
    let ts = &dicom_transfer_syntax_registry::entries::IMPLICIT_VR_LITTLE_ENDIAN.erased();
    match InMemDicomObject::read_dataset_with_ts_cs(&buf[..], ts, charset.clone()) {
        Ok(mut one) => one.take(tag).unwrap_or(elem),
        Err(_) => elem,
    }
}

/// A user-given replacement, converted for numeric VRs; unparseable numbers become empty.
fn replacement(vr: VR, v: &str) -> PrimitiveValue {
    let t = v.trim();
    match vr {
        VR::US => t
            .parse::<u16>()
            .map(PrimitiveValue::from)
            .unwrap_or(PrimitiveValue::Empty),
        VR::SS => t
            .parse::<i16>()
            .map(PrimitiveValue::from)
            .unwrap_or(PrimitiveValue::Empty),
        VR::UL => t
            .parse::<u32>()
            .map(PrimitiveValue::from)
            .unwrap_or(PrimitiveValue::Empty),
        VR::SL => t
            .parse::<i32>()
            .map(PrimitiveValue::from)
            .unwrap_or(PrimitiveValue::Empty),
        VR::FL => t
            .parse::<f32>()
            .map(PrimitiveValue::from)
            .unwrap_or(PrimitiveValue::Empty),
        VR::FD => t
            .parse::<f64>()
            .map(PrimitiveValue::from)
            .unwrap_or(PrimitiveValue::Empty),
        _ if is_binary(vr) => PrimitiveValue::Empty,
        _ if v.is_empty() => PrimitiveValue::Empty,
        _ => PrimitiveValue::Strs(v.split('\\').map(str::to_string).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::plan::ProfileId;

    #[test]
    fn dummied_code_sequences_lose_their_codes() {
        let code = InMemDicomObject::from_element_iter([
            DataElement::new(tags::CODE_VALUE, VR::SH, "EMP-4471"),
            DataElement::new(tags::CODING_SCHEME_DESIGNATOR, VR::SH, "HOSPITAL"),
            DataElement::new(tags::CODE_MEANING, VR::LO, "Dr Riviera staff badge"),
        ]);
        let ds = InMemDicomObject::from_element_iter([
            DataElement::new(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.7"),
            DataElement::new(tags::SOP_INSTANCE_UID, VR::UI, "1.2.3"),
            DataElement::new(tags::STUDY_INSTANCE_UID, VR::UI, "1.2.3.1"),
            DataElement::new(tags::SERIES_INSTANCE_UID, VR::UI, "1.2.3.2"),
            DataElement::new(
                tags::PIXEL_DATA,
                VR::OB,
                dicom_core::PrimitiveValue::from(vec![0u8; 2]),
            ),
            DataElement::new(
                Tag(0x0040, 0x1101),
                VR::SQ,
                DataSetSequence::new(vec![code], Length::UNDEFINED),
            ),
        ]);
        let obj = ds
            .with_meta(FileMetaTableBuilder::new().transfer_syntax("1.2.840.10008.1.2.1"))
            .unwrap();
        let key = Key::from_file_contents(b"00112233445566778899aabbccddeeff").unwrap();
        let out = deidentify(obj, &Plan::builtin(ProfileId::Basic), &key).unwrap();
        let items = out
            .object
            .get(Tag(0x0040, 0x1101))
            .unwrap()
            .items()
            .unwrap();
        assert_eq!(items.len(), 1);
        let text = |t| items[0].get(t).unwrap().to_str().unwrap().to_string();
        assert_eq!(text(tags::CODE_VALUE), "ANONYMIZED");
        assert_eq!(text(tags::CODE_MEANING), "Anonymized");
    }
}
