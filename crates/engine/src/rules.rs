//! Custom per-tag rules and their JSON file format (`custom_anonymization_profile.json`).

use crate::tag::{parse_tag, tag_id};
use dicom_core::Tag;
use serde::{Deserialize, Serialize};

/// What a custom rule does to its tag, overriding the base profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CustomAction {
    Keep,
    Remove,
    Empty,
    Replace,
    Pseudonymize,
}

impl CustomAction {
    pub const ALL: [CustomAction; 5] = [
        Self::Keep,
        Self::Remove,
        Self::Empty,
        Self::Replace,
        Self::Pseudonymize,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Self::Keep => "keep",
            Self::Remove => "remove",
            Self::Empty => "empty",
            Self::Replace => "replace",
            Self::Pseudonymize => "pseudonymize",
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
    pub act: CustomAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The expert's rationale, carried into the determination report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl CustomRule {
    pub fn tag(&self) -> Tag {
        parse_tag(&self.id).expect("rule ids are validated on construction")
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
        if !["id", "act", "value", "note"].contains(&key.as_str()) {
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
    new_rule(&id, &act, text("value")?, text("note")?)
}

/// Builds a validated rule from its parts, as the UI and the file both supply them.
pub fn new_rule(
    id: &str,
    act: &str,
    value: Option<String>,
    note: Option<String>,
) -> Result<CustomRule, String> {
    let tag = parse_tag(id).map_err(|e| e.to_string())?;
    let act = CustomAction::from_id(act).ok_or_else(|| {
        format!(
            "unknown action `{}` (expected keep, remove, empty, replace or pseudonymize)",
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
    let note = note.filter(|n| !n.trim().is_empty());
    Ok(CustomRule {
        id: tag_id(tag),
        act,
        value,
        note,
    })
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
        assert_eq!(e.to_string(), "rule 2: unknown action `explode` (expected keep, remove, empty, replace or pseudonymize)");
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
}
