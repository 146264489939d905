//! The PS3.15 Annex E options, each tied to its column of Table E.1-1 and its CID 7050 code.

use serde::{Deserialize, Serialize};

/// One option of the Basic Application Level Confidentiality Profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileOption {
    /// Retain Safe Private: private attributes of Table E.3.10-1 kept.
    RetainSafePrivate,
    /// Retain UIDs: UIDs kept instead of replaced.
    RetainUids,
    /// Retain Device Identity: device and station identifiers kept.
    RetainDeviceIdentity,
    /// Retain Institution Identity: institution names and addresses kept.
    RetainInstitutionIdentity,
    /// Retain Patient Characteristics: age, sex, size, weight and the like kept.
    RetainPatientCharacteristics,
    /// Retain Longitudinal Temporal Information with Full Dates: dates kept.
    RetainLongFullDates,
    /// Retain Longitudinal Temporal Information with Modified Dates: dates shifted.
    RetainLongModifiedDates,
    /// Clean Descriptors: descriptions and comments cleaned instead of removed.
    CleanDescriptors,
    /// Clean Structured Content: SR content cleaned instead of removed.
    CleanStructuredContent,
    /// Clean Graphics: graphic annotations cleaned instead of removed.
    CleanGraphics,
    /// Clean Pixel Data: burned-in text blanked in the image.
    CleanPixelData,
}

impl ProfileOption {
    /// Every option, in the order of Table E.1-1's columns, Clean Pixel Data last.
    pub const ALL: [ProfileOption; 11] = [
        Self::RetainSafePrivate,
        Self::RetainUids,
        Self::RetainDeviceIdentity,
        Self::RetainInstitutionIdentity,
        Self::RetainPatientCharacteristics,
        Self::RetainLongFullDates,
        Self::RetainLongModifiedDates,
        Self::CleanDescriptors,
        Self::CleanStructuredContent,
        Self::CleanGraphics,
        Self::CleanPixelData,
    ];

    /// The option's column in Table E.1-1; Clean Pixel Data has none (it acts on pixels).
    pub fn column(self) -> Option<usize> {
        let i = self as usize;
        (i < 10).then_some(i)
    }

    /// The snake_case id used in JSON, the CLI and the table's CSV header.
    pub fn id(self) -> &'static str {
        match self {
            Self::RetainSafePrivate => "retain_safe_private",
            Self::RetainUids => "retain_uids",
            Self::RetainDeviceIdentity => "retain_device_identity",
            Self::RetainInstitutionIdentity => "retain_institution_identity",
            Self::RetainPatientCharacteristics => "retain_patient_characteristics",
            Self::RetainLongFullDates => "retain_long_full_dates",
            Self::RetainLongModifiedDates => "retain_long_modified_dates",
            Self::CleanDescriptors => "clean_descriptors",
            Self::CleanStructuredContent => "clean_structured_content",
            Self::CleanGraphics => "clean_graphics",
            Self::CleanPixelData => "clean_pixel_data",
        }
    }

    /// The option with this id (`retain_uids`, `clean_pixel_data`, ...).
    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.id() == id)
    }

    /// CID 7050 code value (scheme DCM) and meaning.
    pub fn code(self) -> (&'static str, &'static str) {
        match self {
            Self::RetainSafePrivate => ("113111", "Retain Safe Private Option"),
            Self::RetainUids => ("113110", "Retain UIDs Option"),
            Self::RetainDeviceIdentity => ("113109", "Retain Device Identity Option"),
            Self::RetainInstitutionIdentity => ("113112", "Retain Institution Identity Option"),
            Self::RetainPatientCharacteristics => {
                ("113108", "Retain Patient Characteristics Option")
            }
            Self::RetainLongFullDates => (
                "113106",
                "Retain Longitudinal Temporal Information Full Dates Option",
            ),
            Self::RetainLongModifiedDates => (
                "113107",
                "Retain Longitudinal Temporal Information Modified Dates Option",
            ),
            Self::CleanDescriptors => ("113105", "Clean Descriptors Option"),
            Self::CleanStructuredContent => ("113104", "Clean Structured Content Option"),
            Self::CleanGraphics => ("113103", "Clean Graphics Option"),
            Self::CleanPixelData => ("113101", "Clean Pixel Data Option"),
        }
    }

    /// The label shown next to the checkbox.
    pub fn label(self) -> &'static str {
        match self {
            Self::RetainSafePrivate => "Retain Safe Private",
            Self::RetainUids => "Retain UIDs",
            Self::RetainDeviceIdentity => "Retain Device Identity",
            Self::RetainInstitutionIdentity => "Retain Institution Identity",
            Self::RetainPatientCharacteristics => "Retain Patient Characteristics",
            Self::RetainLongFullDates => "Retain Longitudinal Temporal Information (Full Dates)",
            Self::RetainLongModifiedDates => {
                "Retain Longitudinal Temporal Information (Modified Dates)"
            }
            Self::CleanDescriptors => "Clean Descriptors",
            Self::CleanStructuredContent => "Clean Structured Content",
            Self::CleanGraphics => "Clean Graphics",
            Self::CleanPixelData => "Clean Pixel Data",
        }
    }

    /// One line for tooltips and `dcmask profile show`.
    pub fn description(self) -> &'static str {
        match self {
            Self::RetainSafePrivate => {
                "Keep private elements listed as safe in Table E.3.10-1, with their creator"
            }
            Self::RetainUids => "Keep instance UIDs instead of replacing them",
            Self::RetainDeviceIdentity => {
                "Keep device identifiers (serial numbers, station names are cleaned)"
            }
            Self::RetainInstitutionIdentity => "Keep institution name and code",
            Self::RetainPatientCharacteristics => "Keep age, sex, size, weight and similar",
            Self::RetainLongFullDates => "Keep all dates and times unchanged",
            Self::RetainLongModifiedDates => "Shift all dates by one offset per patient",
            Self::CleanDescriptors => "Keep free-text descriptions with identifying words removed",
            Self::CleanStructuredContent => "Keep SR content, cleaned item by item",
            Self::CleanGraphics => "Keep overlays, curves and graphic annotations, cleaned",
            Self::CleanPixelData => "Black out burned-in identifying text in the pixels",
        }
    }
}
