//! Errors the engine reports. Each carries what a caller can act on as fields (its kind,
//! the tag and byte offset where the input went wrong, the limit it went beyond, the SOP
//! class and attributes an incomplete object lacks) and a message for people; none of
//! them ever holds a value of the object.

use dicom_core::Tag;
use serde::Serialize;

/// Why an object could not be read, de-identified or written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not a DICOM file: no `DICM` marker and no data set, or no SOP Class and Instance UID.
    #[error("not a DICOM file: {reason}")]
    NotDicom {
        /// What was found instead, in words.
        reason: String,
    },
    /// Damaged, cut short or inconsistent with its own encoding.
    #[error("unreadable DICOM: {detail}")]
    Malformed {
        /// What is wrong, in words (never a value).
        detail: String,
        /// The element being read, when known.
        tag: Option<Tag>,
        /// The byte offset (in the data set as read) where the fault was found, when known.
        offset: Option<u64>,
    },
    /// Valid DICOM that dcmask does not handle (a transfer syntax, an encoding).
    #[error("not supported: {detail}")]
    Unsupported {
        /// What is not supported, in words.
        detail: String,
        /// The transfer syntax that is not supported, when that is the reason.
        transfer_syntax: Option<String>,
    },
    /// The plan cannot be applied as given.
    #[error("invalid plan: {0}")]
    Plan(#[from] PlanError),
    /// Encoding the de-identified object failed: dcmask's fault, not the file's.
    #[error("could not write the de-identified object: {detail}")]
    Write {
        /// What failed, in words.
        detail: String,
    },
    /// The pixel data could not be decoded, blanked or encoded again.
    #[error("pixel data: {detail}")]
    Pixel {
        /// What failed, in words.
        detail: String,
        /// The frame (from 0) being decoded, when one was.
        frame: Option<u32>,
    },
    /// The object is beyond one of dcmask's limits on what a file may hold
    /// ([`crate::io::precheck`], [`crate::io::inflated_limit`], [`crate::pixel::decode`]).
    #[error("beyond dcmask's limits: {detail}")]
    Limit {
        /// Which limit.
        limit: Limit,
        /// What went beyond it, in words.
        detail: String,
    },
    /// A DICOMDIR: its records repeat identifiers and point into the original file set,
    /// so it is never copied; a batch regenerates it from the de-identified files.
    #[error(
        "not supported: DICOMDIR: its records point into the original file set; it is not \
         copied (regenerate it from the de-identified files)"
    )]
    Dicomdir,
    /// Attributes the SOP class requires are missing.
    #[error("incomplete: {} missing; the file may be truncated", names(.missing))]
    Incomplete {
        /// The SOP Class UID the object claims.
        sop_class: String,
        /// What it lacks.
        missing: Vec<Missing>,
    },
}

/// The stable name of an error's kind, for reports and tallies (`malformed`, `limit`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// [`Error::NotDicom`].
    NotDicom,
    /// [`Error::Malformed`].
    Malformed,
    /// [`Error::Unsupported`].
    Unsupported,
    /// [`Error::Plan`].
    Plan,
    /// [`Error::Write`].
    Write,
    /// [`Error::Pixel`].
    Pixel,
    /// [`Error::Limit`].
    Limit,
    /// [`Error::Dicomdir`].
    Dicomdir,
    /// [`Error::Incomplete`].
    Incomplete,
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ErrorKind::NotDicom => "not_dicom",
            ErrorKind::Malformed => "malformed",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Plan => "plan",
            ErrorKind::Write => "write",
            ErrorKind::Pixel => "pixel",
            ErrorKind::Limit => "limit",
            ErrorKind::Dicomdir => "dicomdir",
            ErrorKind::Incomplete => "incomplete",
        })
    }
}

/// Which of dcmask's limits an input went beyond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// Sequences nested deeper than [`crate::io::precheck::MAX_DEPTH`].
    Depth,
    /// More data elements than the pre-check allows.
    Elements,
    /// More sequence items than the pre-check allows.
    Items,
    /// A deflated data set inflating beyond [`crate::io::inflated_limit`].
    Inflated,
    /// A deflated frame inflating beyond the size of a frame.
    DeflatedFrame,
    /// An image decoding to more than [`crate::pixel::decode::MAX_DECODED`] bytes.
    Decoded,
}

/// An attribute a SOP class requires that the object lacks: its name and tag, never a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// The attribute's name (`Study Instance UID`).
    pub name: String,
    /// Its tag.
    pub tag: Tag,
}

/// `Study Instance UID (0020,000D), Pixel Data (7FE0,0010)`.
fn names(missing: &[Missing]) -> String {
    let names: Vec<String> = missing
        .iter()
        .map(|m| format!("{} {}", m.name, crate::profile::tag::tag_id(m.tag)))
        .collect();
    names.join(", ")
}

