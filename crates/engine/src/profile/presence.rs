//! Presence rules beyond Table E.1-1, from `data/presence.csv`.
//!
//! Table E.1-1 decides attribute by attribute, but PS3.3 ties some attributes to others:
//! Responsible Person Role may only be present while Responsible Person has a value, and
//! an animal's Responsible Person is Type 2C (present, possibly empty). Applied one by one,
//! the table's codes break such conditions, and dciodvfy reports an error the input did
//! not have. Each row here says what happens to one attribute and when, with its reason
//! and reference, and a few rows remove attributes the table does not list at all.
//!
//! The decider consults these rules after the profile's layers; custom rules are the
//! expert's explicit word and are not overridden.

use crate::profile::tag::dictionary_vr;
use crate::profile::vocab::{Action, Decision, Rule, Source};
use dicom_core::value::Value;
use dicom_core::{Tag, VR};
use dicom_object::InMemDicomObject;
use std::borrow::Cow;
use std::sync::OnceLock;

const CSV: &str = include_str!("../../data/presence.csv");

/// What a row does to its attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    Remove,
    Empty,
}

/// When a row applies, judged in the data set (top level or item) the attribute sits in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    /// Always: an attribute Table E.1-1 does not list, decided here instead of by the
    /// residual rule.
    Always,
    /// When none of these attributes keeps a value in the output (each is absent,
    /// removed or emptied): "required if ... is present and has a value".
    NoValue(Vec<Tag>),
    /// When none of these attributes stays in the output: "required if ... is present".
    Absent(Vec<Tag>),
    /// When one of these is present in the data set (even empty) and the profile would
    /// remove the attribute: a Type 2C condition that holds, so the attribute is kept
    /// empty. Presence, not value, because validators judge the condition so (an empty
    /// Patient Breed Description marks an animal for dciodvfy), and an empty attribute
    /// is as private as a removed one.
    AnyPresent(Vec<Tag>),
}

/// One row of `presence.csv`.
#[derive(Debug, Clone)]
pub struct PresenceRule {
    /// The tag as written in the table (`0010,2298`).
    pub id: String,
    pub tag: Tag,
    pub name: String,
    pub then: Then,
    pub when: When,
    /// The reason with its reference, as the record and `dcmask profile show` print it.
    pub explanation: String,
}

impl PresenceRule {
    /// The decision of this row; `profile` is the rule it overrides, whose table code
    /// and option stay visible ("X, but kept empty because ...").
    fn decision(&'static self, action: Action, profile: Option<&Rule>) -> Decision {
        Decision {
            action,
            rule: Rule {
                source: Source::Presence,
                id: Cow::Borrowed(&self.id),
                code: profile.and_then(|r| r.code),
                option: profile.and_then(|r| r.option),
                explanation: Cow::Borrowed(&self.explanation),
                note: None,
            },
        }
    }

    /// The action this row stands for, for rule listings.
    pub fn action(&self) -> Action {
        match self.then {
            Then::Remove => Action::Remove,
            Then::Empty => Action::Empty,
        }
    }
}

/// The rules, indexed by the tag they decide.
pub struct PresenceRules {
    pub rows: Vec<PresenceRule>,
    by_tag: crate::profile::tag::TagMap<Vec<usize>>,
    /// Every tag a condition looks at: what [`Siblings::of`] collects from a data set.
    watched: Vec<Tag>,
}

fn parse_tag(s: &str) -> Option<Tag> {
    let (g, e) = s.trim().split_once(',')?;
    Some(Tag(
        u16::from_str_radix(g, 16).ok()?,
        u16::from_str_radix(e, 16).ok()?,
    ))
}

