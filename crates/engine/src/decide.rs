//! The one place that decides what happens to an element. The engine applies these
//! decisions; the CLI, the workbench and the reports only read them.
//!
//! Layers, first match wins: custom rule → structural (group lengths, 0002, 0004) →
//! private → HIPAA Safe Harbor → Table E.1-1 row (options, compound codes resolved) →
//! a presence rule for what the table does not list (`data/presence.csv`) → residual
//! rule. Then, for a standard attribute the profile decided (not a custom rule, not a
//! structural or private one), the presence rules may change the outcome where PS3.3
//! ties it to others of its data set ([`crate::presence`]): it follows the removal of
//! the attribute it depends on, or, Type 2C with its condition holding, it is emptied
//! instead of removed.

use crate::code::Code;
use crate::generalize::Generalization;
use crate::hipaa::{safe_harbor, DEVICE_SERIAL_NUMBER, PATIENT_AGE, PATIENT_BIRTH_DATE};
use crate::layers;
use crate::options::ProfileOption;
use crate::plan::Plan;
use crate::presence::{presence_rules, Siblings};
use crate::rules::{CustomAction, CustomRule};
use crate::table::{table, Row};
use crate::tag::{dictionary_vr, display_name, tag_id};
use dicom_core::{Tag, VR};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

/// What is done to one element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Action {
    Keep,
    Remove,
    /// Zero-length value (a sequence with no items).
    Empty,
    /// A fixed dummy value valid for the VR.
    Dummy,
    /// The keyed `2.25.` UID pseudonym.
    ReplaceUid,
    /// Free text with identifying tokens dropped.
    Clean,
    /// Dates moved by the patient's offset.
    ShiftDate,
    /// Dates cut to `YYYY0101`.
    YearOnly,
    /// Ages of 90 years and more pooled as `090Y`.
    AgeCap,
    /// A value the user gave.
    Replace(String),
    /// A keyed replacement valid for the VR (Patient ID, custom rules).
    Pseudonymize,
    /// The value coarsened (custom `generalize` rules): age bands, month, year, rounding.
    Generalize(Generalization),
}

impl Action {
    pub fn label(&self) -> &'static str {
        match self {
            Action::Keep => "keep",
            Action::Remove => "remove",
            Action::Empty => "empty",
            Action::Dummy => "dummy",
            Action::ReplaceUid => "replace UID",
            Action::Clean => "clean",
            Action::ShiftDate => "shift date",
            Action::YearOnly => "year only",
            Action::AgeCap => "cap age at 90",
            Action::Replace(_) => "replace",
            Action::Pseudonymize => "pseudonymize",
            Action::Generalize(_) => "generalize",
        }
    }
}

/// Which layer a decision came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A row of Table E.1-1, Basic Profile column.
    Table,
    /// A row of Table E.1-1, an option's column.
    Option,
    /// The HIPAA Safe Harbor layer.
    Hipaa,
    /// A custom rule.
    Custom,
    /// Private attributes (the `gggg,eeee` row and Table E.3.10-1).
    Private,
    /// Attributes outside the table: dcmask's residual rule.
    Residual,
    /// File structure (group lengths, group 0002 and 0004).
    Structural,
    /// A pixel region rule of Clean Pixel Data.
    Pixel,
    /// The leak guard: an identifying value of the patient found in what was about to be
    /// written, whatever the profile decided for that element.
    LeakGuard,
    /// A change an expert made by hand in the workbench (an edit, a drawn box).
    Manual,
    /// A presence rule beyond Table E.1-1 (`data/presence.csv`): an attribute removed
    /// although the table does not list it, removed with the attribute its presence
    /// depends on, or kept empty as a Type 2C attribute whose condition holds.
    Presence,
}

impl Source {
    pub const ALL: [Source; 11] = [
        Source::Table,
        Source::Option,
        Source::Hipaa,
        Source::Custom,
        Source::Private,
        Source::Residual,
        Source::Structural,
        Source::Pixel,
        Source::LeakGuard,
        Source::Manual,
        Source::Presence,
    ];

    /// The source as it is serialised (`table`, `leak_guard`, ...), without serialising:
    /// batch counts name it for every recorded element.
    pub fn name(self) -> &'static str {
        static NAMES: OnceLock<Vec<String>> = OnceLock::new();
        let names = NAMES.get_or_init(|| {
            Source::ALL
                .iter()
                .map(|s| {
                    serde_json::to_value(s)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .expect("a source serialises as a string")
                })
                .collect()
        });
        &names[Source::ALL.iter().position(|s| *s == self).expect("listed")]
    }
}

