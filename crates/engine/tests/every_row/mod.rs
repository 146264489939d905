//! Objects that carry every attribute of Table E.1-1, each with a realistic value for
//! its VR: names, dates, identifiers, codes in sequences (Code Value, Coding Scheme
//! Designator, Code Meaning), and, for the sequences of the IOD's modules, items with
//! the attributes their macros require (nested where the standard nests them).
//!
//! The mandatory modules of a CT image (Patient, General Study, General Series, Frame
//! of Reference, General Equipment, General Image, Image Plane, Image Pixel, CT Image,
//! Specimen, SOP Common) or of a verified Comprehensive SR are filled so that dciodvfy
//! checks the object against its IOD; whatever it says of the input is compared with
//! what it says of each output.

use crate::common::{bytes_el, code_item, el, item, pixel_bytes, sq, us};
use dcmask_engine::presence_rules;
use dcmask_engine::{table, TagPattern};
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::{tags, StandardDataDictionary};
use dicom_object::mem::InMemElement;
use dicom_object::InMemDicomObject;

pub const CT_CLASS: &str = "1.2.840.10008.5.1.4.1.1.2";
pub const COMPREHENSIVE_SR_CLASS: &str = "1.2.840.10008.5.1.4.1.1.88.33";

/// The IOD the attributes are put into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Iod {
    /// A CT image.
    Ct,
    /// A Comprehensive SR document, verified, with a text content item.
    Sr,
}
const ROOT: &str = "1.2.826.0.1.3680043.8.498.5150";

fn t(g: u16, e: u16) -> Tag {
    Tag(g, e)
}

fn uid(n: u32) -> String {
    format!("{ROOT}.{n}")
}