impl PresenceRules {
    fn load() -> PresenceRules {
        let mut reader = csv::Reader::from_reader(CSV.as_bytes());
        let mut rows = Vec::new();
        for rec in reader.records() {
            let rec = rec.expect("embedded presence rules are valid CSV");
            let tag = parse_tag(&rec[0]).expect("embedded presence rule tag");
            let deps: Vec<Tag> = rec[4]
                .split_whitespace()
                .map(|t| parse_tag(t).expect("embedded presence rule dependency"))
                .collect();
            let then = match &rec[2] {
                "remove" => Then::Remove,
                "empty" => Then::Empty,
                other => panic!("presence rule {}: unknown action {other}", &rec[0]),
            };
            let when = match (then, &rec[3], deps.is_empty()) {
                (Then::Remove, "always", true) => When::Always,
                (Then::Remove, "no-value", false) => When::NoValue(deps),
                (Then::Remove, "absent", false) => When::Absent(deps),
                (Then::Empty, "any-present", false) => When::AnyPresent(deps),
                (_, cond, _) => panic!(
                    "presence rule {}: `{}` with condition `{cond}` and {} dependencies",
                    &rec[0],
                    &rec[2],
                    deps.len()
                ),
            };
            rows.push(PresenceRule {
                id: rec[0].to_string(),
                tag,
                name: rec[1].to_string(),
                then,
                when,
                explanation: format!("{} ({})", &rec[5], &rec[6]),
            });
        }
        let mut by_tag: crate::profile::tag::TagMap<Vec<usize>> = Default::default();
        let mut watched = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            by_tag.entry(row.tag).or_default().push(i);
            if let When::NoValue(d) | When::Absent(d) | When::AnyPresent(d) = &row.when {
                watched.extend(d.iter().copied());
            }
        }
        watched.sort();
        watched.dedup();
        PresenceRules {
            rows,
            by_tag,
            watched,
        }
    }

    fn of(&'static self, tag: Tag) -> impl Iterator<Item = &'static PresenceRule> {
        self.by_tag
            .get(&tag)
            .into_iter()
            .flatten()
            .map(|&i| &self.rows[i])
    }

    /// The decision for an attribute Table E.1-1 does not list, when a row removes it always.
    pub fn always(&'static self, tag: Tag) -> Option<Decision> {
        self.of(tag)
            .find(|r| r.when == When::Always)
            .map(|r| r.decision(Action::Remove, None))
    }

    /// The profile's decision for `tag`, changed where a condition of its data set asks.
    /// `outcome` is the decider's full decision for another attribute of the same data set.
    pub fn adjust(
        &'static self,
        tag: Tag,
        mut decision: Decision,
        siblings: &Siblings,
        outcome: &dyn Fn(Tag, VR) -> Decision,
    ) -> Decision {
        for row in self.of(tag) {
            let applies = match &row.when {
                When::Always => false,
                When::AnyPresent(deps) => {
                    decision.action == Action::Remove
                        && deps.iter().any(|t| siblings.get(*t).is_some())
                }
                When::NoValue(deps) => {
                    decision.action != Action::Remove
                        && !deps.iter().any(|t| keeps_value(*t, siblings, outcome))
                }
                When::Absent(deps) => {
                    decision.action != Action::Remove
                        && !deps.iter().any(|t| {
                            siblings
                                .get(*t)
                                .is_some_and(|s| outcome(*t, s.vr).action != Action::Remove)
                        })
                }
            };
            if applies {
                decision = row.decision(row.action(), Some(&decision.rule));
            }
        }
        decision
    }
}

/// Whether an attribute of the data set will hold a value once its decision is applied.
fn keeps_value(tag: Tag, siblings: &Siblings, outcome: &dyn Fn(Tag, VR) -> Decision) -> bool {
    let Some(s) = siblings.get(tag) else {
        return false;
    };
    match outcome(tag, s.vr).action {
        Action::Remove | Action::Empty => false,
        Action::Dummy => true,
        Action::Replace(v) => !v.is_empty(),
        _ => s.value,
    }
}

/// The embedded rules, parsed once.
pub fn presence_rules() -> &'static PresenceRules {
    static RULES: OnceLock<PresenceRules> = OnceLock::new();
    RULES.get_or_init(PresenceRules::load)
}

/// One attribute a condition looks at, as found in the data set.
#[derive(Debug, Clone, Copy)]
struct Sibling {
    tag: Tag,
    vr: VR,
    /// A non-empty value, or a sequence with items.
    value: bool,
}

/// What the presence rules need to know of one data set (the top level or an item):
/// which of the attributes they watch it holds. Collected once per data set, before
/// its elements are decided.
#[derive(Debug, Clone, Default)]
pub struct Siblings {
    found: Vec<Sibling>,
}

impl Siblings {
    pub fn of(ds: &InMemDicomObject) -> Siblings {
        let found = presence_rules()
            .watched
            .iter()
            .filter_map(|&tag| {
                let e = ds.get(tag)?;
                // The walker re-reads standard elements written as UN with their
                // dictionary VR before deciding; the condition sees the same VR.
                let vr = match e.vr() {
                    VR::UN => dictionary_vr(tag).unwrap_or(VR::UN),
                    vr => vr,
                };
                let value = match e.value() {
                    Value::Sequence(s) => !s.items().is_empty(),
                    Value::PixelSequence(_) => true,
                    Value::Primitive(p) => {
                        p.multiplicity() > 0
                            && (crate::profile::tag::is_binary(vr)
                                || !p.to_str().trim_matches([' ', '\0', '\\']).is_empty())
                    }
                };
                Some(Sibling { tag, vr, value })
            })
            .collect();
        Siblings { found }
    }

