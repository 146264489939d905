//! Clean Pixel Data: blanking burned-in identifying text.
//!
//! Boxes come from header-matched rules ([`RegionRules`], shipped and user-given), from
//! words a [`TextDetector`] (OCR, given by the caller) finds in the pixels ([`detect`]),
//! and from rectangles drawn in the workbench; all go through [`blank_boxes`]. Without a
//! detector, when no rule matches an image that may carry text, the record says so
//! instead of claiming it clean.

pub mod blank;
pub mod decode;
pub mod detect;
pub mod jpegls;
pub mod regions;
pub mod render;

pub use blank::{blank_boxes, clip, EXPLICIT_VR_LE};
pub use detect::{
    is_safe_annotation, propose, BoxKind, PixelTools, Proposal, ProposedBox, Read, TextDetector,
    TextMode, Word,
};
pub use regions::{Condition, RegionError, RegionRule, RegionRules};
pub use render::GrayImage;

use crate::error::Result;
use crate::record::{PixelBox, Record};
use dicom_dictionary_std::tags;
use dicom_object::meta::FileMetaTable;
use dicom_object::InMemDicomObject;

/// Modalities and SOP classes whose images often carry burned-in text, with the reason
/// for each (`data/text-prone.csv`).
const TEXT_PRONE_CSV: &str = include_str!("../../data/text-prone.csv");

#[derive(serde::Deserialize)]
struct TextProne {
    kind: String,
    value: String,
    #[allow(dead_code)] // read by people: the table says why each row is there
    reason: String,
}

fn text_prone() -> &'static [TextProne] {
    static ROWS: std::sync::OnceLock<Vec<TextProne>> = std::sync::OnceLock::new();
    ROWS.get_or_init(|| {
        csv::Reader::from_reader(TEXT_PRONE_CSV.as_bytes())
            .deserialize()
            .collect::<std::result::Result<_, _>>()
            .expect("data/text-prone.csv is valid")
    })
}

/// Whether the table lists this modality as one whose images often carry text.
pub fn is_text_prone_modality(modality: &str) -> bool {
    text_prone()
        .iter()
        .any(|r| r.kind == "modality" && r.value == modality)
}

/// What the original header says about the pixels, taken before the header is cleaned.
#[derive(Debug, Clone, Default)]
pub struct Assessment {
    /// Boxes of every matching rule, clipped to the image.
    pub boxes: Vec<PixelBox>,
    /// Why text may be in the image although no rule matched.
    pub warnings: Vec<String>,
}

impl From<Proposal> for Assessment {
    /// The enabled boxes of a proposal, with its warnings.
    fn from(p: Proposal) -> Assessment {
        Assessment {
            boxes: p.enabled(),
            warnings: p.warnings,
        }
    }
}

/// Finds the boxes for an original (not yet de-identified) header.
pub fn assess(ds: &InMemDicomObject, rules: &RegionRules) -> Assessment {
    let boxes = rules.boxes(ds);
    let warnings = if boxes.is_empty() && ds.get(tags::PIXEL_DATA).is_some() {
        text_risk(ds).into_iter().collect()
    } else {
        Vec::new()
    };
    Assessment { boxes, warnings }
}

/// Why an image may carry burned-in text, judged from its original header: Burned In
/// Annotation (0028,0301) is YES; or it is absent and the modality or SOP class is one
/// that usually carries text (`data/text-prone.csv`). `None` without pixel data or when
/// the header says NO. The phrase holds no value from the object beyond the modality.
pub fn burned_in_risk(ds: &InMemDicomObject) -> Option<String> {
    ds.get(tags::PIXEL_DATA)?;
    let text = |t| {
        ds.get(t)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_matches(['\0', ' ']).to_ascii_uppercase())
    };
    match text(tags::BURNED_IN_ANNOTATION).as_deref() {
        Some("YES") => return Some("Burned In Annotation (0028,0301) is YES".into()),
        Some("NO") => return None,
        _ => {}
    }
    if let Some(m) = text(tags::MODALITY).filter(|m| is_text_prone_modality(m)) {
        return Some(format!("modality {m} often carries burned-in text"));
    }
    let class = text(tags::SOP_CLASS_UID)?;
    text_prone()
        .iter()
        .find(|r| r.kind == "sop_class" && r.value == class)
        .map(|r| format!("{} often carries burned-in text", r.reason))
}

/// Why an image may carry burned-in text that +Pixel found no region rule for.
pub fn text_risk(ds: &InMemDicomObject) -> Option<String> {
    burned_in_risk(ds).map(|why| {
        format!("burned-in text possible, not cleaned: {why} and no region rule matches")
    })
}

/// Applies an assessment to the de-identified data set: blanks the boxes (recording each)
/// or records the warning. Returns the data set, its transfer syntax and whether pixels
/// were blanked.
pub(crate) fn clean(
    out: InMemDicomObject,
    meta: &FileMetaTable,
    assessment: Assessment,
    record: &mut Record,
) -> Result<(InMemDicomObject, String, bool)> {
    let ts = meta.transfer_syntax().trim_end_matches('\0').to_string();
    record.pixel_warnings.extend(assessment.warnings);
    if assessment.boxes.is_empty() || out.get(tags::PIXEL_DATA).is_none() {
        return Ok((out, ts, false));
    }
    let mut file = out.with_exact_meta(meta.clone());
    let applied = blank_boxes(&mut file, &assessment.boxes)?;
    let ts = file
        .meta()
        .transfer_syntax()
        .trim_end_matches('\0')
        .to_string();
    let cleaned = !applied.is_empty();
    record.pixel_boxes.extend(applied);
    Ok((file.into_inner(), ts, cleaned))
}
