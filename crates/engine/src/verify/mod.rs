//! Residual-PHI check of de-identified output, independent of the de-identifier.
//!
//! A [`Dictionary`] of identifying values is gathered from the ORIGINAL objects with its
//! own code and its own table (`data/verify-identifying.csv`): nothing here calls the
//! decider, the text cleaner or the leak guard, so a bug there is not repeated here.
//! The dictionary is then searched in output objects (decoded values at every depth,
//! [`Dictionary::scan_object`]), in raw bytes streamed in chunks
//! ([`Dictionary::scan_reader`]) and in file and folder names
//! ([`Dictionary::scan_name`]). All values are searched at once with one Aho-Corasick
//! automaton over a folded haystack (lower case, letters and digits only, with the word
//! boundaries of the original text kept aside, see `fold.rs`).
//!
//! Findings carry where (element path, byte offset) and what kind of value
//! ([`Category`]), never the value itself.

mod dictionary;
mod fold;
mod scan;
mod table;

pub use dictionary::{Dictionary, DictionaryBuilder};
pub use scan::{ByteHit, Finding, NameHit};

use serde::Serialize;

/// The kinds of identifying value the check reports, as printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Category {
    /// Any component of a person name (patient, relatives, staff).
    #[serde(rename = "name")]
    Name,
    /// Patient, study, order and device identifiers.
    #[serde(rename = "id")]
    Id,
    /// Birth dates, in the spellings they are written in.
    #[serde(rename = "date of birth")]
    DateOfBirth,
    /// Street addresses, their parts, region and country of residence.
    #[serde(rename = "address")]
    Address,
    /// Telephone numbers.
    #[serde(rename = "phone")]
    Phone,
    /// E-mail addresses.
    #[serde(rename = "email")]
    Email,
    /// Institution and department names.
    #[serde(rename = "institution")]
    Institution,
    /// Station names, AE titles, rooms and treatment machines of a site.
    #[serde(rename = "station")]
    Station,
    /// Instance UIDs of the originals (study, series, SOP instance, frame of reference):
    /// they link an output back to the source archive.
    #[serde(rename = "uid")]
    Uid,
}

impl Category {
    /// Every category, each once.
    pub const ALL: [Category; 9] = [
        Category::Name,
        Category::Id,
        Category::DateOfBirth,
        Category::Address,
        Category::Phone,
        Category::Email,
        Category::Institution,
        Category::Station,
        Category::Uid,
    ];

    /// The category as reports and findings name it (`date of birth`).
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Name => "name",
            Category::Id => "id",
            Category::DateOfBirth => "date of birth",
            Category::Address => "address",
            Category::Phone => "phone",
            Category::Email => "email",
            Category::Institution => "institution",
            Category::Station => "station",
            Category::Uid => "uid",
        }
    }

    fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
