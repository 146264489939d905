//! The one place that decides what happens to an element. The engine applies these
//! decisions; the CLI, the workbench and the reports only read them.
//!
//! Layers, first match wins: custom rule → structural (group lengths, 0002, 0004) →
//! private → HIPAA Safe Harbor → Table E.1-1 row (options, compound codes resolved) →
//! a presence rule for what the table does not list (`data/presence.csv`) → residual
//! rule. Then, for a standard attribute the profile decided (not a custom rule, not a
//! structural or private one), the presence rules may change the outcome where PS3.3
//! ties it to others of its data set ([`crate::profile::presence`]): it follows the removal of
//! the attribute it depends on, or, Type 2C with its condition holding, it is emptied
//! instead of removed.
//!
//! Beside it: the [`plan`] it carries out (profile, options, date shift, custom rules,
//! pixel text mode; above the pixel code, whose text mode it names) and the [`listing`]
//! of every rule of a plan in this order.

pub mod listing;
pub mod plan;

use crate::decide::plan::Plan;
use crate::profile::code::Code;
use crate::profile::hipaa::{safe_harbor, DEVICE_SERIAL_NUMBER, PATIENT_AGE, PATIENT_BIRTH_DATE};
use crate::profile::layers;
use crate::profile::options::ProfileOption;
use crate::profile::presence::{presence_rules, Siblings};
use crate::profile::rules::{CustomAction, CustomRule};
use crate::profile::table::{table, Row};

use crate::profile::vocab::{Action, Decision, Rule, Source};
use dicom_core::{Tag, VR};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

/// What the engine knows of a private element when deciding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivateKind {
    /// Standard (even group) element.
    Standard,
    /// A private element whose block creator and Table E.3.10-1 say it is safe (or not).
    Element { safe: bool },
}

/// Facts about the whole object that some rules need.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts {
    /// The patient is 90 or older (from Patient's Age, or birth date and study date).
    pub age_90_plus: bool,
    /// The SOP class includes the Enhanced General Equipment module, where Device
    /// Serial Number is Type 1 (enhanced multi-frame, legacy converted, segmentation...).
    pub enhanced_equipment: bool,
}

