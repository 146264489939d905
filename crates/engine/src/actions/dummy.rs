//! The one dummy value per VR: what a D action, an emptied Type 1 value and the leak
//! guard write when a value must stay present but identify no one.

use dicom_core::value::PrimitiveValue;
use dicom_core::VR;

/// A dummy value valid for the VR and identifying no one.
pub(crate) fn dummy(vr: VR) -> PrimitiveValue {
    match vr {
        VR::DA => "19000101".into(),
        VR::TM => "000000".into(),
        VR::DT => "19000101000000".into(),
        VR::AS => "000D".into(),
        VR::IS | VR::DS => "0".into(),
        VR::US => PrimitiveValue::from(0u16),
        VR::SS => PrimitiveValue::from(0i16),
        VR::UL => PrimitiveValue::from(0u32),
        VR::SL => PrimitiveValue::from(0i32),
        VR::FL | VR::OF => PrimitiveValue::from(0f32),
        VR::FD | VR::OD => PrimitiveValue::from(0f64),
        VR::OW => PrimitiveValue::U16([0u16][..].into()),
        VR::OB | VR::UN | VR::OL | VR::OV | VR::UV | VR::SV | VR::AT => {
            PrimitiveValue::U8([0u8, 0u8][..].into())
        }
        VR::UR => "urn:anonymized".into(),
        _ => "ANONYMIZED".into(),
    }
}