impl Error {
    /// The error's kind, without its fields.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotDicom { .. } => ErrorKind::NotDicom,
            Error::Malformed { .. } => ErrorKind::Malformed,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::Plan(_) => ErrorKind::Plan,
            Error::Write { .. } => ErrorKind::Write,
            Error::Pixel { .. } => ErrorKind::Pixel,
            Error::Limit { .. } => ErrorKind::Limit,
            Error::Dicomdir => ErrorKind::Dicomdir,
            Error::Incomplete { .. } => ErrorKind::Incomplete,
        }
    }

    /// The attributes an [`Error::Incomplete`] lacks, named as in its message.
    pub fn missing_names(&self) -> Option<String> {
        match self {
            Error::Incomplete { missing, .. } => Some(names(missing)),
            _ => None,
        }
    }

    /// [`Error::NotDicom`] for this reason.
    pub fn not_dicom(reason: impl Into<String>) -> Error {
        Error::NotDicom {
            reason: reason.into(),
        }
    }

    /// [`Error::Malformed`] where neither the tag nor the offset is known.
    pub fn malformed(detail: impl Into<String>) -> Error {
        Error::Malformed {
            detail: detail.into(),
            tag: None,
            offset: None,
        }
    }

    /// [`Error::Unsupported`] for something other than a transfer syntax.
    pub fn unsupported(detail: impl Into<String>) -> Error {
        Error::Unsupported {
            detail: detail.into(),
            transfer_syntax: None,
        }
    }

    /// A transfer syntax no codec of the build handles.
    pub fn unsupported_transfer_syntax(uid: &str) -> Error {
        Error::Unsupported {
            detail: format!("transfer syntax {uid}"),
            transfer_syntax: Some(uid.to_string()),
        }
    }

    /// [`Error::Write`].
    pub fn write(detail: impl Into<String>) -> Error {
        Error::Write {
            detail: detail.into(),
        }
    }

    /// [`Error::Pixel`] outside any one frame.
    pub fn pixel(detail: impl Into<String>) -> Error {
        Error::Pixel {
            detail: detail.into(),
            frame: None,
        }
    }

    /// [`Error::Limit`].
    pub fn limit(limit: Limit, detail: impl Into<String>) -> Error {
        Error::Limit {
            limit,
            detail: detail.into(),
        }
    }
}

/// A result whose error is the engine's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// A plan that cannot be applied as given (checked before any file is read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A Custom profile whose base is Custom.
    #[error("the base of a Custom profile must be Basic, HIPAA or +Pixel")]
    CustomBase,
    /// Both date options at once.
    #[error("Retain Full Dates and Retain Modified Dates cannot both be chosen")]
    DatesConflict,
    /// HIPAA with an option that keeps more of the dates than the year (named).
    #[error("HIPAA Safe Harbor keeps only the year of dates; it cannot be combined with {0}")]
    HipaaDates(&'static str),
    /// A shift of zero days.
    #[error("a date shift of 0 days would keep the dates; choose Retain Full Dates instead")]
    ZeroShift,
    /// A shift of more than 100 years either way.
    #[error("a date shift of {0} days is more than {max} days (100 years) either way", max = crate::actions::dates::MAX_SHIFT_DAYS)]
    ShiftTooLarge(i64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_prints_as_it_serialises() {
        let errors = [
            Error::not_dicom("x"),
            Error::malformed("x"),
            Error::unsupported_transfer_syntax("1.2.3"),
            Error::Plan(PlanError::ZeroShift),
            Error::write("x"),
            Error::pixel("x"),
            Error::limit(Limit::Depth, "x"),
            Error::Dicomdir,
            Error::Incomplete {
                sop_class: "1.2.840.10008.5.1.4.1.1.2".into(),
                missing: vec![],
            },
        ];
        for e in errors {
            let serialised = serde_json::to_value(e.kind()).unwrap();
            assert_eq!(serialised.as_str(), Some(e.kind().to_string().as_str()));
        }
    }

    #[test]
    fn an_incomplete_object_names_attributes_and_tags() {
        let e = Error::Incomplete {
            sop_class: "1.2.840.10008.5.1.4.1.1.2".into(),
            missing: vec![
                Missing {
                    name: "Study Instance UID".into(),
                    tag: Tag(0x0020, 0x000D),
                },
                Missing {
                    name: "Pixel Data".into(),
                    tag: Tag(0x7FE0, 0x0010),
                },
            ],
        };
        assert_eq!(
            e.to_string(),
            "incomplete: Study Instance UID (0020,000D), Pixel Data (7FE0,0010) missing; the \
             file may be truncated"
        );
        assert_eq!(
            e.missing_names().as_deref(),
            Some("Study Instance UID (0020,000D), Pixel Data (7FE0,0010)")
        );
    }
}
