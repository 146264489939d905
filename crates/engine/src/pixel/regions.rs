//! Region rules: rectangles of burned-in text known for a device, chosen by header values.
//!
//! The shipped rules are `data/pixel-regions.csv` (pydicom/deid graylist, MIT). A rule's
//! `condition` is a tiny language:
//!
//! ```text
//! or   := and ( "||" and )*
//! and  := term ( "&&" term )*
//! term := "(" or ")" | "!" term | func
//! func := contains(Keyword, "regex")   case-insensitive regex search in the value
//!       | equals(Keyword, "text")      case-insensitive exact match of the trimmed value
//!       | notcontains(..) | notequals(..) | present(Keyword) | missing(Keyword)
//! ```
//!
//! Multi-valued elements are matched as their DICOM string, values joined by `\`.
//! Every matching rule applies; rectangles are clipped to the image.

use crate::profile::tag::parse_tag;
use crate::record::PixelBox;
use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use regex::{Regex, RegexBuilder};
use std::sync::OnceLock;

const SHIPPED_CSV: &str = include_str!("../../data/pixel-regions.csv");

/// Why a region rule file could not be used. Messages quote the rule text, never a header value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionError {
    /// The file is not readable CSV or lacks a required column (the CSV reader's message).
    #[error("region rules: {0}")]
    Csv(String),
    /// One rule is wrong: its condition does not parse, a coordinate is not a whole
    /// number, or its rectangle is empty.
    #[error("region rule on line {line}: {msg}")]
    Rule {
        /// The line of the file (the header is line 1).
        line: usize,
        /// What is wrong with it.
        msg: String,
    },
}

/// A condition over header values.
#[derive(Debug, Clone)]
pub enum Condition {
    /// `contains`: the element's value matches the regex somewhere, in any case.
    Contains(Tag, Regex),
    /// `equals`: the trimmed value is this text, in any case.
    Equals(Tag, String),
    /// `present`: the element is in the header (`missing` is its negation).
    Present(Tag),
    /// `!`, and the `not…` functions.
    Not(Box<Condition>),
    /// `&&`: every condition holds.
    And(Vec<Condition>),
    /// `||`: one of them holds.
    Or(Vec<Condition>),
}

impl Condition {
    /// Parses the condition language described in the module documentation.
    pub fn parse(text: &str) -> Result<Condition, String> {
        let tokens = tokenize(text)?;
        let mut p = Parser { tokens, pos: 0 };
        let c = p.or()?;
        if p.pos != p.tokens.len() {
            return Err(format!(
                "unexpected {} after the condition",
                p.tokens[p.pos]
            ));
        }
        Ok(c)
    }

    /// Whether the header satisfies the condition.
    pub fn matches(&self, ds: &InMemDicomObject) -> bool {
        match self {
            Condition::Contains(t, re) => value(ds, *t).is_some_and(|v| re.is_match(&v)),
            Condition::Equals(t, s) => value(ds, *t).is_some_and(|v| v.to_lowercase() == *s),
            Condition::Present(t) => ds.get(*t).is_some(),
            Condition::Not(c) => !c.matches(ds),
            Condition::And(cs) => cs.iter().all(|c| c.matches(ds)),
            Condition::Or(cs) => cs.iter().any(|c| c.matches(ds)),
        }
    }
}

