//! Custom per-tag rules and their JSON file format (`custom_anonymization_profile.json`).

use crate::actions::generalize::Generalization;
use crate::profile::tag::{dictionary_vr, parse_tag, tag_id};
use dicom_core::Tag;
use serde::{Deserialize, Serialize};

/// What a custom rule does to its tag, overriding the base profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CustomAction {
    /// The value kept as it is (also against the leak guard, on the record).
    Keep,
    /// The element removed.
    Remove,
    /// The value emptied (zero length).
    Empty,
    /// The value replaced by the rule's `value`.
    Replace,
    /// A keyed pseudonym valid for the VR.
    Pseudonymize,
    /// Coarsen the value (`to`: age bands, month, year, a rounding step).
    Generalize,
}

impl CustomAction {
    /// Every action a rule file may name.
    pub const ALL: [CustomAction; 6] = [
        Self::Keep,
        Self::Remove,
        Self::Empty,
        Self::Replace,
        Self::Pseudonymize,
        Self::Generalize,
    ];

    /// The action as the rule file spells it (`keep`, `pseudonymize`, ...).
    pub fn id(self) -> &'static str {
        match self {
            Self::Keep => "keep",
            Self::Remove => "remove",
            Self::Empty => "empty",
            Self::Replace => "replace",
            Self::Pseudonymize => "pseudonymize",
            Self::Generalize => "generalize",
        }
    }

    fn from_id(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.id() == s)
    }
}

/// One rule as the file holds it: `{"id":"(0008,103E)","act":"remove"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomRule {
    /// Always the canonical `(GGGG,EEEE)` spelling.
    pub id: String,
    /// What the rule does.
    pub act: CustomAction,
    /// The replacement of a `replace` rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// What `generalize` coarsens to, canonical spelling ([`Generalization`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The expert's rationale, carried into the determination report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl CustomRule {
    /// The tag the rule is for.
    pub fn tag(&self) -> Tag {
        parse_tag(&self.id).expect("rule ids are validated on construction")
    }

    /// The parsed `to` of a `generalize` rule; `None` also for a rule deserialised
    /// without `new_rule` whose `to` does not parse.
    pub fn generalization(&self) -> Option<Generalization> {
        self.to
            .as_deref()
            .and_then(|t| Generalization::parse(t).ok())
    }
}

/// A rule file that cannot be used, naming the rule (1-based) and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("not a JSON array of rules: {0}")]
    NotAnArray(String),
    #[error("rule {index}: {problem}")]
    Rule { index: usize, problem: String },
}

/// Parses and validates a rule file; every id comes back normalised.
pub fn parse_rules(text: &str) -> Result<Vec<CustomRule>, RulesError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        RulesError::NotAnArray(format!(
            "invalid JSON at line {}, column {}",
            e.line(),
            e.column()
        ))
    })?;
    let items = value
        .as_array()
        .ok_or_else(|| RulesError::NotAnArray("the top level must be a [...] array".into()))?;
    let mut rules: Vec<CustomRule> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let err = |problem: String| RulesError::Rule {
            index: i + 1,
            problem,
        };
        let rule = rule_from_json(item).map_err(err)?;
        if let Some(j) = rules.iter().position(|r| r.id == rule.id) {
            return Err(err(format!(
                "{} is already given by rule {}",
                rule.id,
                j + 1
            )));
        }
        rules.push(rule);
    }
    Ok(rules)
}

fn rule_from_json(item: &serde_json::Value) -> Result<CustomRule, String> {
    let obj = item
        .as_object()
        .ok_or("expected an object such as {\"id\":\"(0008,103E)\",\"act\":\"remove\"}")?;
    for key in obj.keys() {
        if !["id", "act", "value", "to", "note"].contains(&key.as_str()) {
            return Err(format!("unknown field `{}`", clip(key)));
        }
    }
    let text = |key: &str| -> Result<Option<String>, String> {
        match obj.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("`{key}` must be a string")),
        }
    };
    let id = text("id")?.ok_or("missing `id`")?;
    let act = text("act")?.ok_or("missing `act`")?;
    new_rule(&id, &act, text("value")?, text("to")?, text("note")?)
}

/// Builds a validated rule from its parts, as the UI and the file both supply them.
pub fn new_rule(
    id: &str,
    act: &str,
    value: Option<String>,
    to: Option<String>,
    note: Option<String>,
) -> Result<CustomRule, String> {
    let tag = parse_tag(id).map_err(|e| e.to_string())?;
    let act = CustomAction::from_id(act).ok_or_else(|| {
        format!(
            "unknown action `{}` (expected keep, remove, empty, replace, pseudonymize or generalize)",
            clip(act)
        )
    })?;
    match (act, &value) {
        (CustomAction::Replace, None) => return Err("`replace` needs a `value`".into()),
        (CustomAction::Replace, Some(_)) | (_, None) => {}
        (_, Some(_)) => {
            return Err(format!(
                "`value` is only allowed with `replace`, not `{}`",
                act.id()
            ))
        }
    }
    if tag.0 == 0x0002 || tag == Tag(0x7FE0, 0x0010) {
        return Err(format!(
            "{} cannot be set by a rule (file meta and pixel data are handled by the engine)",
            tag_id(tag)
        ));
    }
    let to = match (act, to) {
        (CustomAction::Generalize, None) => {
            return Err("`generalize` needs a `to` (e.g. 10y, month, year or 5)".into())
        }
        (CustomAction::Generalize, Some(to)) => Some(generalization_for(tag, &to)?.spec()),
        (_, None) => None,
        (_, Some(_)) => {
            return Err(format!(
                "`to` is only allowed with `generalize`, not `{}`",
                act.id()
            ))
        }
    };
    let note = note.filter(|n| !n.trim().is_empty());
    Ok(CustomRule {
        id: tag_id(tag),
        act,
        value,
        to,
        note,
    })
}

