//! The decider's layers beyond Table E.1-1, as data: the structural rules that come
//! before every other (`data/structural-rules.csv`: group lengths, groups 0002 and 0004)
//! and the residual rule for attributes the table does not list
//! (`data/residual-rules.csv`: overlays, dates, names, free text, unknown tags). Within a
//! layer the first row that applies to the element and whose condition holds decides.

use crate::profile::options::ProfileOption;
use crate::profile::tag::dictionary_vr;
use crate::profile::vocab::Action;
use dicom_core::{Tag, VR};
use serde::Deserialize;
use std::sync::OnceLock;

const STRUCTURAL_CSV: &str = include_str!("../../data/structural-rules.csv");
const RESIDUAL_CSV: &str = include_str!("../../data/residual-rules.csv");

/// One row of a layer.
#[derive(Debug)]
pub struct LayerRule {
    /// The rule's id in records and reports (`date`, `gggg,0000`, ...).
    pub id: String,
    /// What it applies to, as the table says (`vr DA DT`, `overlay group`, ...): the
    /// listing shows it.
    pub applies_to: String,
    applies: Applies,
    /// The plan condition under which it decides; `None` always.
    pub when: Option<When>,
    pub action: Action,
    pub explanation: String,
}

#[derive(Debug)]
enum Applies {
    GroupLength,
    Group(u16),
    /// Repeating groups 6000–601E (even): an overlay plane.
    OverlayGroup,
    Vr(Vec<VR>),
    /// A standard tag the data dictionary does not know.
    UnknownTag,
    Any,
}

/// A condition on the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Hipaa,
    Option(ProfileOption),
}

#[derive(Deserialize)]
struct Row {
    id: String,
    applies_to: String,
    when: String,
    action: String,
    explanation: String,
}

impl LayerRule {
    fn parse(row: Row, file: &str) -> LayerRule {
        let bad = |what: &str| -> ! { panic!("data/{file}: rule {}: {what}", row.id) };
        let applies = match row.applies_to.as_str() {
            "group length" => Applies::GroupLength,
            "overlay group" => Applies::OverlayGroup,
            "unknown tag" => Applies::UnknownTag,
            "any" => Applies::Any,
            other => match other.split_once(' ') {
                Some(("group", g)) => {
                    Applies::Group(u16::from_str_radix(g, 16).unwrap_or_else(|_| bad("bad group")))
                }
                Some(("vr", vrs)) => Applies::Vr(
                    vrs.split(' ')
                        .map(|v| v.parse::<VR>().unwrap_or_else(|_| bad("bad VR")))
                        .collect(),
                ),
                _ => bad("unknown applies_to"),
            },
        };
        let when = match row.when.as_str() {
            "" => None,
            "hipaa" => Some(When::Hipaa),
            id => Some(When::Option(
                ProfileOption::from_id(id).unwrap_or_else(|| bad("unknown option")),
            )),
        };
        let action = match row.action.as_str() {
            "keep" => Action::Keep,
            "remove" => Action::Remove,
            "dummy" => Action::Dummy,
            "clean" => Action::Clean,
            "shift_date" => Action::ShiftDate,
            "year_only" => Action::YearOnly,
            _ => bad("unknown action"),
        };
        LayerRule {
            id: row.id,
            applies_to: row.applies_to,
            applies,
            when,
            action,
            explanation: row.explanation,
        }
    }

    /// Whether the row is about this element.
    pub fn applies(&self, tag: Tag, vr: VR) -> bool {
        match &self.applies {
            Applies::GroupLength => tag.1 == 0x0000,
            Applies::Group(g) => tag.0 == *g,
            Applies::OverlayGroup => (0x6000..=0x601E).contains(&tag.0) && tag.0.is_multiple_of(2),
            Applies::Vr(vrs) => vrs.contains(&vr),
            Applies::UnknownTag => dictionary_vr(tag).is_none(),
            Applies::Any => true,
        }
    }

    /// Whether the row's condition holds for a plan (HIPAA or not, the options in force).
    pub fn holds(&self, hipaa: bool, options: &[ProfileOption]) -> bool {
        match self.when {
            None => true,
            Some(When::Hipaa) => hipaa,
            Some(When::Option(o)) => options.contains(&o),
        }
    }

    /// The option the row stands for, for records and listings.
    pub fn option(&self) -> Option<ProfileOption> {
        match self.when {
            Some(When::Option(o)) => Some(o),
            _ => None,
        }
    }
}

fn load(csv_text: &str, file: &str) -> Vec<LayerRule> {
    csv::Reader::from_reader(csv_text.as_bytes())
        .deserialize::<Row>()
        .map(|r| LayerRule::parse(r.unwrap_or_else(|e| panic!("data/{file}: {e}")), file))
        .collect()
}

/// The structural rules, in order.
pub fn structural() -> &'static [LayerRule] {
    static RULES: OnceLock<Vec<LayerRule>> = OnceLock::new();
    RULES.get_or_init(|| load(STRUCTURAL_CSV, "structural-rules.csv"))
}

/// The residual rules, in order; the last applies to any element.
pub fn residual() -> &'static [LayerRule] {
    static RULES: OnceLock<Vec<LayerRule>> = OnceLock::new();
    RULES.get_or_init(|| load(RESIDUAL_CSV, "residual-rules.csv"))
}

/// The first rule of a layer that decides this element under this plan.
pub fn first<'a>(
    layer: &'a [LayerRule],
    tag: Tag,
    vr: VR,
    hipaa: bool,
    options: &[ProfileOption],
) -> Option<&'a LayerRule> {
    layer
        .iter()
        .find(|r| r.holds(hipaa, options) && r.applies(tag, vr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_load_and_every_element_has_a_residual_rule() {
        assert_eq!(structural().len(), 3);
        let last = residual().last().unwrap();
        assert!(matches!(last.applies, Applies::Any) && last.when.is_none());
        let pick = |tag, vr, hipaa, opts: &[ProfileOption]| {
            first(residual(), tag, vr, hipaa, opts)
                .unwrap()
                .action
                .clone()
        };
        let date = Tag(0x0018, 0x1200);
        assert_eq!(pick(date, VR::DA, false, &[]), Action::Remove);
        assert_eq!(pick(date, VR::DA, true, &[]), Action::YearOnly);
        let modified = [ProfileOption::RetainLongModifiedDates];
        assert_eq!(pick(date, VR::DA, false, &modified), Action::ShiftDate);
        assert_eq!(
            pick(Tag(0x0018, 0x1201), VR::TM, false, &modified),
            Action::Keep
        );
        assert_eq!(
            pick(Tag(0x6002, 0x0010), VR::US, false, &[]),
            Action::Remove
        );
        assert_eq!(pick(Tag(0x0028, 0x0010), VR::US, false, &[]), Action::Keep);
        assert!(first(structural(), Tag(0x0008, 0x0000), VR::UL, false, &[]).is_some());
        assert!(first(structural(), Tag(0x0008, 0x0016), VR::UI, false, &[]).is_none());
    }
}
