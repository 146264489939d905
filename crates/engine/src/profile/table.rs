//! Table E.1-1 of PS3.15, embedded as data and indexed by tag.

use crate::profile::code::Code;
use crate::profile::options::ProfileOption;
use dicom_core::Tag;
use std::sync::OnceLock;

/// The edition of the standard the embedded tables come from.
pub const EDITION: &str = "DICOM PS3.15 2025e";

const TABLE_CSV: &str = include_str!("../../data/ps3.15-table-e1-1.csv");

/// Which tags a row covers: one tag, a masked family (`60xx,3000`), or every private tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagPattern {
    /// One tag.
    Exact(Tag),
    /// The tags whose bits under `mask` equal `value` (`x` digits are 0 in the mask).
    Masked {
        /// The tag's bits, `gggg << 16 | eeee`, with the `x` digits 0.
        value: u32,
        /// `F` for each fixed digit, `0` for each `x`.
        mask: u32,
    },
    /// Every private tag (the table's `gggg,eeee` row).
    Private,
}

impl TagPattern {
    fn parse(s: &str) -> Option<TagPattern> {
        if s == "gggg,eeee" {
            return Some(TagPattern::Private);
        }
        let hex: String = s.chars().filter(|&c| c != ',').collect();
        if hex.len() != 8 {
            return None;
        }
        let (mut value, mut mask) = (0u32, 0u32);
        for c in hex.chars() {
            value <<= 4;
            mask <<= 4;
            if c != 'x' {
                value |= c.to_digit(16)?;
                mask |= 0xF;
            }
        }
        Some(if mask == u32::MAX {
            TagPattern::Exact(Tag((value >> 16) as u16, value as u16))
        } else {
            TagPattern::Masked { value, mask }
        })
    }

    /// Whether the pattern covers this tag.
    pub fn matches(self, tag: Tag) -> bool {
        let v = ((tag.0 as u32) << 16) | tag.1 as u32;
        match self {
            TagPattern::Exact(t) => t == tag,
            TagPattern::Masked { value, mask } => v & mask == value,
            TagPattern::Private => tag.0 % 2 == 1,
        }
    }
}

/// One row of Table E.1-1.
#[derive(Debug, Clone)]
pub struct Row {
    /// The tag as the standard writes it (`0008,0018`, `60xx,3000`, `gggg,eeee`).
    pub id: String,
    pub pattern: TagPattern,
    pub name: String,
    pub retired: bool,
    pub basic: Code,
    /// One cell per option column, in `ProfileOption` order; `None` = no change.
    pub options: [Option<Code>; 10],
}

impl Row {
    /// The code for this row once the given options are in force.
    /// When several options have a cell, the one that keeps most wins (K over C),
    /// because the user asked to retain that information.
    pub fn code_with(&self, enabled: &[ProfileOption]) -> (Code, Option<ProfileOption>) {
        let mut best: Option<(Code, ProfileOption)> = None;
        for &opt in enabled {
            let Some(col) = opt.column() else { continue };
            if let Some(code) = self.options[col] {
                let better = match best {
                    None => true,
                    Some((prev, _)) => prev != Code::K && code == Code::K,
                };
                if better {
                    best = Some((code, opt));
                }
            }
        }
        match best {
            Some((code, opt)) => (code, Some(opt)),
            None => (self.basic, None),
        }
    }
}

/// Table E.1-1, with exact tags hashed and the few masked rows scanned.
pub struct Table {
    pub rows: Vec<Row>,
    exact: crate::profile::tag::TagMap<usize>,
    masked: Vec<usize>,
}

impl Table {
    fn load() -> Table {
        let mut reader = csv::Reader::from_reader(TABLE_CSV.as_bytes());
        let mut rows = Vec::new();
        for rec in reader.records() {
            let rec = rec.expect("embedded Table E.1-1 is valid CSV");
            let pattern = TagPattern::parse(&rec[0]).expect("embedded tag pattern");
            let code = |i: usize| Code::parse(rec.get(i).unwrap_or(""));
            let mut options = [None; 10];
            for (col, cell) in options.iter_mut().enumerate() {
                *cell = code(4 + col);
            }
            rows.push(Row {
                id: rec[0].to_string(),
                pattern,
                name: rec[1].to_string(),
                retired: &rec[2] == "Y",
                basic: code(3).expect("every row has a basic code"),
                options,
            });
        }
        let mut exact = crate::profile::tag::TagMap::default();
        let mut masked = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            match row.pattern {
                TagPattern::Exact(t) => {
                    exact.insert(t, i);
                }
                TagPattern::Masked { .. } => masked.push(i),
                TagPattern::Private => {}
            }
        }
        Table {
            rows,
            exact,
            masked,
        }
    }

    /// The row for a standard (even-group) tag, if the table lists it.
    pub fn lookup(&self, tag: Tag) -> Option<&Row> {
        if let Some(&i) = self.exact.get(&tag) {
            return Some(&self.rows[i]);
        }
        self.masked
            .iter()
            .map(|&i| &self.rows[i])
            .find(|r| r.pattern.matches(tag))
    }

    /// The `gggg,eeee` row that governs private attributes.
    pub fn private_row(&self) -> &Row {
        self.rows
            .iter()
            .find(|r| r.pattern == TagPattern::Private)
            .expect("Table E.1-1 has a private attributes row")
    }
}

/// The embedded table, parsed once.
pub fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(Table::load)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_rows_load_with_their_codes() {
        let t = table();
        assert_eq!(t.rows.len(), 655);
        let count = |c: Code| t.rows.iter().filter(|r| r.basic == c).count();
        assert_eq!(count(Code::X), 415);
        assert_eq!(count(Code::D), 93);
        assert_eq!(count(Code::U), 55);
        assert_eq!(count(Code::XZU), 2);
        let cells = |col: usize| t.rows.iter().filter(|r| r.options[col].is_some()).count();
        assert_eq!(cells(ProfileOption::RetainUids.column().unwrap()), 60);
        assert_eq!(
            cells(ProfileOption::CleanDescriptors.column().unwrap()),
            140
        );
    }

    #[test]
    fn wildcard_rows_match_repeating_groups() {
        let t = table();
        assert_eq!(t.lookup(Tag(0x6002, 0x3000)).unwrap().id, "60xx,3000");
        assert_eq!(t.lookup(Tag(0x5010, 0x0005)).unwrap().id, "50xx,xxxx");
        assert!(t.lookup(Tag(0x6000, 0x0010)).is_none());
        assert_eq!(t.lookup(Tag(0x0010, 0x0020)).unwrap().basic, Code::ZD);
    }

    #[test]
    fn options_override_their_column_only() {
        let row = table().lookup(Tag(0x0008, 0x0020)).unwrap();
        assert_eq!(row.code_with(&[]).0, Code::Z);
        assert_eq!(
            row.code_with(&[ProfileOption::RetainLongFullDates]).0,
            Code::K
        );
        assert_eq!(
            row.code_with(&[ProfileOption::RetainLongModifiedDates]).0,
            Code::C
        );
        assert_eq!(row.code_with(&[ProfileOption::RetainUids]).0, Code::Z);
    }
}
