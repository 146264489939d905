//! Keyed pseudonyms: the same input and key give the same output on any machine.

use crate::actions::key::Key;
use dicom_core::VR;

/// `2.25.` + the decimal value of the first 128 bits of HMAC-SHA256(key, uid).
pub fn uid(key: &Key, original: &str) -> String {
    let uid = original.trim_end_matches(['\0', ' ']);
    let mac = key.mac(uid.as_bytes());
    let n = u128::from_be_bytes(mac[..16].try_into().expect("16 bytes"));
    format!("2.25.{n}")
}

/// A stable replacement for Patient ID, short enough for LO and free of the original.
pub fn patient_id(key: &Key, original: &str) -> String {
    let mac = key.mac_in("patient-id", original.trim().as_bytes());
    format!("ANON{}", hex::encode_upper(&mac[..6]))
}

/// The per-patient day offset of "Auto" date shifting: 1 to 3650 days into the past,
/// never zero. Files without a Patient ID share one fallback offset.
pub fn date_offset(key: &Key, patient_id: Option<&str>) -> i64 {
    let mac = match patient_id.map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => key.mac_in("date-offset", p.as_bytes()),
        None => key.mac_in("date-offset-no-patient-id", b""),
    };
    let n = u32::from_be_bytes(mac[..4].try_into().expect("4 bytes")) as i64;
    -(1 + n % 3650)
}

/// A keyed replacement valid for the VR, for custom `pseudonymize` rules on non-UID tags.
pub fn token(key: &Key, vr: VR, original: &str) -> String {
    let mac = key.mac_in("token", original.trim().as_bytes());
    let hex = hex::encode_upper(&mac[..8]);
    match vr {
        VR::UI => uid(key, original),
        VR::PN => format!("ANON^{}", &hex[..10]),
        VR::IS | VR::DS => {
            (u32::from_be_bytes(mac[..4].try_into().expect("4")) % 100_000_000).to_string()
        }
        VR::SH | VR::AE | VR::CS => format!("X{}", &hex[..15]),
        _ => format!("ANON{hex}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key::from_file_contents(b"000102030405060708090a0b0c0d0e0f").unwrap()
    }

    #[test]
    fn uid_is_hmac_truncated_to_128_bits() {
        let k = key();
        let a = uid(&k, "1.2.840.113619.2.1.1");
        assert!(a.starts_with("2.25."));
        assert!(a.len() <= 64);
        assert_eq!(a, uid(&k, "1.2.840.113619.2.1.1\0"));
        assert_ne!(a, uid(&k, "1.2.840.113619.2.1.2"));
        let other = Key::from_file_contents(b"ffffffffffffffffffffffffffffffff").unwrap();
        assert_ne!(a, uid(&other, "1.2.840.113619.2.1.1"));
        // Independent check of the construction with the raw HMAC.
        let mac = k.mac(b"1.2.840.113619.2.1.1");
        let n = u128::from_be_bytes(mac[..16].try_into().unwrap());
        assert_eq!(a, format!("2.25.{n}"));
    }

    #[test]
    fn date_offsets_are_per_patient_and_never_zero() {
        let k = key();
        let a = date_offset(&k, Some("PID1"));
        assert_eq!(a, date_offset(&k, Some("PID1 ")));
        assert_ne!(a, 0);
        assert!((-3650..=-1).contains(&a));
        assert_ne!(date_offset(&k, None), 0);
        assert_eq!(date_offset(&k, None), date_offset(&k, Some("")));
    }

    #[test]
    fn tokens_fit_their_vr() {
        let k = key();
        assert!(token(&k, VR::SH, "abc").len() <= 16);
        assert!(token(&k, VR::IS, "abc").parse::<u64>().is_ok());
        assert!(token(&k, VR::PN, "Doe^John").starts_with("ANON^"));
    }
}