/// Why an element was treated as it was; printable and serialisable, never holding values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub source: Source,
    /// The rule's key: a table row id (`0010,0010`, `60xx,3000`), a tag id, or a residual rule name.
    /// Borrowed from the embedded tables where it can be: a decision is made per element.
    pub id: Cow<'static, str>,
    /// The table code before resolution, e.g. `X/Z/D`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub option: Option<ProfileOption>,
    pub explanation: Cow<'static, str>,
    /// The expert's rationale of a custom rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The outcome for one element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    pub rule: Rule,
}

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
        csv::Reader::from_reader(include_str!("../data/compound-types.csv").as_bytes())
            .deserialize::<Row>()
            .map(|r| {
                let r = r.expect("data/compound-types.csv is valid");
                let tag = crate::tag::parse_tag(&r.tag).expect("data/compound-types.csv tag");
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
    options: Vec<ProfileOption>,
    hipaa: bool,
    custom: crate::tag::TagMap<CustomRule>,
}

impl Decider {
    pub fn new(plan: &Plan) -> Decider {
        let custom = if plan.profile == crate::plan::ProfileId::Custom {
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
    /// [`Siblings::of`] that data set, collected once before its elements are decided.
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

    fn private(&self, safe: bool) -> Decision {
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

    fn hipaa_rule(&self, tag: Tag, vr: VR, facts: &Facts) -> Option<Decision> {
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

    fn table_rule(&self, row: &'static Row, tag: Tag, vr: VR) -> Decision {
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

fn custom_decision(rule: &CustomRule) -> Decision {
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
fn layer_decision(r: &'static layers::LayerRule, source: Source) -> Decision {
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

/// One line of a profile listing (`dcmask profile show`, the workbench's rule count).
#[derive(Debug, Clone, Serialize)]
pub struct RuleEntry {
    /// Tag id or table row id.
    pub id: String,
    pub name: String,
    pub action: String,
    pub rule: Rule,
}

/// Every rule of a plan, layer by layer: Table E.1-1 rows (with options), the presence
/// rules beyond the table (each applies only where its condition holds), then the
/// HIPAA layer, the shipped pixel region rules when pixels are cleaned, then custom
/// rules. Its length is the profile's rule count.
pub fn rule_list(plan: &Plan) -> Vec<RuleEntry> {
    rule_list_with(plan, crate::pixel::regions::RegionRules::shipped())
}

/// [`rule_list`] with the region rules actually in use (shipped plus a user's file).
pub fn rule_list_with(plan: &Plan, regions: &crate::pixel::regions::RegionRules) -> Vec<RuleEntry> {
    let decider = Decider::new(plan);
    let base_only = Decider {
        custom: Default::default(),
        hipaa: false,
        ..Decider::new(plan)
    };
    let mut out = Vec::new();
    let layer_entry = |r: &'static layers::LayerRule, source: Source| RuleEntry {
        id: format!("({})", r.id),
        name: r.applies_to.clone(),
        action: r.action.label().into(),
        rule: layer_decision(r, source).rule,
    };
    // In the order the decider consults them: custom rules (in the file's order; the
    // parser allows one per tag), structural, the HIPAA layer, Table
    // E.1-1 with the private attributes row, presence rules, the residual rule; then
    // the leak guard over every value written, and the pixel region rules.
    if plan.profile == crate::plan::ProfileId::Custom {
        for rule in &plan.custom_rules {
            let d = custom_decision(rule);
            out.push(RuleEntry {
                id: rule.id.clone(),
                name: display_name(rule.tag()),
                action: d.action.label().into(),
                rule: d.rule,
            });
        }
    }
    out.extend(
        layers::structural()
            .iter()
            .map(|r| layer_entry(r, Source::Structural)),
    );
    if decider.hipaa {
        for (tag, _) in safe_harbor().overridden() {
            let vr = dictionary_vr(tag).unwrap_or(VR::UN);
            if let Some(d) = decider.hipaa_rule(tag, vr, &Facts::default()) {
                out.push(RuleEntry {
                    id: tag_id(tag),
                    name: display_name(tag),
                    action: d.action.label().into(),
                    rule: d.rule,
                });
            }
        }
    }
    for row in &table().rows {
        let (tag, vr) = match row.pattern {
            crate::table::TagPattern::Exact(t) => (t, dictionary_vr(t).unwrap_or(VR::UN)),
            crate::table::TagPattern::Masked { value, .. } => {
                let t = Tag((value >> 16) as u16, value as u16);
                (t, dictionary_vr(t).unwrap_or(VR::OB))
            }
            crate::table::TagPattern::Private => (Tag(0x0009, 0x1000), VR::UN),
        };
        let d = if row.pattern == crate::table::TagPattern::Private {
            base_only.private(false)
        } else {
            base_only.table_rule(row, tag, vr)
        };
        out.push(RuleEntry {
            id: format!("({})", row.id.to_uppercase().replace('X', "x")),
            name: row.name.clone(),
            action: d.action.label().into(),
            rule: d.rule,
        });
    }
    for row in &presence_rules().rows {
        out.push(RuleEntry {
            id: format!("({})", row.id),
            name: row.name.clone(),
            action: row.action().label().into(),
            rule: Rule {
                source: Source::Presence,
                id: Cow::Borrowed(&row.id),
                code: None,
                option: None,
                explanation: Cow::Borrowed(&row.explanation),
                note: None,
            },
        });
    }
    out.extend(
        layers::residual()
            .iter()
            .filter(|r| r.holds(decider.hipaa, &decider.options))
            .map(|r| layer_entry(r, Source::Residual)),
    );
    out.push(RuleEntry {
        id: "leak-guard".into(),
        name: "identifying values of the patient (data/identifying.csv, every person name)".into(),
        action: Action::Clean.label().into(),
        rule: Rule {
            source: Source::LeakGuard,
            id: "leak-guard".into(),
            code: None,
            option: None,
            explanation: "every value written as kept, cleaned or replaced, at every depth, loses \
                          the patient's identifying words (a dummy where nothing valid is left); \
                          a custom keep on its tag wins"
                .into(),
            note: None,
        },
    });
    if decider.has(ProfileOption::CleanPixelData) {
        for r in &regions.rules {
            out.push(RuleEntry {
                id: format!("rule {}", r.id),
                name: r.label.clone(),
                action: "blank region".into(),
                rule: Rule {
                    source: Source::Pixel,
                    id: r.source().into(),
                    code: None,
                    option: Some(ProfileOption::CleanPixelData),
                    explanation: format!(
                        "columns {}-{}, rows {}-{} blanked when {}",
                        r.x0,
                        r.x1.saturating_sub(1),
                        r.y0,
                        r.y1.saturating_sub(1),
                        r.condition_text
                    )
                    .into(),
                    note: None,
                },
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{DateShift, ProfileId};
    use crate::rules::parse_rules;

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

    #[test]
    fn rule_counts_grow_by_layer() {
        let basic = rule_list(&Plan::builtin(ProfileId::Basic)).len();
        // Every layer: Table E.1-1's 655 rows, the presence rules, the 3 structural rules,
        // the 6 residual rules that hold without options, the leak guard.
        assert_eq!(basic, 655 + presence_rules().rows.len() + 3 + 6 + 1);
        let hipaa = rule_list(&Plan::builtin(ProfileId::Hipaa)).len();
        assert!(hipaa > basic);
        let mut custom = Plan::builtin(ProfileId::Custom);
        custom.custom_rules = parse_rules(
            r#"[{"id":"(0010,0010)","act":"keep"},{"id":"(0008,103E)","act":"remove"}]"#,
        )
        .unwrap();
        let listed = rule_list(&custom);
        // Custom rules first, in the file's order (not a hash map's).
        assert_eq!(listed.len(), basic + 2);
        let ids: Vec<&str> = listed[..2].iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["(0010,0010)", "(0008,103E)"]);
        // The layers follow in the decider's order.
        let sources: Vec<Source> = listed.iter().map(|e| e.rule.source).collect();
        let order = |s: Source| sources.iter().position(|x| *x == s).unwrap();
        assert!(order(Source::Structural) < order(Source::Table));
        assert!(order(Source::Table) < order(Source::Presence));
        assert!(order(Source::Presence) < order(Source::Residual));
        assert!(order(Source::Residual) < order(Source::LeakGuard));
        let pixel = rule_list(&Plan::builtin(ProfileId::Pixel)).len();
        assert_eq!(
            pixel,
            basic + crate::pixel::regions::RegionRules::shipped().len()
        );
    }
}