/// A `to` checked against the VR the dictionary gives the tag: generalizing needs to
/// know what the value is.
fn generalization_for(tag: Tag, to: &str) -> Result<Generalization, String> {
    let g = Generalization::parse(to)?;
    let vr = dictionary_vr(tag)
        .filter(|_| tag.0.is_multiple_of(2))
        .ok_or_else(|| {
            format!(
                "{} cannot be generalized: its VR is not known from the dictionary",
                tag_id(tag)
            )
        })?;
    g.fits(vr)
        .map_err(|e| format!("{} ({vr}) cannot be generalized to {g}: {e}", tag_id(tag)))?;
    Ok(g)
}

/// The file text, compact, in rule order: exactly what Save Profile downloads.
pub fn rules_to_json(rules: &[CustomRule]) -> String {
    serde_json::to_string(rules).expect("rules serialise")
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = r#"[{"id":"(0008,103E)","act":"remove"},{"id":"(0010,0010)","act":"keep"}]"#;

    #[test]
    fn seed_file_round_trips_exactly() {
        let rules = parse_rules(SEED).unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules_to_json(&rules), SEED);
    }

    #[test]
    fn ids_are_normalised_on_load() {
        let rules = parse_rules(
            r#"[{"id":"(0008,103e)","act":"remove"},{"id":"00100010","act":"keep"},
                {"id":"PatientID","act":"pseudonymize","note":"linkage"}]"#,
        )
        .unwrap();
        let ids: Vec<_> = rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["(0008,103E)", "(0010,0010)", "(0010,0020)"]);
        assert_eq!(rules[2].note.as_deref(), Some("linkage"));
    }

    #[test]
    fn errors_name_the_rule_and_the_problem() {
        let e = parse_rules(
            r#"[{"id":"(0008,103E)","act":"keep"},{"id":"(0008,103E)","act":"explode"}]"#,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "rule 2: unknown action `explode` (expected keep, remove, empty, replace, pseudonymize or generalize)");
        let e = parse_rules(r#"[{"id":"(0008,zzzz)","act":"keep"}]"#).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("rule 1: `(0008,zzzz)` is not a tag"),
            "{e}"
        );
        assert!(parse_rules("{}").is_err());
        assert!(parse_rules("[1]")
            .unwrap_err()
            .to_string()
            .starts_with("rule 1:"));
        assert!(parse_rules(r#"[{"id":"(0010,0010)","act":"replace"}]"#).is_err());
        assert!(parse_rules(
            r#"[{"id":"(0010,0010)","act":"keep"},{"id":"00100010","act":"remove"}]"#
        )
        .unwrap_err()
        .to_string()
        .contains("already given by rule 1"));
    }

    #[test]
    fn generalize_rules_round_trip_and_check_their_vr() {
        let text = r#"[{"id":"(0008,103E)","act":"remove"},{"id":"(0010,1010)","act":"generalize","to":"10y","note":"bands"},{"id":"(0010,0010)","act":"keep"}]"#;
        let rules = parse_rules(text).unwrap();
        assert_eq!(rules[1].generalization(), Some(Generalization::AgeBand(10)));
        assert_eq!(rules_to_json(&rules), text);
        // Spellings are normalised like ids.
        let rules = parse_rules(
            r#"[{"id":"PatientWeight","act":"generalize","to":"5.0"},{"id":"StudyDate","act":"generalize","to":"Month"}]"#,
        )
        .unwrap();
        assert_eq!(
            rules_to_json(&rules),
            r#"[{"id":"(0010,1030)","act":"generalize","to":"5"},{"id":"(0008,0020)","act":"generalize","to":"month"}]"#
        );
        let err = |t: &str| parse_rules(t).unwrap_err().to_string();
        assert_eq!(
            err(r#"[{"id":"(0008,103E)","act":"keep"},{"id":"(0010,1010)","act":"generalize","to":"month"}]"#),
            "rule 2: (0010,1010) (AS) cannot be generalized to month: month and year apply to dates (DA, DT), not to AS"
        );
        assert!(err(r#"[{"id":"(0010,1010)","act":"generalize"}]"#)
            .starts_with("rule 1: `generalize` needs a `to`"));
        assert!(err(r#"[{"id":"(0010,1010)","act":"keep","to":"10y"}]"#)
            .contains("only allowed with `generalize`"));
        assert!(err(r#"[{"id":"(0020,0013)","act":"generalize","to":"2.5"}]"#).contains("whole"));
        assert!(err(r#"[{"id":"(0019,1010)","act":"generalize","to":"5"}]"#)
            .contains("VR is not known"));
        assert!(
            err(r#"[{"id":"(0010,1010)","act":"generalize","to":"decade"}]"#)
                .contains("not a generalization")
        );
    }
}