    fn get(&self, tag: Tag) -> Option<&Sibling> {
        self.found.iter().find(|s| s.tag == tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::key::Key;
    use crate::apply::deidentify;
    use crate::decide::plan::{Plan, ProfileId};
    use crate::profile::rules::parse_rules;
    use crate::profile::table::table;
    use crate::record::Record;
    use dicom_core::value::DataSetSequence;
    use dicom_core::{DataElement, Length};
    use dicom_dictionary_std::tags;
    use dicom_object::mem::InMemElement;
    use dicom_object::meta::FileMetaTableBuilder;

    fn el(tag: Tag, vr: VR, v: &str) -> InMemElement {
        DataElement::new(tag, vr, v)
    }

    fn sq(tag: Tag, items: Vec<InMemDicomObject>) -> InMemElement {
        DataElement::new(tag, VR::SQ, DataSetSequence::new(items, Length::UNDEFINED))
    }

    fn encrypted() -> InMemElement {
        sq(
            tags::ENCRYPTED_ATTRIBUTES_SEQUENCE,
            vec![InMemDicomObject::from_element_iter([
                el(
                    tags::ENCRYPTED_CONTENT_TRANSFER_SYNTAX_UID,
                    VR::UI,
                    "1.2.840.10008.1.2.1",
                ),
                DataElement::new(
                    tags::ENCRYPTED_CONTENT,
                    VR::OB,
                    dicom_core::PrimitiveValue::U8([0x30u8, 0x82][..].into()),
                ),
            ])],
        )
    }

    /// A DX of a dog or a person, with a responsible person and their role.
    fn run(animal: bool, plan: &Plan) -> (InMemDicomObject, Record) {
        let mut ds = InMemDicomObject::from_element_iter([
            el(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.1.1"),
            el(tags::SOP_INSTANCE_UID, VR::UI, "1.2.3.4"),
            el(tags::PATIENT_NAME, VR::PN, "Rex"),
            el(tags::RESPONSIBLE_PERSON, VR::PN, "Okafor^Chidi"),
            el(tags::RESPONSIBLE_PERSON_ROLE, VR::CS, "OWNER"),
            el(tags::RESPONSIBLE_ORGANIZATION, VR::LO, "Okafor Kennels"),
            el(
                tags::CLINICAL_TRIAL_PROTOCOL_ETHICS_COMMITTEE_NAME,
                VR::LO,
                "Lakeside IRB",
            ),
            el(
                tags::CLINICAL_TRIAL_PROTOCOL_ETHICS_COMMITTEE_APPROVAL_NUMBER,
                VR::LO,
                "IRB-2024-118",
            ),
            encrypted(),
            // A kept sequence (U): what another tool nested in its items goes too.
            sq(
                tags::REFERENCED_IMAGE_SEQUENCE,
                vec![InMemDicomObject::from_element_iter([
                    el(
                        tags::REFERENCED_SOP_CLASS_UID,
                        VR::UI,
                        "1.2.840.10008.5.1.4.1.1.1.1",
                    ),
                    el(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, "1.2.3.5"),
                    encrypted(),
                ])],
            ),
        ]);
        if animal {
            // Breed alone, empty, marks an animal.
            ds.put(el(tags::PATIENT_BREED_DESCRIPTION, VR::LO, ""));
        }
        let obj = ds
            .with_meta(FileMetaTableBuilder::new().transfer_syntax("1.2.840.10008.1.2.1"))
            .unwrap();
        let key = Key::from_file_contents(b"00112233445566778899aabbccddeeff").unwrap();
        let out = deidentify(obj, plan, &key).unwrap();
        (out.object.into_inner(), out.record)
    }

    fn entry<'a>(record: &'a Record, path: &str) -> &'a crate::record::Entry {
        record
            .entries
            .iter()
            .find(|e| e.path == path)
            .unwrap_or_else(|| panic!("no entry for {path}"))
    }

    fn empty(ds: &InMemDicomObject, tag: Tag) -> bool {
        ds.get(tag).is_some_and(|e| e.to_str().unwrap().is_empty())
    }

    #[test]
    fn an_animals_responsible_person_is_emptied_and_its_role_follows() {
        let (out, record) = run(true, &Plan::builtin(ProfileId::Basic));
        assert!(empty(&out, tags::RESPONSIBLE_PERSON));
        assert!(empty(&out, tags::RESPONSIBLE_ORGANIZATION));
        assert!(out.get(tags::RESPONSIBLE_PERSON_ROLE).is_none());
        let person = entry(&record, "0010,2297");
        assert_eq!(person.action, Action::Empty);
        assert_eq!(person.rule.source, Source::Presence);
        assert_eq!(
            person.rule.code,
            Some("X"),
            "the table's code stays visible"
        );
        assert!(person.rule.explanation.contains("animal"));
        let role = entry(&record, "0010,2298");
        assert_eq!(
            (&role.action, role.rule.source),
            (&Action::Remove, Source::Presence)
        );
        assert!(role.rule.explanation.contains("(0010,2297)"));
    }

    #[test]
    fn a_persons_responsible_person_is_removed_with_its_role() {
        let (out, record) = run(false, &Plan::builtin(ProfileId::Basic));
        for t in [
            tags::RESPONSIBLE_PERSON,
            tags::RESPONSIBLE_PERSON_ROLE,
            tags::RESPONSIBLE_ORGANIZATION,
        ] {
            assert!(out.get(t).is_none(), "{t}");
        }
        assert_eq!(entry(&record, "0010,2297").rule.source, Source::Table);
        assert_eq!(entry(&record, "0010,2298").rule.source, Source::Presence);
    }

    #[test]
    fn the_ethics_committee_name_follows_its_approval_number() {
        let (out, record) = run(false, &Plan::builtin(ProfileId::Basic));
        assert!(out
            .get(tags::CLINICAL_TRIAL_PROTOCOL_ETHICS_COMMITTEE_NAME)
            .is_none());
        let name = entry(&record, "0012,0081");
        assert_eq!(name.rule.source, Source::Presence);
        assert_eq!(name.rule.code, Some("D"));
        assert!(name.rule.explanation.contains("(0012,0082)"));
    }

    #[test]
    fn custom_rules_decide_what_their_dependents_follow() {
        let mut plan = Plan::builtin(ProfileId::Custom);
        plan.custom_rules =
            parse_rules(r#"[{"id":"(0010,2297)","act":"keep"},{"id":"(0012,0082)","act":"keep"}]"#)
                .unwrap();
        let (out, _) = run(false, &plan);
        assert!(out.get(tags::RESPONSIBLE_PERSON_ROLE).is_some());
        // Kept because its number is kept, and dummied as Table E.1-1 says (D).
        let name = out
            .get(tags::CLINICAL_TRIAL_PROTOCOL_ETHICS_COMMITTEE_NAME)
            .unwrap();
        assert_eq!(name.to_str().unwrap(), "ANONYMIZED");
    }

    #[test]
    fn another_tools_encrypted_attributes_are_removed_at_every_depth() {
        let (out, record) = run(false, &Plan::builtin(ProfileId::Basic));
        assert!(out.get(tags::ENCRYPTED_ATTRIBUTES_SEQUENCE).is_none());
        let refs = out.get(tags::REFERENCED_IMAGE_SEQUENCE).unwrap();
        let item = &refs.items().unwrap()[0];
        assert!(item.get(tags::ENCRYPTED_ATTRIBUTES_SEQUENCE).is_none());
        for path in ["0400,0500", "0008,1140/0/0400,0500"] {
            let e = entry(&record, path);
            assert_eq!(
                (&e.action, e.rule.source),
                (&Action::Remove, Source::Presence)
            );
            assert_eq!(e.rule.code, None);
        }
    }

    #[test]
    fn rows_load_and_always_rows_are_outside_table_e1_1() {
        let rules = presence_rules();
        assert_eq!(rules.rows.len(), 8);
        for row in &rules.rows {
            assert!(!row.explanation.is_empty() && row.explanation.contains("PS3."));
            if row.when == When::Always {
                assert!(
                    table().lookup(row.tag).is_none(),
                    "{} is in Table E.1-1: the table decides it",
                    row.id
                );
            }
        }
        assert!(rules.watched.contains(&Tag(0x0010, 0x2297)));
    }

    #[test]
    fn no_condition_depends_on_itself() {
        // The decider follows dependencies through rows: every chain must end.
        fn ends(rules: &'static PresenceRules, tag: Tag, path: &mut Vec<Tag>) -> bool {
            if path.contains(&tag) {
                return false;
            }
            path.push(tag);
            let ok = rules.of(tag).all(|r| match &r.when {
                When::NoValue(d) | When::Absent(d) => d.iter().all(|t| ends(rules, *t, path)),
                _ => true,
            });
            path.pop();
            ok
        }
        let rules = presence_rules();
        for row in &rules.rows {
            assert!(ends(rules, row.tag, &mut Vec::new()), "{} loops", row.id);
        }
    }
}