/// Compound codes need the IOD's type for the attribute, which Table E.1-1 does not carry.
/// dcmask never removes an attribute that a compound code allows to keep empty or dummied,
/// because the object's IOD may require it: X/Z and Z/D become Z, X/D becomes D, X/Z/D
/// becomes Z, and D where the attribute is Type 1 in a standard IOD (`data/compound-types.csv`), and
/// X/Z/U* keeps the references with their UIDs replaced. Removing instead would be equally
/// private but could break a Type 1 or Type 2 attribute.
///
/// Sequences are the exception: a sequence that is present needs at least one item unless
/// it is Type 2 (dciodvfy: "Bad Sequence number of Items 0"), so an emptied Type 3
/// sequence breaks the IOD that removing it keeps valid. Compound-coded sequences are
/// therefore removed (X), emptied (Z) where listed as Type 2 somewhere, and kept with
/// every item processed by the profile (D) where listed as Type 1 somewhere.
/// The IOD types of `data/compound-types.csv`: attributes Type 1 somewhere (resolved to
/// D) and sequences Type 2 somewhere (resolved to Z), each with where it is so.
fn compound_type(tag: Tag) -> Option<u8> {
    static TYPES: OnceLock<Vec<(Tag, u8)>> = OnceLock::new();
    let types = TYPES.get_or_init(|| {
        #[derive(serde::Deserialize)]
        struct Row {
            tag: String,
            #[allow(dead_code)] // for people reading the table
            keyword: String,
            r#type: u8,
            #[allow(dead_code)] // for people reading the table
            reason: String,
        }
        csv::Reader::from_reader(include_str!("../../data/compound-types.csv").as_bytes())
            .deserialize::<Row>()
            .map(|r| {
                let r = r.expect("data/compound-types.csv is valid");
                let tag =
                    crate::profile::tag::parse_tag(&r.tag).expect("data/compound-types.csv tag");
                (tag, r.r#type)
            })
            .collect()
    });
    types.iter().find(|(t, _)| *t == tag).map(|(_, k)| *k)
}

fn resolve(code: Code, tag: Tag, vr: VR) -> Code {
    if vr == VR::SQ {
        return match code {
            Code::XZ | Code::XD | Code::ZD | Code::XZD if compound_type(tag) == Some(1) => Code::D,
            Code::XZ | Code::ZD | Code::XZD if compound_type(tag) == Some(2) => Code::Z,
            Code::ZD => Code::D,
            Code::XZ | Code::XD | Code::XZD => Code::X,
            Code::XZU => Code::U,
            simple => simple,
        };
    }
    match code {
        Code::XZ => Code::Z,
        Code::XD => Code::D,
        Code::ZD | Code::XZD if compound_type(tag) == Some(1) => Code::D,
        Code::ZD | Code::XZD => Code::Z,
        Code::XZU => Code::U,
        simple => simple,
    }
}

const PATIENT_ID: Tag = Tag(0x0010, 0x0020);

fn is_text(vr: VR) -> bool {
    matches!(
        vr,
        VR::LO | VR::SH | VR::ST | VR::LT | VR::UT | VR::UC | VR::PN | VR::AE | VR::CS
    )
}

/// The action a simple code means for an element of this VR.
fn action_for(code: Code, tag: Tag, vr: VR, option: Option<ProfileOption>) -> Action {
    match code {
        Code::K => Action::Keep,
        Code::X => Action::Remove,
        Code::Z => Action::Empty,
        Code::D if tag == PATIENT_ID => Action::Pseudonymize,
        Code::D | Code::U if vr == VR::UI => Action::ReplaceUid,
        Code::D => Action::Dummy,
        Code::U if vr == VR::SQ => Action::Keep,
        Code::U => Action::Pseudonymize,
        Code::C => match (option, vr) {
            (Some(ProfileOption::RetainLongModifiedDates), VR::DA | VR::DT) => Action::ShiftDate,
            // A whole-day shift leaves times of day as they were.
            (Some(ProfileOption::RetainLongModifiedDates), _) => Action::Keep,
            (_, VR::SQ) => Action::Keep,
            (_, vr) if is_text(vr) => Action::Clean,
            // Binary content (overlay bitmaps, curves) cannot be cleaned without a reader for it.
            (_, VR::OB | VR::OW | VR::OF | VR::OD | VR::OL | VR::OV | VR::UN) => Action::Remove,
            _ => Action::Keep,
        },
        compound => action_for(resolve(compound, tag, vr), tag, vr, option),
    }
}

/// Whether Table E.1-1 requires the attribute to keep a value (its Basic code is D, or
/// resolves to D): a value emptied by cleaning is then replaced by a dummy.
pub fn needs_value(tag: Tag, vr: VR) -> bool {
    tag.0.is_multiple_of(2)
        && table()
            .lookup(tag)
            .is_some_and(|r| resolve(r.basic, tag, vr) == Code::D)
}

/// Decides per element for one plan.
pub struct Decider {
    pub(crate) options: Vec<ProfileOption>,
    pub(crate) hipaa: bool,
    pub(crate) custom: crate::profile::tag::TagMap<CustomRule>,
}

impl Decider {
    /// The decider for a plan: its options and custom rules indexed once.
    pub fn new(plan: &Plan) -> Decider {
        let custom = if plan.profile == crate::decide::plan::ProfileId::Custom {
            plan.custom_rules
                .iter()
                .map(|r| (r.tag(), r.clone()))
                .collect()
        } else {
            Default::default()
        };
        Decider {
            options: plan.effective_options(),
            hipaa: plan.is_hipaa(),
            custom,
        }
    }

    /// Whether the plan has this option, including those its profile implies.
    pub fn has(&self, option: ProfileOption) -> bool {
        self.options.contains(&option)
    }

    /// Whether Table E.1-1 keeps the attribute under the plan's options (Retain
    /// Institution Identity keeps Institution Name, say): the leak guard then does not
    /// take its value for identifying. Cheaper than [`Decider::decide`], which the guard
    /// would call for every identifying attribute of every object.
    pub fn table_keeps(&self, tag: Tag, vr: VR) -> bool {
        table().lookup(tag).is_some_and(|row| {
            let (code, option) = row.code_with(&self.options);
            action_for(code, tag, vr, option) == Action::Keep
        })
    }

    /// The decision for one element, wherever it sits in the object. `siblings` is what
    /// the presence rules need of the data set (top level or item) holding the element:
    /// `Siblings::of` that data set, collected once before its elements are decided.
    pub fn decide(
        &self,
        tag: Tag,
        vr: VR,
        private: PrivateKind,
        facts: &Facts,
        siblings: &Siblings,
    ) -> Decision {
        if let Some(rule) = self.custom.get(&tag) {
            return custom_decision(rule);
        }
        let profile = self.profile_decision(tag, vr, private, facts);
        if matches!(profile.rule.source, Source::Structural | Source::Private) {
            return profile;
        }
        presence_rules().adjust(tag, profile, siblings, &|t, vr| {
            self.decide(t, vr, PrivateKind::Standard, facts, siblings)
        })
    }

    /// The profile's layers for one element, before the presence conditions.
    fn profile_decision(&self, tag: Tag, vr: VR, private: PrivateKind, facts: &Facts) -> Decision {
        if let Some(d) = structural(tag) {
            return d;
        }
        if let PrivateKind::Element { safe } = private {
            return self.private(safe);
        }
        if self.hipaa {
            if let Some(d) = self.hipaa_rule(tag, vr, facts) {
                return d;
            }
        }
        match table().lookup(tag) {
            Some(row) => self.table_rule(row, tag, vr),
            None => presence_rules()
                .always(tag)
                .unwrap_or_else(|| self.residual(tag, vr)),
        }
    }

    pub(crate) fn private(&self, safe: bool) -> Decision {
        let row = table().private_row();
        let (code, option) = row.code_with(&self.options);
        let (action, explanation) = match (code, safe) {
            (Code::C, true) => (
                Action::Keep,
                "listed as safe in Table E.3.10-1 for its private creator",
            ),
            (Code::C, false) => (
                Action::Remove,
                "not known to be safe (Retain Safe Private keeps only Table E.3.10-1)",
            ),
            _ => (
                Action::Remove,
                "private attributes are removed by the Basic Profile",
            ),
        };
        Decision {
            action,
            rule: Rule {
                source: Source::Private,
                id: Cow::Borrowed(&row.id),
                code: Some(code.as_str()),
                option,
                explanation: explanation.into(),
                note: None,
            },
        }
    }

    pub(crate) fn hipaa_rule(&self, tag: Tag, vr: VR, facts: &Facts) -> Option<Decision> {
        let types = safe_harbor().types(tag);
        let (action, explanation) = if tag == PATIENT_AGE {
            (
                Action::AgeCap,
                "ages of 90 and over are pooled as 090Y (45 CFR 164.514(b)(2)(i)(C))",
            )
        } else if tag == PATIENT_BIRTH_DATE && facts.age_90_plus {
            (
                Action::Empty,
                "birth date emptied: for patients of 90 and over even the year identifies \
                 (kept present, without a value, as it is Type 2 in the Patient Module)",
            )
        } else if types.contains(&'C') && matches!(vr, VR::DA | VR::DT) {
            (
                Action::YearOnly,
                "dates are reduced to their year (45 CFR 164.514(b)(2)(i)(C))",
            )
        } else if tag == DEVICE_SERIAL_NUMBER && facts.enhanced_equipment {
            // Type 1 in Enhanced General Equipment: a dummy removes the identifier as
            // Safe Harbor asks and keeps those IODs valid.
            (Action::Dummy, "replaced by a dummy under Safe Harbor (device identifiers): Type 1 in this object's Enhanced General Equipment module")
        } else if types.contains(&'B') || tag == DEVICE_SERIAL_NUMBER {
            (Action::Remove, "removed outright under Safe Harbor (geography smaller than a state, device identifiers)")
        } else {
            return None;
        };
        let letter = if tag == DEVICE_SERIAL_NUMBER {
            'M'
        } else {
            types.first().copied().unwrap_or('C')
        };
        Some(Decision {
            action,
            rule: Rule {
                source: Source::Hipaa,
                id: letter.to_string().into(),
                code: None,
                option: None,
                explanation: explanation.into(),
                note: None,
            },
        })
    }

    pub(crate) fn table_rule(&self, row: &'static Row, tag: Tag, vr: VR) -> Decision {
        let (code, option) = row.code_with(&self.options);
        let action = action_for(code, tag, vr, option);
        let explanation = table_explanation(code, option, resolve(code, tag, vr));
        Decision {
            action,
            rule: Rule {
                source: if option.is_some() {
                    Source::Option
                } else {
                    Source::Table
                },
                id: Cow::Borrowed(&row.id),
                code: Some(code.as_str()),
                option,
                explanation: Cow::Borrowed(explanation),
                note: None,
            },
        }
    }

    /// Attributes Table E.1-1 does not list (`data/residual-rules.csv`). dcmask removes
    /// what is risky by construction and keeps the rest: every DA, DT and TM is handled as
    /// a date (as E.1.1 suggests), every PN as a name, free text is dummied or cleaned,
    /// and standard tags unknown to the dictionary are removed because nothing is known of
    /// them. Other standard attributes (pixel module, geometry, acquisition parameters,
    /// coded values) are kept; the leak guard still reads their values.
    fn residual(&self, tag: Tag, vr: VR) -> Decision {
        let r = layers::first(layers::residual(), tag, vr, self.hipaa, &self.options)
            .expect("the residual rules end with one for any element");
        layer_decision(r, Source::Residual)
    }
}

/// The explanation of a table decision. There are few distinct ones (code, option and
/// resolved code), so each is built once and shared: a decision is made per element.
fn table_explanation(code: Code, option: Option<ProfileOption>, resolved: Code) -> &'static str {
    type Key = (Code, Option<ProfileOption>, Code);
    static MADE: OnceLock<RwLock<HashMap<Key, &'static str>>> = OnceLock::new();
    let made = MADE.get_or_init(Default::default);
    let key = (code, option, resolved);
    if let Some(text) = made.read().ok().and_then(|m| m.get(&key).copied()) {
        return text;
    }
    let mut text = match option {
        Some(o) => format!("{} option: {}", o.label(), code.as_str()),
        None => format!("Basic Profile: {}", code.as_str()),
    };
    if resolved == Code::X && resolved != code {
        text.push_str(" resolved to X (a sequence that is present needs items unless Type 2)");
    } else if resolved != code {
        text.push_str(&format!(
            " resolved to {} (presence kept: the IOD may require it)",
            resolved.as_str()
        ));
    }
    let mut made = made
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Bounded by the number of (code, option, resolved) triples: leaking is a cache.
    made.entry(key)
        .or_insert_with(|| Box::leak(text.into_boxed_str()))
}