/// The mandatory modules of a CT image, 16x16 with 12 of 16 bits stored.
fn ct_base() -> InMemDicomObject {
    let pixels: Vec<u16> = pixel_bytes().iter().map(|&b| u16::from(b) << 2).collect();
    item(vec![
        el(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 100"),
        el(tags::IMAGE_TYPE, VR::CS, "ORIGINAL\\PRIMARY\\AXIAL"),
        el(tags::SOP_CLASS_UID, VR::UI, CT_CLASS),
        el(tags::SOP_INSTANCE_UID, VR::UI, &uid(1)),
        el(tags::STUDY_DATE, VR::DA, "20240312"),
        el(tags::CONTENT_DATE, VR::DA, "20240312"),
        el(tags::STUDY_TIME, VR::TM, "091500"),
        el(tags::CONTENT_TIME, VR::TM, "091712"),
        el(tags::ACCESSION_NUMBER, VR::SH, "ACC20240312"),
        el(tags::MODALITY, VR::CS, "CT"),
        el(tags::MANUFACTURER, VR::LO, "ACME Medical"),
        el(tags::REFERRING_PHYSICIAN_NAME, VR::PN, "Okonkwo^Adaeze^M"),
        el(tags::PATIENT_NAME, VR::PN, "Lindqvist^Marguerite^A"),
        el(tags::PATIENT_ID, VR::LO, "MRN7734921"),
        el(tags::PATIENT_BIRTH_DATE, VR::DA, "19580704"),
        el(tags::PATIENT_SEX, VR::CS, "F"),
        el(tags::KVP, VR::DS, "120"),
        el(tags::SLICE_THICKNESS, VR::DS, "1.25"),
        el(tags::STUDY_INSTANCE_UID, VR::UI, &uid(2)),
        el(tags::SERIES_INSTANCE_UID, VR::UI, &uid(3)),
        el(tags::STUDY_ID, VR::SH, "S20240312"),
        el(tags::SERIES_NUMBER, VR::IS, "2"),
        el(tags::ACQUISITION_NUMBER, VR::IS, "1"),
        el(tags::INSTANCE_NUMBER, VR::IS, "14"),
        el(tags::IMAGE_POSITION_PATIENT, VR::DS, "-120\\-120\\35.5"),
        el(tags::IMAGE_ORIENTATION_PATIENT, VR::DS, "1\\0\\0\\0\\1\\0"),
        el(tags::FRAME_OF_REFERENCE_UID, VR::UI, &uid(4)),
        el(tags::POSITION_REFERENCE_INDICATOR, VR::LO, ""),
        us(tags::SAMPLES_PER_PIXEL, 1),
        el(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
        us(tags::ROWS, 16),
        us(tags::COLUMNS, 16),
        el(tags::PIXEL_SPACING, VR::DS, "0.5\\0.5"),
        us(tags::BITS_ALLOCATED, 16),
        us(tags::BITS_STORED, 12),
        us(tags::HIGH_BIT, 11),
        us(tags::PIXEL_REPRESENTATION, 0),
        el(tags::RESCALE_INTERCEPT, VR::DS, "-1024"),
        el(tags::RESCALE_SLOPE, VR::DS, "1"),
        el(tags::PATIENT_POSITION, VR::CS, "HFS"),
        DataElement::new(tags::PIXEL_DATA, VR::OW, PrimitiveValue::U16(pixels.into())),
        // Specimen Macro (PS3.3 Table 10-31): the Table E.1-1 rows of specimens nest here.
        el(tags::CONTAINER_IDENTIFIER, VR::LO, "BLOCK-7734-A"),
        sq(
            tags::ISSUER_OF_THE_CONTAINER_IDENTIFIER_SEQUENCE,
            vec![issuer()],
        ),
        sq(
            tags::CONTAINER_TYPE_CODE_SEQUENCE,
            vec![code_item("434711009", "SCT", "Specimen container")],
        ),
        sq(
            tags::SPECIMEN_DESCRIPTION_SEQUENCE,
            vec![item(vec![
                el(tags::SPECIMEN_IDENTIFIER, VR::LO, "SPEC-7734-1"),
                sq(
                    tags::ISSUER_OF_THE_SPECIMEN_IDENTIFIER_SEQUENCE,
                    vec![issuer()],
                ),
                el(tags::SPECIMEN_UID, VR::UI, &uid(5)),
                el(
                    tags::SPECIMEN_SHORT_DESCRIPTION,
                    VR::LO,
                    "biopsy of Lindqvist",
                ),
                el(
                    tags::SPECIMEN_DETAILED_DESCRIPTION,
                    VR::UT,
                    "taken by Dr Okonkwo",
                ),
                sq(tags::SPECIMEN_PREPARATION_SEQUENCE, specimen_preparation()),
            ])],
        ),
    ])
}

/// The mandatory modules of a verified Comprehensive SR document.
fn sr_base() -> InMemDicomObject {
    item(vec![
        el(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 100"),
        el(tags::SOP_CLASS_UID, VR::UI, COMPREHENSIVE_SR_CLASS),
        el(tags::SOP_INSTANCE_UID, VR::UI, &uid(1)),
        el(tags::STUDY_DATE, VR::DA, "20240312"),
        el(tags::CONTENT_DATE, VR::DA, "20240312"),
        el(tags::STUDY_TIME, VR::TM, "091500"),
        el(tags::CONTENT_TIME, VR::TM, "091712"),
        el(tags::ACCESSION_NUMBER, VR::SH, "ACC20240312"),
        el(tags::MODALITY, VR::CS, "SR"),
        el(tags::MANUFACTURER, VR::LO, "ACME Medical"),
        el(tags::REFERRING_PHYSICIAN_NAME, VR::PN, "Okonkwo^Adaeze^M"),
        el(tags::PATIENT_NAME, VR::PN, "Lindqvist^Marguerite^A"),
        el(tags::PATIENT_ID, VR::LO, "MRN7734921"),
        el(tags::PATIENT_BIRTH_DATE, VR::DA, "19580704"),
        el(tags::PATIENT_SEX, VR::CS, "F"),
        el(tags::STUDY_INSTANCE_UID, VR::UI, &uid(2)),
        el(tags::SERIES_INSTANCE_UID, VR::UI, &uid(3)),
        el(tags::STUDY_ID, VR::SH, "S20240312"),
        el(tags::SERIES_NUMBER, VR::IS, "2"),
        el(tags::INSTANCE_NUMBER, VR::IS, "1"),
        sq(
            tags::REFERENCED_PERFORMED_PROCEDURE_STEP_SEQUENCE,
            Vec::new(),
        ),
        el(tags::COMPLETION_FLAG, VR::CS, "COMPLETE"),
        el(tags::VERIFICATION_FLAG, VR::CS, "VERIFIED"),
        sq(
            tags::VERIFYING_OBSERVER_SEQUENCE,
            items_of(tags::VERIFYING_OBSERVER_SEQUENCE, ""),
        ),
        sq(tags::PERFORMED_PROCEDURE_CODE_SEQUENCE, Vec::new()),
        el(tags::VALUE_TYPE, VR::CS, "CONTAINER"),
        sq(
            tags::CONCEPT_NAME_CODE_SEQUENCE,
            vec![code_item("18748-4", "LN", "Diagnostic imaging report")],
        ),
        el(tags::CONTINUITY_OF_CONTENT, VR::CS, "SEPARATE"),
        sq(tags::CONTENT_SEQUENCE, sr_content_items()),
    ])
}

/// One content item of each value type whose value attribute is a row of Table E.1-1.
fn sr_content_items() -> Vec<InMemDicomObject> {
    let mut items = vec![text_content_item()];
    for (value_type, tag, vr, value) in [
        ("DATETIME", tags::DATE_TIME, VR::DT, "20240312101530"),
        ("DATE", tags::DATE, VR::DA, "20240312"),
        ("TIME", tags::TIME, VR::TM, "101530"),
        ("PNAME", tags::PERSON_NAME, VR::PN, "Okonkwo^Adaeze"),
        (
            "UIDREF",
            tags::UID,
            VR::UI,
            "1.2.826.0.1.3680043.8.498.5150.60",
        ),
    ] {
        items.push(item(vec![
            el(tags::RELATIONSHIP_TYPE, VR::CS, "CONTAINS"),
            el(tags::VALUE_TYPE, VR::CS, value_type),
            sq(
                tags::CONCEPT_NAME_CODE_SEQUENCE,
                vec![code_item("121106", "DCM", "Comment")],
            ),
            el(tags::OBSERVATION_DATE_TIME, VR::DT, "20240312101530"),
            el(tag, vr, value),
        ]));
    }
    items
}

/// The value attributes of SR content items: in an SR they belong in its content items.
const CONTENT_ITEM_VALUES: &[Tag] = &[
    tags::DATE_TIME,
    tags::DATE,
    tags::TIME,
    tags::PERSON_NAME,
    tags::UID,
    tags::TEXT_VALUE,
];

fn specimen_preparation() -> Vec<InMemDicomObject> {
    vec![item(vec![sq(
        tags::SPECIMEN_PREPARATION_STEP_CONTENT_ITEM_SEQUENCE,
        vec![item(vec![
            el(tags::VALUE_TYPE, VR::CS, "TEXT"),
            sq(
                tags::CONCEPT_NAME_CODE_SEQUENCE,
                vec![code_item("121106", "DCM", "Comment")],
            ),
            el(tags::TEXT_VALUE, VR::UT, "fixed by Okonkwo"),
        ])],
    )])]
}

/// A realistic code for a code sequence.
fn code() -> InMemDicomObject {
    code_item("T-D3000", "SRT", "Chest")
}

fn reference(class: &str, n: u32) -> InMemDicomObject {
    item(vec![
        el(tags::REFERENCED_SOP_CLASS_UID, VR::UI, class),
        el(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, &uid(n)),
    ])
}

/// Person Identification Macro (PS3.3 Table 10-1).
fn person() -> InMemDicomObject {
    item(vec![
        sq(
            tags::PERSON_IDENTIFICATION_CODE_SEQUENCE,
            vec![code_item("EMP-55120", "99ACME", "Okonkwo staff badge")],
        ),
        el(tags::PERSON_ADDRESS, VR::ST, "4 Birch Row, Lakeside"),
        el(tags::INSTITUTION_NAME, VR::LO, "Lakeside General Hospital"),
    ])
}

fn issuer() -> InMemDicomObject {
    item(vec![el(
        tags::LOCAL_NAMESPACE_ENTITY_ID,
        VR::UT,
        "LAKESIDE",
    )])
}

fn text_content_item() -> InMemDicomObject {
    item(vec![
        el(tags::RELATIONSHIP_TYPE, VR::CS, "CONTAINS"),
        el(tags::VALUE_TYPE, VR::CS, "TEXT"),
        sq(
            tags::CONCEPT_NAME_CODE_SEQUENCE,
            vec![code_item("121106", "DCM", "Comment")],
        ),
        el(tags::TEXT_VALUE, VR::UT, "Seen by Dr Okonkwo on 12 March"),
    ])
}

/// Items for a sequence of Table E.1-1: what its macro holds where the CT IOD has it,
/// a code where it is a code sequence, a plausible item otherwise.
fn items_of(tag: Tag, name: &str) -> Vec<InMemDicomObject> {
    let one = |i: InMemDicomObject| vec![i];
    match (tag.0, tag.1) {
        (0x0008, 0x1110) => one(reference("1.2.840.10008.3.1.2.3.1", 20)),
        (0x0008, 0x1111) => one(reference("1.2.840.10008.3.1.2.3.3", 21)),
        (0x0008, 0x1120) => one(reference("1.2.840.10008.3.1.2.1.1", 22)),
        (0x0008, 0x1140) => one(reference(CT_CLASS, 23)),
        (0x0008, 0x2112) => {
            let mut r = reference(CT_CLASS, 24);
            r.put(sq(
                tags::PURPOSE_OF_REFERENCE_CODE_SEQUENCE,
                vec![code_item("121320", "DCM", "Uncompressed predecessor")],
            ));
            one(r)
        }
        (0x0010, 0x0011) => one(item(vec![
            el(tags::NAME_TO_USE, VR::LO, "Maggie"),
            el(tags::NAME_TO_USE_COMMENT, VR::UT, "prefers Maggie"),
        ])),
        (0x0010, 0x0014) => one(item(vec![
            sq(
                tags::PRONOUN_CODE_SEQUENCE,
                vec![code_item("LA29519-8", "LN", "she/her/her/hers/herself")],
            ),
            el(tags::PRONOUN_COMMENT, VR::UT, "as stated by the patient"),
        ])),
        (0x0010, 0x0041) => one(item(vec![
            sq(
                tags::GENDER_IDENTITY_CODE_SEQUENCE,
                vec![code_item("446141000124107", "SCT", "Identifies as female")],
            ),
            el(
                tags::GENDER_IDENTITY_COMMENT,
                VR::UT,
                "as stated by the patient",
            ),
        ])),
        (0x0010, 0x0043) => one(item(vec![
            sq(
                tags::SEX_PARAMETERS_FOR_CLINICAL_USE_CATEGORY_CODE_SEQUENCE,
                vec![code_item("248152002", "SCT", "Female")],
            ),
            el(
                tags::SEX_PARAMETERS_FOR_CLINICAL_USE_CATEGORY_COMMENT,
                VR::UT,
                "from the referral",
            ),
        ])),
        (0x0010, 0x1002) => one(item(vec![
            el(tags::PATIENT_ID, VR::LO, "OLD-4471"),
            el(tags::ISSUER_OF_PATIENT_ID, VR::LO, "LAKESIDE"),
            el(tags::TYPE_OF_PATIENT_ID, VR::CS, "TEXT"),
        ])),
        // Referenced Instances and Access Macro (PS3.3 Table 10-3b).
        (0x0010, 0x1100) => one(item(vec![
            el(tags::TYPE_OF_INSTANCES, VR::CS, "DICOM"),
            el(tags::STUDY_INSTANCE_UID, VR::UI, &uid(30)),
            el(tags::SERIES_INSTANCE_UID, VR::UI, &uid(31)),
            sq(
                tags::REFERENCED_SOP_SEQUENCE,
                vec![reference("1.2.840.10008.5.1.4.1.1.77.1.4", 32)],
            ),
            sq(
                tags::DICOM_RETRIEVAL_SEQUENCE,
                vec![item(vec![el(
                    tags::RETRIEVE_AE_TITLE,
                    VR::AE,
                    "LAKESIDEPACS",
                )])],
            ),
        ])),
        (0x0012, 0x0023) => one(item(vec![
            el(tags::CLINICAL_TRIAL_PROTOCOL_ID, VR::LO, "PROT-2024-07"),
            el(
                tags::ISSUER_OF_CLINICAL_TRIAL_PROTOCOL_ID,
                VR::LO,
                "ACME Pharma",
            ),
        ])),
        (0x0018, 0x100A) => one(item(vec![
            el(
                tags::UNIQUE_DEVICE_IDENTIFIER,
                VR::UT,
                "(01)00643169001763(21)A1234",
            ),
            el(tags::DEVICE_DESCRIPTION, VR::LO, "CT scanner"),
        ])),
        (0x0038, 0x0014) | (0x0038, 0x0064) | (0x0040, 0x0513) | (0x0040, 0x0562) => one(issuer()),
        (0x0040, 0x0275) => one(item(vec![
            el(tags::ACCESSION_NUMBER, VR::SH, "ACC20240312"),
            el(tags::STUDY_INSTANCE_UID, VR::UI, &uid(2)),
            el(tags::REQUESTED_PROCEDURE_ID, VR::SH, "RP-88120"),
            el(
                tags::REQUESTED_PROCEDURE_DESCRIPTION,
                VR::LO,
                "CT chest for Lindqvist",
            ),
            sq(
                tags::REASON_FOR_REQUESTED_PROCEDURE_CODE_SEQUENCE,
                vec![code()],
            ),
            el(tags::SCHEDULED_PROCEDURE_STEP_ID, VR::SH, "SPS-77120"),
            el(
                tags::SCHEDULED_PROCEDURE_STEP_DESCRIPTION,
                VR::LO,
                "CT chest",
            ),
            sq(tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE, vec![code()]),
        ])),
        (0x0040, 0x0555) => one(item(vec![
            el(tags::VALUE_TYPE, VR::CS, "TEXT"),
            sq(
                tags::CONCEPT_NAME_CODE_SEQUENCE,
                vec![code_item("121106", "DCM", "Comment")],
            ),
            el(tags::TEXT_VALUE, VR::UT, "breath hold by Mrs Lindqvist"),
        ])),
        (0x0040, 0x0610) => specimen_preparation(),
        (0x0040, 0x4034) | (0x0040, 0x4035) => one(item(vec![
            sq(tags::HUMAN_PERFORMER_CODE_SEQUENCE, vec![code()]),
            el(
                tags::HUMAN_PERFORMER_ORGANIZATION,
                VR::LO,
                "Lakeside General Hospital",
            ),
            el(tags::HUMAN_PERFORMER_NAME, VR::PN, "Okonkwo^Adaeze"),
        ])),
        (0x0040, 0xA073) => one(item(vec![
            el(tags::VERIFYING_OBSERVER_NAME, VR::PN, "Okonkwo^Adaeze"),
            sq(
                tags::VERIFYING_OBSERVER_IDENTIFICATION_CODE_SEQUENCE,
                vec![code()],
            ),
            el(
                tags::VERIFYING_ORGANIZATION,
                VR::LO,
                "Lakeside General Hospital",
            ),
            el(tags::VERIFICATION_DATE_TIME, VR::DT, "20240312101500"),
        ])),
        (0x0040, 0xA078) | (0x0040, 0xA07A) => {
            let mut i = person();
            if tag.1 == 0xA07A {
                i.put(el(tags::PARTICIPATION_TYPE, VR::CS, "ENT"));
                i.put(el(tags::PARTICIPATION_DATE_TIME, VR::DT, "20240312101500"));
            }
            i.put(el(tags::OBSERVER_TYPE, VR::CS, "PSN"));
            i.put(sq(
                tags::INSTITUTION_CODE_SEQUENCE,
                vec![code_item("LGH", "99ACME", "Lakeside")],
            ));
            i.put(el(tags::PERSON_NAME, VR::PN, "Okonkwo^Adaeze"));
            one(i)
        }
        (0x0040, 0xA07C) => one(item(vec![
            el(tags::INSTITUTION_NAME, VR::LO, "Lakeside General Hospital"),
            sq(
                tags::INSTITUTION_CODE_SEQUENCE,
                vec![code_item("LGH", "99ACME", "Lakeside")],
            ),
        ])),
        (0x0040, 0xA730) => one(text_content_item()),
        (0x0070, 0x0001) => one(item(vec![
            el(tags::GRAPHIC_LAYER, VR::CS, "ANNOTATION"),
            sq(
                tags::TEXT_OBJECT_SEQUENCE,
                vec![item(vec![
                    el(tags::UNFORMATTED_TEXT_VALUE, VR::ST, "Lindqvist M"),
                    el(tags::ANCHOR_POINT_ANNOTATION_UNITS, VR::CS, "PIXEL"),
                    DataElement::new(
                        tags::ANCHOR_POINT,
                        VR::FL,
                        PrimitiveValue::F32([2.0f32, 2.0][..].into()),
                    ),
                    el(tags::ANCHOR_POINT_VISIBILITY, VR::CS, "N"),
                ])],
            ),
        ])),
        (0x0088, 0x0200) => one(item(vec![
            us(tags::SAMPLES_PER_PIXEL, 1),
            el(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
            us(tags::ROWS, 4),
            us(tags::COLUMNS, 4),
            us(tags::BITS_ALLOCATED, 8),
            us(tags::BITS_STORED, 8),
            us(tags::HIGH_BIT, 7),
            us(tags::PIXEL_REPRESENTATION, 0),
            bytes_el(tags::PIXEL_DATA, VR::OB, &[0x40; 16]),
        ])),
        (0x0400, 0x0550) | (0x0400, 0x0551) => one(item(vec![
            el(tags::PATIENT_NAME, VR::PN, "Lindqvist^Margareta"),
            el(tags::PATIENT_ID, VR::LO, "OLD-4471"),
        ])),
        (0x0400, 0x0561) => one(item(vec![
            sq(
                tags::MODIFIED_ATTRIBUTES_SEQUENCE,
                vec![item(vec![el(
                    tags::PATIENT_NAME,
                    VR::PN,
                    "Lindqvist^Margareta",
                )])],
            ),
            el(
                tags::ATTRIBUTE_MODIFICATION_DATE_TIME,
                VR::DT,
                "20240312101500",
            ),
            el(tags::MODIFYING_SYSTEM, VR::LO, "LAKESIDE-RIS"),
            el(tags::SOURCE_OF_PREVIOUS_VALUES, VR::LO, "Lakeside RIS"),
            el(
                tags::REASON_FOR_THE_ATTRIBUTE_MODIFICATION,
                VR::CS,
                "CORRECT",
            ),
        ])),
        (0x0400, 0x0500) => one(item(vec![
            el(
                tags::ENCRYPTED_CONTENT_TRANSFER_SYNTAX_UID,
                VR::UI,
                "1.2.840.10008.1.2.1",
            ),
            bytes_el(
                tags::ENCRYPTED_CONTENT,
                VR::OB,
                b"0\x82\x01\x22 CMS enveloped",
            ),
        ])),
        (0xFFFA, 0xFFFA) => one(item(vec![
            DataElement::new(tags::MACID_NUMBER, VR::US, PrimitiveValue::from(1u16)),
            el(tags::DIGITAL_SIGNATURE_UID, VR::UI, &uid(40)),
            el(tags::DIGITAL_SIGNATURE_DATE_TIME, VR::DT, "20240312101500"),
            el(tags::CERTIFICATE_TYPE, VR::CS, "X509_1993_SIG"),
            bytes_el(tags::CERTIFICATE_OF_SIGNER, VR::OB, &[0x30, 0x82]),
            bytes_el(tags::SIGNATURE, VR::OB, &[0x01, 0x02]),
        ])),
        _ if name.contains("Identification Sequence") && !name.contains("Code") => one(person()),
        _ if name.starts_with("Referenced") => one(reference(CT_CLASS, 50 + u32::from(tag.1 % 64))),
        _ => one(code()),
    }
}

/// A realistic value of the VR; a few attributes need one of their defined terms.
fn value_of(tag: Tag, vr: VR, name: &str, n: u32) -> InMemElement {
    let cs = match (tag.0, tag.1) {
        (0x0010, 0x0040) => "F",
        (0x0010, 0x2203) => "ALTERED",
        (0x0010, 0x21A0) => "NO",
        (0x0010, 0x0022) => "TEXT",
        (0x0010, 0x2298) => "OWNER",
        (0x0400, 0x0565) => "CORRECT",
        (0x0400, 0x0600) => "LOCAL",
        (0x0010, 0x0035) => "JAPANESE",
        (0x0008, 0x0054) | (0x0008, 0x0055) => "",
        _ if name.contains("Ref") && name.starts_with("GPS") => "N",
        _ => "OTHER",
    };
    let text = |s: &str| el(tag, vr, s);
    if matches!((tag.0, tag.1), (0x0010, 0x0033) | (0x0010, 0x0034)) {
        return text("S33.07.04");
    }
    match vr {
        VR::PN => text("Okonkwo^Adaeze^M"),
        VR::LO => text(
            &format!("{name} at Lakeside General")
                .chars()
                .take(64)
                .collect::<String>(),
        ),
        VR::SH => text("LGH-44120"),
        VR::CS => text(cs),
        VR::AE => text("LAKESIDECT1"),
        VR::DA => text("20240312"),
        VR::TM => text("101530"),
        VR::DT => text("20240312101530"),
        VR::AS => text("065Y"),
        VR::IS => text("12"),
        VR::DS => text("1.5"),
        VR::UI => text(&uid(100 + n)),
        VR::UR => text("https://lakeside.example.org/patients/7734921"),
        VR::ST | VR::LT | VR::UT | VR::UC => text(&format!(
            "{name}: seen by Dr Okonkwo, Lakeside General, ward 4"
        )),
        VR::US => DataElement::new(tag, vr, PrimitiveValue::from(1u16)),
        VR::SS => DataElement::new(tag, vr, PrimitiveValue::from(1i16)),
        VR::UL => DataElement::new(tag, vr, PrimitiveValue::from(1u32)),
        VR::SL => DataElement::new(tag, vr, PrimitiveValue::from(1i32)),
        VR::FL => DataElement::new(tag, vr, PrimitiveValue::from(1.5f32)),
        VR::FD => DataElement::new(tag, vr, PrimitiveValue::from(1.5f64)),
        VR::UV => DataElement::new(tag, vr, PrimitiveValue::U64([1u64][..].into())),
        VR::SV => DataElement::new(tag, vr, PrimitiveValue::I64([1i64][..].into())),
        VR::AT => DataElement::new(
            tag,
            vr,
            PrimitiveValue::Tags([tags::PATIENT_NAME][..].into()),
        ),
        VR::OW => DataElement::new(tag, vr, PrimitiveValue::U16([0x4C47u16, 0x4820][..].into())),
        VR::OF => DataElement::new(tag, vr, PrimitiveValue::F32([1.5f32][..].into())),
        VR::OD => DataElement::new(tag, vr, PrimitiveValue::F64([1.5f64][..].into())),
        VR::OL => DataElement::new(tag, vr, PrimitiveValue::U32([1u32][..].into())),
        VR::OV => DataElement::new(tag, vr, PrimitiveValue::U64([1u64][..].into())),
        _ => bytes_el(tag, vr, b"LGH-4412"),
    }
}

/// An overlay plane in group 6000 with its comments: Overlay Data (60xx,3000) and
/// Overlay Comments (60xx,4000) are rows of Table E.1-1, and the overlay needs the rest.
fn overlay() -> Vec<InMemElement> {
    vec![
        us(t(0x6000, 0x0010), 16),
        us(t(0x6000, 0x0011), 16),
        el(t(0x6000, 0x0040), VR::CS, "G"),
        DataElement::new(
            t(0x6000, 0x0050),
            VR::SS,
            PrimitiveValue::I16([1i16, 1][..].into()),
        ),
        us(t(0x6000, 0x0100), 1),
        us(t(0x6000, 0x0102), 0),
        bytes_el(t(0x6000, 0x3000), VR::OB, &[0x0F; 32]),
        el(t(0x6000, 0x4000), VR::LT, "drawn by Dr Okonkwo"),
    ]
}

/// The object with every row of Table E.1-1 it can carry: every exact tag but the
/// command group (0000), the file meta group (0002) and the DICOMDIR group (0004);
/// an overlay for the `60xx` rows; a retired curve for `50xx,xxxx`; a private block for
/// `gggg,eeee`; attributes that go with its rows (Responsible Person Role, another
/// tool's Encrypted Attributes Sequence, ...) and every attribute dcmask's presence
/// rules decide. Attributes of the CT
/// modules keep their value from the CT base.
/// With `animal`, the patient is a dog (Patient Species Description and Code Sequence).
pub fn every_row(iod: Iod, animal: bool) -> InMemDicomObject {
    let mut ds = match iod {
        Iod::Ct => ct_base(),
        Iod::Sr => sr_base(),
    };
    let mut n = 0;
    let rows = table().rows.iter().filter_map(|r| match r.pattern {
        TagPattern::Exact(tag) => Some((tag, r.name.as_str())),
        _ => None,
    });
    // Attributes outside Table E.1-1 that real objects carry next to its rows, named
    // here so that a rule dropped from presence.csv shows as a new error.
    let companions = [
        (tags::RESPONSIBLE_PERSON_ROLE, "Responsible Person Role"),
        (
            tags::PATIENT_ALTERNATIVE_CALENDAR,
            "Patient's Alternative Calendar",
        ),
        (
            tags::PATIENT_BIRTH_DATE_IN_ALTERNATIVE_CALENDAR,
            "Patient's Birth Date in Alternative Calendar",
        ),
        (
            tags::ENCRYPTED_ATTRIBUTES_SEQUENCE,
            "Encrypted Attributes Sequence",
        ),
    ];
    let beyond = presence_rules()
        .rows
        .iter()
        .map(|r| (r.tag, r.name.as_str()));
    for (tag, name) in rows.chain(companions).chain(beyond) {
        if matches!(tag.0, 0x0000 | 0x0002 | 0x0004)
            || ds.get(tag).is_some()
            || (iod == Iod::Sr && CONTENT_ITEM_VALUES.contains(&tag))
        {
            continue;
        }
        let Some(entry) = StandardDataDictionary.by_tag(tag) else {
            continue;
        };
        n += 1;
        let vr = entry.vr().relaxed();
        let elem = if vr == VR::SQ {
            sq(tag, items_of(tag, name))
        } else {
            value_of(tag, vr, name, n)
        };
        ds.put(elem);
    }
    if iod == Iod::Ct {
        for e in overlay() {
            ds.put(e);
        }
    }
    ds.put(us(t(0x5000, 0x0005), 1));
    ds.put(bytes_el(t(0x5000, 0x3000), VR::OB, &[0x01, 0x02]));
    ds.put(el(t(0x0009, 0x0010), VR::LO, "ACME HOSPITAL PRIVATE"));
    ds.put(el(t(0x0009, 0x1001), VR::LO, "Lindqvist^Marguerite"));
    if animal {
        ds.put(el(tags::PATIENT_SPECIES_DESCRIPTION, VR::LO, "Canine"));
        ds.put(sq(
            tags::PATIENT_SPECIES_CODE_SEQUENCE,
            vec![code_item("448771007", "SCT", "Canis lupus familiaris")],
        ));
        ds.put(el(tags::PATIENT_BREED_DESCRIPTION, VR::LO, "Border Collie"));
        ds.put(sq(tags::PATIENT_BREED_CODE_SEQUENCE, Vec::new()));
        ds.put(sq(tags::BREED_REGISTRATION_SEQUENCE, Vec::new()));
    }
    ds
}