/// An element's value as text, trimmed of padding; `None` when absent or not textual.
fn value(ds: &InMemDicomObject, tag: Tag) -> Option<String> {
    let e = ds.get(tag)?;
    let s = e.to_str().ok()?;
    Some(
        s.trim_matches(|c: char| c == '\0' || c.is_whitespace())
            .to_string(),
    )
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    LParen,
    RParen,
    Comma,
    And,
    Or,
    Not,
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Token::Ident(s) => write!(f, "`{s}`"),
            Token::Str(s) => write!(f, "\"{s}\""),
            Token::LParen => f.write_str("`(`"),
            Token::RParen => f.write_str("`)`"),
            Token::Comma => f.write_str("`,`"),
            Token::And => f.write_str("`&&`"),
            Token::Or => f.write_str("`||`"),
            Token::Not => f.write_str("`!`"),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | ',' | '!' => {
                chars.next();
                out.push(match c {
                    '(' => Token::LParen,
                    ')' => Token::RParen,
                    ',' => Token::Comma,
                    _ => Token::Not,
                });
            }
            '&' | '|' => {
                chars.next();
                if chars.next() != Some(c) {
                    return Err(format!("expected `{c}{c}`"));
                }
                out.push(if c == '&' { Token::And } else { Token::Or });
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return Err("unterminated string".into()),
                        Some('"') => break,
                        // `\"` is a quote; any other backslash belongs to the regex.
                        Some('\\') if chars.peek() == Some(&'"') => {
                            chars.next();
                            s.push('"');
                        }
                        Some(ch) => s.push(ch),
                    }
                }
                out.push(Token::Str(s));
            }
            c if c.is_ascii_alphanumeric() || c == '_' => {
                let mut s = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_ascii_alphanumeric() || ch == '_' {
                        s.push(ch);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Token::Ident(s));
            }
            other => return Err(format!("unexpected character `{other}`")),
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Result<Token, String> {
        let t = self
            .tokens
            .get(self.pos)
            .cloned()
            .ok_or_else(|| "the condition ends too early".to_string())?;
        self.pos += 1;
        Ok(t)
    }

    fn expect(&mut self, want: Token) -> Result<(), String> {
        let got = self
            .next()
            .map_err(|_| format!("expected {want}, but the condition ends"))?;
        if got == want {
            Ok(())
        } else {
            Err(format!("expected {want}, found {got}"))
        }
    }

    fn or(&mut self) -> Result<Condition, String> {
        let mut parts = vec![self.and()?];
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().expect("one")
        } else {
            Condition::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Condition, String> {
        let mut parts = vec![self.term()?];
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            parts.push(self.term()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().expect("one")
        } else {
            Condition::And(parts)
        })
    }

    fn term(&mut self) -> Result<Condition, String> {
        match self.next()? {
            Token::LParen => {
                let c = self.or()?;
                self.expect(Token::RParen)?;
                Ok(c)
            }
            Token::Not => Ok(Condition::Not(Box::new(self.term()?))),
            Token::Ident(func) => self.call(&func),
            other => Err(format!(
                "expected a test such as contains(...), found {other}"
            )),
        }
    }

    fn call(&mut self, func: &str) -> Result<Condition, String> {
        self.expect(Token::LParen)?;
        let tag = match self.next()? {
            Token::Ident(k) => parse_tag(&k).map_err(|e| e.to_string())?,
            other => return Err(format!("expected a keyword, found {other}")),
        };
        let f = func.to_ascii_lowercase();
        let cond = match f.as_str() {
            "present" | "missing" => {
                let c = Condition::Present(tag);
                if f == "missing" {
                    Condition::Not(Box::new(c))
                } else {
                    c
                }
            }
            "contains" | "notcontains" | "equals" | "notequals" => {
                self.expect(Token::Comma)?;
                let text = match self.next()? {
                    Token::Str(s) => s,
                    other => return Err(format!("expected a quoted value, found {other}")),
                };
                let c = if f.ends_with("contains") {
                    let re = RegexBuilder::new(&text)
                        .case_insensitive(true)
                        .size_limit(1 << 20)
                        .build()
                        .map_err(|e| format!("invalid regular expression: {e}"))?;
                    Condition::Contains(tag, re)
                } else {
                    Condition::Equals(tag, text.trim().to_lowercase())
                };
                if f.starts_with("not") {
                    Condition::Not(Box::new(c))
                } else {
                    c
                }
            }
            _ => {
                return Err(format!(
                    "unknown test `{func}`: use contains, equals, notcontains, notequals, present or missing"
                ))
            }
        };
        self.expect(Token::RParen)?;
        Ok(cond)
    }
}

