//! Errors the engine reports. Messages name what is wrong, never a patient value.

/// Why an object could not be read, de-identified or written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not a DICOM file: {0}")]
    NotDicom(String),
    #[error("unreadable DICOM: {0}")]
    Malformed(String),
    #[error("not supported: {0}")]
    Unsupported(String),
    #[error("invalid plan: {0}")]
    Plan(#[from] crate::plan::PlanError),
    #[error("could not write the de-identified object: {0}")]
    Write(String),
    #[error("pixel data: {0}")]
    Pixel(String),
    /// The object is beyond one of dcmask's limits on what a file may hold
    /// ([`crate::precheck`], [`crate::io::inflated_limit`], [`crate::pixel::decode`]).
    #[error("beyond dcmask's limits: {0}")]
    Limit(String),
    /// A DICOMDIR: its records repeat identifiers and point into the original file set,
    /// so it is never copied; a batch regenerates it from the de-identified files.
    #[error(
        "not supported: DICOMDIR: its records point into the original file set; it is not \
         copied (regenerate it from the de-identified files)"
    )]
    Dicomdir,
    /// Attributes the SOP class requires are missing (names and tags, no values).
    #[error("incomplete: {0} missing; the file may be truncated")]
    Incomplete(String),
}

pub type Result<T> = std::result::Result<T, Error>;
