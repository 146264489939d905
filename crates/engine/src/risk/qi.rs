//! The quasi-identifiers: attributes that identify no one alone but, combined, may single
//! out a patient to someone who knows them from elsewhere. The defaults and their reasons
//! are data (`data/quasi-identifiers.csv`); the user changes the list by keyword or tag.

use crate::actions::generalize::Generalization;
use crate::profile::tag::{keyword, parse_tag, tag_id};
use dicom_core::Tag;
use serde::Deserialize;
use std::sync::OnceLock;

const CSV: &str = include_str!("../../data/quasi-identifiers.csv");

/// How a quasi-identifier's value is read from an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Derive {
    /// The element's value as written.
    Value,
    /// The first four digits of a date (the birth year of Patient's Birth Date).
    Year,
    /// The days between a patient's studies, from their Study Dates.
    Intervals,
    /// Which private elements an object carries (`CREATOR:ggggxxee`), not their values.
    Private,
}

/// One quasi-identifier of an analysis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuasiIdentifier {
    /// The name figures are given under: a table id (`PatientAge`, `StudyInterval`) or,
    /// for one the user added, the tag's keyword (its `(GGGG,EEEE)` when it has none).
    pub id: String,
    /// The attribute it is read from; `None` for one without a single tag (private elements carried).
    pub tag: Option<Tag>,
    /// How its value is derived from the object.
    pub derive: Derive,
    /// How the "after generalising" figures coarsen it; `None`: only removal is shown.
    pub generalize: Option<Generalization>,
    /// Why it is a quasi-identifier, as reports state it.
    pub reason: String,
}

impl QuasiIdentifier {
    fn user(tag: Tag) -> QuasiIdentifier {
        let kw = keyword(tag);
        QuasiIdentifier {
            id: if kw.is_empty() {
                tag_id(tag)
            } else {
                kw.to_string()
            },
            tag: Some(tag),
            derive: Derive::Value,
            generalize: None,
            reason: "chosen by the user".into(),
        }
    }
}

#[derive(Deserialize)]
struct Row {
    id: String,
    tag: String,
    derive: String,
    generalize: String,
    reason: String,
}

/// The shipped quasi-identifiers, in table order.
pub fn defaults() -> &'static [QuasiIdentifier] {
    static TABLE: OnceLock<Vec<QuasiIdentifier>> = OnceLock::new();
    TABLE.get_or_init(|| {
        csv::Reader::from_reader(CSV.as_bytes())
            .deserialize::<Row>()
            .map(|r| {
                let r = r.expect("quasi-identifiers.csv: a well-formed row");
                let tag = (!r.tag.is_empty())
                    .then(|| parse_tag(&r.tag).expect("quasi-identifiers.csv: a valid tag"));
                let derive = match r.derive.as_str() {
                    "" => Derive::Value,
                    "year" => Derive::Year,
                    "intervals" => Derive::Intervals,
                    "private" => Derive::Private,
                    other => panic!("quasi-identifiers.csv: unknown derive `{other}`"),
                };
                let generalize = (!r.generalize.is_empty()).then(|| {
                    Generalization::parse(&r.generalize)
                        .expect("quasi-identifiers.csv: a valid generalization")
                });
                QuasiIdentifier {
                    id: r.id,
                    tag,
                    derive,
                    generalize,
                    reason: r.reason,
                }
            })
            .collect()
    })
}

/// The quasi-identifiers a user's list names, `K1,K2,...`: table ids (`StudyInterval`),
/// keywords (`PatientAge`) or tags (`(0010,1010)`, `00101010`), case-insensitive. A list
/// whose every item starts with `+` or `-` changes the defaults instead of replacing
/// them (`-PatientSex,+(0019,100C)`). A tag in the table is that row (with its reason
/// and generalization); any other tag is added as its value, "chosen by the user".
pub fn select(list: &str) -> Result<Vec<QuasiIdentifier>, String> {
    let items: Vec<&str> = split(list)
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() {
        return Err("no quasi-identifier given".into());
    }
    let signed = items.iter().filter(|i| i.starts_with(['+', '-'])).count();
    let mut out: Vec<QuasiIdentifier> = if signed == 0 {
        Vec::new()
    } else if signed == items.len() {
        defaults().to_vec()
    } else {
        return Err(
            "either name every quasi-identifier, or change the defaults with +NAME and -NAME only"
                .into(),
        );
    };
    for item in items {
        let (remove, name) = match item.strip_prefix('-') {
            Some(n) => (true, n),
            None => (false, item.strip_prefix('+').unwrap_or(item)),
        };
        let qi = resolve(name.trim())?;
        let at = out.iter().position(|q| q.id == qi.id);
        match (remove, at) {
            (true, Some(i)) => {
                out.remove(i);
            }
            (true, None) => return Err(format!("{} is not among the defaults", qi.id)),
            (false, Some(_)) => {}
            (false, None) => out.push(qi),
        }
    }
    if out.is_empty() {
        return Err("no quasi-identifier left".into());
    }
    Ok(out)
}