/// One rectangle and the condition that selects it.
#[derive(Debug, Clone)]
pub struct RegionRule {
    /// The rule number (several rows may share one).
    pub id: String,
    /// The device or annotation it is for, as the file names it; may be empty.
    pub label: String,
    /// Given by the user rather than shipped with dcmask.
    pub user: bool,
    /// The condition as written, for listings.
    pub condition_text: String,
    /// The condition, parsed.
    pub condition: Condition,
    /// Columns x0..x1-1, rows y0..y1-1.
    pub x0: u32,
    /// First row (see `x0`).
    pub y0: u32,
    /// Column just past the rectangle.
    pub x1: u32,
    /// Row just past the rectangle.
    pub y1: u32,
}

impl RegionRule {
    /// How the rule is named in records and reports.
    pub fn source(&self) -> String {
        let kind = if self.user { "user rule" } else { "rule" };
        if self.label.is_empty() {
            format!("{kind} {}", self.id)
        } else {
            format!("{kind} {}: {}", self.id, self.label)
        }
    }
}

/// A set of region rules: the shipped ones, a user's, or both.
#[derive(Debug, Clone, Default)]
pub struct RegionRules {
    /// In file order, the shipped ones before a user's.
    pub rules: Vec<RegionRule>,
}

impl RegionRules {
    /// The rules shipped with dcmask (parsed once).
    pub fn shipped() -> &'static RegionRules {
        static SHIPPED: OnceLock<RegionRules> = OnceLock::new();
        SHIPPED.get_or_init(|| {
            parse_csv(SHIPPED_CSV, false).expect("the shipped pixel-regions.csv is valid")
        })
    }

    /// A user's rules, with the columns of `pixel-regions.csv`: `condition,x0,y0,x1,y1`
    /// are required, `rule` and `label` optional, any other column is ignored.
    pub fn from_csv(text: &str) -> Result<RegionRules, RegionError> {
        parse_csv(text, true)
    }

    /// The shipped rules followed by the user's.
    pub fn shipped_with(user: &RegionRules) -> RegionRules {
        let mut all = Self::shipped().clone();
        all.merge(user);
        all
    }

    /// Appends `other`'s rules after these.
    pub fn merge(&mut self, other: &RegionRules) {
        self.rules.extend(other.rules.iter().cloned());
    }

    /// How many rules (rows) there are.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there is no rule at all.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules whose condition the header satisfies.
    pub fn matching<'a>(
        &'a self,
        ds: &'a InMemDicomObject,
    ) -> impl Iterator<Item = &'a RegionRule> {
        self.rules.iter().filter(move |r| r.condition.matches(ds))
    }

    /// The boxes of every matching rule, clipped to the image (Rows × Columns) and without
    /// exact duplicates. Empty when the object has no image size.
    pub fn boxes(&self, ds: &InMemDicomObject) -> Vec<PixelBox> {
        let dim = |t| ds.get(t).and_then(|e| e.to_int::<u32>().ok());
        let (Some(rows), Some(cols)) = (dim(tags::ROWS), dim(tags::COLUMNS)) else {
            return Vec::new();
        };
        let mut out: Vec<PixelBox> = Vec::new();
        for r in self.matching(ds) {
            let b = PixelBox {
                x0: r.x0.min(cols),
                y0: r.y0.min(rows),
                x1: r.x1.min(cols),
                y1: r.y1.min(rows),
                source: r.source(),
            };
            let dup = out
                .iter()
                .any(|o| (o.x0, o.y0, o.x1, o.y1) == (b.x0, b.y0, b.x1, b.y1));
            if b.x1 > b.x0 && b.y1 > b.y0 && !dup {
                out.push(b);
            }
        }
        out
    }
}