pub(crate) fn custom_decision(rule: &CustomRule) -> Decision {
    let action = match rule.act {
        CustomAction::Keep => Action::Keep,
        CustomAction::Remove => Action::Remove,
        CustomAction::Empty => Action::Empty,
        CustomAction::Replace => Action::Replace(rule.value.clone().unwrap_or_default()),
        CustomAction::Pseudonymize => Action::Pseudonymize,
        CustomAction::Generalize => match rule.generalization() {
            Some(g) => Action::Generalize(g),
            // A rule deserialised without `new_rule` and no usable `to`: nothing says how to
            // coarsen, so nothing is kept.
            None => Action::Remove,
        },
    };
    let explanation = match &rule.to {
        Some(to) => format!("custom rule: {} to {to}", rule.act.id()),
        None => format!("custom rule: {}", rule.act.id()),
    };
    Decision {
        action,
        rule: Rule {
            source: Source::Custom,
            id: rule.id.clone().into(),
            code: None,
            option: None,
            explanation: explanation.into(),
            note: rule.note.clone(),
        },
    }
}

fn structural(tag: Tag) -> Option<Decision> {
    let r = layers::first(layers::structural(), tag, VR::UN, false, &[])?;
    Some(layer_decision(r, Source::Structural))
}

/// The decision of a row of [`layers`].
pub(crate) fn layer_decision(r: &'static layers::LayerRule, source: Source) -> Decision {
    Decision {
        action: r.action.clone(),
        rule: Rule {
            source,
            id: Cow::Borrowed(&r.id),
            code: None,
            option: r.option(),
            explanation: Cow::Borrowed(&r.explanation),
            note: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::plan::{DateShift, ProfileId};
    use crate::profile::rules::parse_rules;

    fn decide(plan: &Plan, tag: Tag, vr: VR) -> Action {
        Decider::new(plan)
            .decide(
                tag,
                vr,
                PrivateKind::Standard,
                &Facts::default(),
                &Siblings::default(),
            )
            .action
    }

    #[test]
    fn basic_profile_actions() {
        let p = Plan::builtin(ProfileId::Basic);
        assert_eq!(decide(&p, Tag(0x0010, 0x0010), VR::PN), Action::Empty);
        assert_eq!(
            decide(&p, Tag(0x0010, 0x0020), VR::LO),
            Action::Pseudonymize
        );
        assert_eq!(decide(&p, Tag(0x0008, 0x0018), VR::UI), Action::ReplaceUid);
        assert_eq!(decide(&p, Tag(0x0008, 0x103E), VR::LO), Action::Remove);
        assert_eq!(decide(&p, Tag(0x0008, 0x0080), VR::LO), Action::Empty);
        assert_eq!(decide(&p, Tag(0x0008, 0x0023), VR::DA), Action::Dummy);
        assert_eq!(decide(&p, Tag(0x0008, 0x1140), VR::SQ), Action::Keep);
        assert_eq!(decide(&p, Tag(0x0028, 0x0010), VR::US), Action::Keep);
        assert_eq!(decide(&p, Tag(0x6000, 0x3000), VR::OW), Action::Remove);
        assert_eq!(decide(&p, Tag(0x0400, 0x0561), VR::SQ), Action::Remove);
        assert_eq!(decide(&p, Tag(0x0018, 0x9074), VR::DT), Action::Dummy);
        assert_eq!(decide(&p, Tag(0x0040, 0xA123), VR::PN), Action::Dummy);
        assert_eq!(decide(&p, Tag(0x0040, 0xA160), VR::UT), Action::Dummy);
        let mut c = p.clone();
        c.options = vec![ProfileOption::CleanStructuredContent];
        assert_eq!(decide(&c, Tag(0x0040, 0xA160), VR::UT), Action::Clean);
    }

    #[test]
    fn compound_coded_sequences_are_removed_unless_required() {
        let p = Plan::builtin(ProfileId::Basic);
        // X/Z, X/D and X/Z/D sequences that are Type 3: removed, not left without items.
        assert_eq!(decide(&p, Tag(0x0008, 0x1110), VR::SQ), Action::Remove);
        assert_eq!(decide(&p, Tag(0x0008, 0x1072), VR::SQ), Action::Remove);
        assert_eq!(decide(&p, Tag(0x0008, 0x0082), VR::SQ), Action::Remove);
        // Type 1C somewhere: kept, its items processed (D).
        assert_eq!(decide(&p, Tag(0x0008, 0x1111), VR::SQ), Action::Dummy);
        // Type 2 somewhere: emptied.
        assert_eq!(decide(&p, Tag(0x0040, 0x0555), VR::SQ), Action::Empty);
        // X/Z/U*: kept with the references replaced.
        assert_eq!(decide(&p, Tag(0x0008, 0x2112), VR::SQ), Action::Keep);
        // Non-sequence compound codes are unchanged.
        assert_eq!(decide(&p, Tag(0x0008, 0x0080), VR::LO), Action::Empty);
        assert_eq!(decide(&p, Tag(0x0008, 0x0021), VR::DA), Action::Dummy);
    }

    #[test]
    fn overlay_groups_go_with_their_data() {
        let p = Plan::builtin(ProfileId::Basic);
        assert_eq!(decide(&p, Tag(0x6000, 0x3000), VR::OW), Action::Remove);
        assert_eq!(decide(&p, Tag(0x6002, 0x0010), VR::US), Action::Remove);
        assert_eq!(decide(&p, Tag(0x601E, 0x0050), VR::SS), Action::Remove);
        assert_eq!(decide(&p, Tag(0x6020, 0x0010), VR::US), Action::Keep);
    }

    #[test]
    fn options_change_their_column() {
        let mut p = Plan::builtin(ProfileId::Basic);
        p.options = vec![ProfileOption::RetainUids, ProfileOption::CleanDescriptors];
        assert_eq!(decide(&p, Tag(0x0008, 0x0018), VR::UI), Action::Keep);
        assert_eq!(decide(&p, Tag(0x0008, 0x103E), VR::LO), Action::Clean);
        p.date_shift = Some(DateShift::Days(5));
        assert_eq!(decide(&p, Tag(0x0008, 0x0020), VR::DA), Action::ShiftDate);
        assert_eq!(decide(&p, Tag(0x0008, 0x0030), VR::TM), Action::Keep);
    }

    #[test]
    fn hipaa_layer() {
        let p = Plan::builtin(ProfileId::Hipaa);
        assert_eq!(decide(&p, Tag(0x0008, 0x0020), VR::DA), Action::YearOnly);
        assert_eq!(decide(&p, PATIENT_AGE, VR::AS), Action::AgeCap);
        assert_eq!(decide(&p, DEVICE_SERIAL_NUMBER, VR::LO), Action::Remove);
        let enhanced = Facts {
            enhanced_equipment: true,
            ..Facts::default()
        };
        let d = Decider::new(&p).decide(
            DEVICE_SERIAL_NUMBER,
            VR::LO,
            PrivateKind::Standard,
            &enhanced,
            &Siblings::default(),
        );
        assert_eq!(d.action, Action::Dummy);
        assert_eq!(decide(&p, Tag(0x0008, 0x0081), VR::ST), Action::Remove);
        assert_eq!(decide(&p, Tag(0x0008, 0x103E), VR::LO), Action::Clean);
        let old = Facts {
            age_90_plus: true,
            ..Facts::default()
        };
        let d = Decider::new(&p).decide(
            PATIENT_BIRTH_DATE,
            VR::DA,
            PrivateKind::Standard,
            &old,
            &Siblings::default(),
        );
        assert_eq!(d.action, Action::Empty);
    }

    #[test]
    fn custom_rules_override_and_carry_notes() {
        let mut p = Plan::builtin(ProfileId::Custom);
        p.custom_rules = parse_rules(
            r#"[{"id":"(0008,103E)","act":"keep","note":"no PHI in our series names"},{"id":"(0010,0010)","act":"remove"}]"#,
        )
        .unwrap();
        let d = Decider::new(&p).decide(
            Tag(0x0008, 0x103E),
            VR::LO,
            PrivateKind::Standard,
            &Facts::default(),
            &Siblings::default(),
        );
        assert_eq!(d.action, Action::Keep);
        assert_eq!(d.rule.note.as_deref(), Some("no PHI in our series names"));
        assert_eq!(decide(&p, Tag(0x0010, 0x0010), VR::PN), Action::Remove);
        assert_eq!(decide(&p, Tag(0x0010, 0x0030), VR::DA), Action::Empty);
    }

    #[test]
    fn private_elements() {
        let mut p = Plan::builtin(ProfileId::Basic);
        let d = |p: &Plan, safe| {
            Decider::new(p)
                .decide(
                    Tag(0x0019, 0x100C),
                    VR::IS,
                    PrivateKind::Element { safe },
                    &Facts::default(),
                    &Siblings::default(),
                )
                .action
        };
        assert_eq!(d(&p, true), Action::Remove);
        p.options = vec![ProfileOption::RetainSafePrivate];
        assert_eq!(d(&p, true), Action::Keep);
        assert_eq!(d(&p, false), Action::Remove);
    }

    #[test]
    fn presence_rules_adjust_the_profile_but_not_custom_rules() {
        use dicom_core::DataElement;
        use dicom_object::InMemDicomObject;
        let dog = Siblings::of(&InMemDicomObject::from_element_iter([DataElement::new(
            Tag(0x0010, 0x2201),
            VR::LO,
            "Canine",
        )]));
        let person = Tag(0x0010, 0x2297);
        let decide_in = |p: &Plan, tag, vr, set: &Siblings| {
            Decider::new(p).decide(tag, vr, PrivateKind::Standard, &Facts::default(), set)
        };
        let basic = Plan::builtin(ProfileId::Basic);
        let d = decide_in(&basic, person, VR::PN, &dog);
        assert_eq!((d.action, d.rule.source), (Action::Empty, Source::Presence));
        let d = decide_in(&basic, person, VR::PN, &Siblings::default());
        assert_eq!((d.action, d.rule.source), (Action::Remove, Source::Table));
        // Responsible Person is absent here: its role may not stay.
        let role = decide_in(&basic, Tag(0x0010, 0x2298), VR::CS, &dog);
        assert_eq!(role.action, Action::Remove);
        let mut custom = Plan::builtin(ProfileId::Custom);
        custom.custom_rules = parse_rules(r#"[{"id":"(0010,2297)","act":"remove"}]"#).unwrap();
        let d = decide_in(&custom, person, VR::PN, &dog);
        assert_eq!((d.action, d.rule.source), (Action::Remove, Source::Custom));
        // Not in Table E.1-1, removed by a presence rule rather than kept as not listed.
        let d = decide_in(&basic, Tag(0x0400, 0x0500), VR::SQ, &Siblings::default());
        assert_eq!(
            (d.action, d.rule.source),
            (Action::Remove, Source::Presence)
        );
    }
}
