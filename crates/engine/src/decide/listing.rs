//! Every rule of a plan as one listing (`dcmask profile show`, the workbench's rule
//! count), layer by layer in the order the decider consults them. It sits above the
//! decider and the pixel code, which it both reads.
use crate::decide::plan::{Plan, ProfileId};
use crate::decide::{custom_decision, layer_decision, Decider, Facts};
use crate::pixel::regions::RegionRules;
use crate::profile::hipaa::safe_harbor;
use crate::profile::layers;
use crate::profile::options::ProfileOption;
use crate::profile::presence::presence_rules;
use crate::profile::table::{table, TagPattern};
use crate::profile::tag::{dictionary_vr, display_name, tag_id};
use crate::profile::vocab::{Action, Rule, Source};
use dicom_core::{Tag, VR};
use serde::Serialize;
use std::borrow::Cow;

/// One line of a profile listing (`dcmask profile show`, the workbench's rule count).
#[derive(Debug, Clone, Serialize)]
pub struct RuleEntry {
    /// Tag id or table row id.
    pub id: String,
    /// The attribute's name, or what a pattern or region rule covers, as people read it.
    pub name: String,
    /// What the rule does, by the action's label.
    pub action: String,
    /// The rule, with its layer and explanation.
    pub rule: Rule,
}

/// Every rule of a plan, layer by layer: Table E.1-1 rows (with options), the presence
/// rules beyond the table (each applies only where its condition holds), then the
/// HIPAA layer, the shipped pixel region rules when pixels are cleaned, then custom
/// rules. Its length is the profile's rule count.
pub fn rule_list(plan: &Plan) -> Vec<RuleEntry> {
    rule_list_with(plan, RegionRules::shipped())
}

/// [`rule_list`] with the region rules actually in use (shipped plus a user's file).
pub fn rule_list_with(plan: &Plan, regions: &RegionRules) -> Vec<RuleEntry> {
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
    if plan.profile == ProfileId::Custom {
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
            TagPattern::Exact(t) => (t, dictionary_vr(t).unwrap_or(VR::UN)),
            TagPattern::Masked { value, .. } => {
                let t = Tag((value >> 16) as u16, value as u16);
                (t, dictionary_vr(t).unwrap_or(VR::OB))
            }
            TagPattern::Private => (Tag(0x0009, 0x1000), VR::UN),
        };
        let d = if row.pattern == TagPattern::Private {
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
    use crate::profile::rules::parse_rules;

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
        assert_eq!(pixel, basic + RegionRules::shipped().len());
    }
}