fn parse_csv(text: &str, user: bool) -> Result<RegionRules, RegionError> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| RegionError::Csv(e.to_string()))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let need =
        |name: &str| col(name).ok_or_else(|| RegionError::Csv(format!("missing column `{name}`")));
    let (ci, x0i, y0i, x1i, y1i) = (
        need("condition")?,
        need("x0")?,
        need("y0")?,
        need("x1")?,
        need("y1")?,
    );
    let (idi, labeli) = (col("rule"), col("label"));
    let mut rules = Vec::new();
    for (n, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| RegionError::Csv(e.to_string()))?;
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(n + 2);
        let err = |msg: String| RegionError::Rule { line, msg };
        if rec.iter().all(str::is_empty) {
            continue;
        }
        let field = |i: usize| rec.get(i).unwrap_or("");
        let num = |i: usize, name: &str| {
            field(i)
                .parse::<u32>()
                .map_err(|_| err(format!("`{name}` must be a whole number of pixels")))
        };
        let (x0, y0, x1, y1) = (
            num(x0i, "x0")?,
            num(y0i, "y0")?,
            num(x1i, "x1")?,
            num(y1i, "y1")?,
        );
        if x1 <= x0 || y1 <= y0 {
            return Err(err(
                "the rectangle is empty: x1 must exceed x0 and y1 exceed y0".into(),
            ));
        }
        let condition_text = field(ci).to_string();
        let condition = Condition::parse(&condition_text).map_err(err)?;
        let id = idi
            .map(field)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| (n + 1).to_string());
        rules.push(RegionRule {
            id,
            label: labeli.map(field).unwrap_or("").to_string(),
            user,
            condition_text,
            condition,
            x0,
            y0,
            x1,
            y1,
        });
    }
    Ok(RegionRules { rules })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::{DataElement, PrimitiveValue, VR};

    /// A literal text the pattern finds: the shipped patterns use only `+` and `|` as
    /// regex operators, so drop each `+` (one occurrence of the item) and take the first
    /// alternative of `|`.
    fn sample_of(pattern: &str) -> String {
        pattern.split('|').next().unwrap().replace('+', "")
    }

    /// The (keyword, value) pairs a header needs to satisfy every test of a condition,
    /// taking the first branch of each `||`.
    fn wanted(c: &Condition, out: &mut Vec<(Tag, String)>) {
        match c {
            Condition::Contains(t, re) => out.push((*t, sample_of(re.as_str()))),
            Condition::Equals(t, s) => out.push((*t, s.clone())),
            Condition::And(cs) => cs.iter().for_each(|c| wanted(c, out)),
            Condition::Or(cs) => wanted(&cs[0], out),
            Condition::Present(_) | Condition::Not(_) => unreachable!("not in shipped rules"),
        }
    }

    fn header(pairs: &[(Tag, String)]) -> InMemDicomObject {
        let mut ds = InMemDicomObject::new_empty();
        for (t, v) in pairs {
            let elem = match *t {
                tags::ROWS | tags::COLUMNS => {
                    DataElement::new(*t, VR::US, PrimitiveValue::from(v.parse::<u16>().unwrap()))
                }
                tags::IMAGE_TYPE => DataElement::new(
                    *t,
                    VR::CS,
                    PrimitiveValue::Strs(v.split('\\').map(str::to_string).collect()),
                ),
                _ => DataElement::new(
                    *t,
                    crate::profile::tag::dictionary_vr(*t).unwrap(),
                    v.as_str(),
                ),
            };
            ds.put(elem);
        }
        ds
    }

    #[test]
    fn shipped_rules_parse() {
        let r = RegionRules::shipped();
        assert_eq!(r.len(), 61, "61 rectangles in pixel-regions.csv");
        assert_eq!(r.rules[0].source(), "rule 2: LightSpeed Dose Report");
    }

    #[test]
    fn every_shipped_rule_fires_on_its_own_header_and_not_on_another_modality() {
        let all = RegionRules::shipped();
        for rule in &all.rules {
            let mut pairs = Vec::new();
            wanted(&rule.condition, &mut pairs);
            let ds = header(&pairs);
            assert!(
                rule.condition.matches(&ds),
                "rule {} does not fire on {pairs:?}",
                rule.id
            );
            // The same header with another modality (MR is in no shipped rule).
            let other: Vec<(Tag, String)> = pairs
                .iter()
                .map(|(t, v)| {
                    if *t == tags::MODALITY {
                        (*t, "MR".to_string())
                    } else {
                        (*t, v.clone())
                    }
                })
                .collect();
            let other = if other.iter().any(|(t, _)| *t == tags::MODALITY) {
                other
            } else {
                // Rule 108 names no modality: change the model instead.
                other
                    .into_iter()
                    .map(|(t, v)| {
                        if t == tags::MANUFACTURER_MODEL_NAME {
                            (t, "Signa".to_string())
                        } else {
                            (t, v)
                        }
                    })
                    .collect()
            };
            assert!(
                !rule.condition.matches(&header(&other)),
                "rule {} fires on {other:?}",
                rule.id
            );
        }
    }

    #[test]
    fn rule_29_gives_its_box_clipped() {
        let mut pairs = vec![
            (tags::MODALITY, "US".to_string()),
            (tags::MANUFACTURER, "GE Healthcare".to_string()),
            (tags::MANUFACTURER_MODEL_NAME, "LOGIQE".to_string()),
            (tags::ROWS, "614".to_string()),
            (tags::COLUMNS, "820".to_string()),
        ];
        let boxes = RegionRules::shipped().boxes(&header(&pairs));
        assert_eq!(boxes.len(), 1, "{boxes:?}");
        assert_eq!(
            (boxes[0].x0, boxes[0].y0, boxes[0].x1, boxes[0].y1),
            (0, 0, 820, 75)
        );
        assert_eq!(boxes[0].source, "rule 29: Logiq US LOGIQE");
        pairs[3].1 = "615".into();
        assert!(RegionRules::shipped().boxes(&header(&pairs)).is_empty());
    }

    #[test]
    fn equals_is_case_insensitive_and_exact() {
        let c = Condition::parse(r#"equals(Modality,"us")"#).unwrap();
        assert!(c.matches(&header(&[(tags::MODALITY, "US".into())])));
        assert!(!c.matches(&header(&[(tags::MODALITY, "USX".into())])));
        let c =
            Condition::parse(r#"contains(Manufacturer,"^ge\b") && !present(PatientName)"#).unwrap();
        assert!(c.matches(&header(&[(tags::MANUFACTURER, "GE Medical".into())])));
        assert!(!c.matches(&header(&[(tags::MANUFACTURER, "AGE".into())])));
    }

    #[test]
    fn precedence_and_grouping() {
        let c = Condition::parse(
            r#"equals(Modality,"CT") && (contains(SeriesDescription,"dose") || contains(ImageType,"SCREEN SAVE"))"#,
        )
        .unwrap();
        let h = |m: &str, d: &str| {
            header(&[
                (tags::MODALITY, m.into()),
                (tags::SERIES_DESCRIPTION, d.into()),
                (tags::IMAGE_TYPE, "DERIVED\\SECONDARY".into()),
            ])
        };
        assert!(c.matches(&h("CT", "Dose Report")));
        assert!(!c.matches(&h("MR", "Dose Report")));
        assert!(!c.matches(&h("CT", "Axial")));
    }

    #[test]
    fn bad_conditions_are_refused_with_a_reason() {
        for (text, want) in [
            (r#"contains(Modality,"US""#, "expected `)`"),
            (r#"contains(NoSuchKeyword,"US")"#, "not a tag"),
            (r#"contains(Modality,"(")"#, "invalid regular expression"),
            (
                r#"contains(Modality,"US") & equals(Rows,"1")"#,
                "expected `&&`",
            ),
            (r#"eval(Modality,"US")"#, "unknown test"),
            (r#"contains(Modality,"US") equals(Rows,"1")"#, "unexpected"),
        ] {
            let e = Condition::parse(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn user_csv_is_checked_and_merged() {
        let user = RegionRules::from_csv(
            "label,condition,x0,y0,x1,y1\nMy OT,\"equals(Modality,\"\"OT\"\")\",10,5,40,20\n",
        )
        .unwrap();
        assert_eq!(user.rules[0].source(), "user rule 1: My OT");
        let all = RegionRules::shipped_with(&user);
        assert_eq!(all.len(), RegionRules::shipped().len() + 1);
        let e = RegionRules::from_csv(
            "condition,x0,y0,x1,y1\n\"equals(Modality,\"\"OT\"\")\",10,5,10,20\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        assert!(RegionRules::from_csv("condition,x0,y0,x1\n").is_err());
    }
}