/// Items split at commas outside parentheses, so `(0010,1010)` stays one item.
fn split(list: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in list.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&list[start..]);
    out
}

fn resolve(name: &str) -> Result<QuasiIdentifier, String> {
    if let Some(q) = defaults().iter().find(|q| q.id.eq_ignore_ascii_case(name)) {
        return Ok(q.clone());
    }
    let tag = parse_tag(name).map_err(|e| match e {
        crate::profile::tag::TagParseError::Unrecognised(_) => format!(
            "`{}` is neither a quasi-identifier of the table nor a tag: write tags as (GGGG,EEEE), GGGGEEEE or a keyword",
            name.chars().take(40).collect::<String>()
        ),
        e => e.to_string(),
    })?;
    if tag.0 == 0x0002 || tag == Tag(0x7FE0, 0x0010) {
        return Err(format!(
            "{} is not a quasi-identifier (file meta, pixel data)",
            tag_id(tag)
        ));
    }
    Ok(defaults()
        .iter()
        .find(|q| q.tag == Some(tag) && q.derive == Derive::Value)
        .cloned()
        .unwrap_or_else(|| QuasiIdentifier::user(tag)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::tag::dictionary_vr;
    use dicom_core::VR;

    /// The VR a row's values are read as when coarsened (derived ones are numbers).
    fn value_vr(q: &QuasiIdentifier) -> VR {
        match q.derive {
            Derive::Year | Derive::Intervals => VR::IS,
            Derive::Private => VR::LO,
            Derive::Value => q.tag.and_then(dictionary_vr).unwrap_or(VR::UN),
        }
    }

    fn ids(qis: &[QuasiIdentifier]) -> Vec<&str> {
        qis.iter().map(|q| q.id.as_str()).collect()
    }

    #[test]
    fn the_table_loads_and_its_generalizations_fit_their_vrs() {
        let d = defaults();
        assert_eq!(d.len(), 22);
        for q in d {
            assert!(!q.reason.is_empty(), "{}", q.id);
            if let Some(g) = q.generalize {
                g.fits(value_vr(q))
                    .unwrap_or_else(|e| panic!("{}: {e}", q.id));
            }
            if q.derive == Derive::Value {
                let tag = q.tag.unwrap();
                assert_eq!(keyword(tag), q.id, "ids of plain rows are their keywords");
            }
        }
        let interval = d.iter().find(|q| q.id == "StudyInterval").unwrap();
        assert_eq!(interval.derive, Derive::Intervals);
    }

    #[test]
    fn lists_replace_or_change_the_defaults() {
        let q = select("PatientAge, (0010,0040),00101030 ,studyinterval").unwrap();
        assert_eq!(
            ids(&q),
            ["PatientAge", "PatientSex", "PatientWeight", "StudyInterval"]
        );
        assert_eq!(q[0].generalize, Some(Generalization::AgeBand(10)));
        let q = select("-PatientSex,+(0019,100C),+(0018,0050)").unwrap();
        assert_eq!(q.len(), defaults().len() + 1);
        assert!(!ids(&q).contains(&"PatientSex"));
        assert_eq!(q[q.len() - 2].id, "(0019,100C)");
        assert_eq!(q[q.len() - 1].id, "SliceThickness");
        assert_eq!(q[q.len() - 1].reason, "chosen by the user");
        // Named twice: once.
        assert_eq!(select("PatientAge,(0010,1010)").unwrap().len(), 1);
        for (bad, why) in [
            ("", "no quasi-identifier"),
            ("PatientAge,-PatientSex", "either name"),
            ("-SliceThickness", "not among the defaults"),
            ("0010,1010", "neither"),
            ("Nonsense", "neither"),
            ("PixelData", "not a quasi-identifier"),
        ] {
            let e = select(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
