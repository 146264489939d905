//! The secret key behind every pseudonym, and the keyed derivations made from it.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// A de-identification key. Its bytes never leave this type except to its key file.
#[derive(Clone)]
pub struct Key(Vec<u8>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", self.fingerprint())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key file is too short: at least 16 bytes (or 32 hex digits) are needed")]
    TooShort,
    #[error("could not gather randomness for a new key: {0}")]
    Random(String),
}

impl Key {
    /// A fresh random 256-bit key.
    pub fn generate() -> Result<Key, KeyError> {
        let mut bytes = vec![0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Key(bytes))
    }

    /// Reads a key file: hex text (as `to_file_contents` writes) or raw bytes.
    pub fn from_file_contents(contents: &[u8]) -> Result<Key, KeyError> {
        let text = std::str::from_utf8(contents).map(str::trim).unwrap_or("");
        let bytes = match hex::decode(text) {
            Ok(b) if !text.is_empty() => b,
            _ => contents.to_vec(),
        };
        if bytes.len() < 16 {
            return Err(KeyError::TooShort);
        }
        Ok(Key(bytes))
    }

    /// The key as a key file holds it: lowercase hex and a line break.
    pub fn to_file_contents(&self) -> String {
        format!("{}\n", hex::encode(&self.0))
    }

    /// A public identifier of the key (not reversible), recorded in reports.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"dcmask key fingerprint\0");
        h.update(&self.0);
        hex::encode(&h.finalize()[..8])
    }

    /// HMAC-SHA256(key, message).
    pub fn mac(&self, message: &[u8]) -> [u8; 32] {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).expect("HMAC takes any key");
        m.update(message);
        m.finalize().into_bytes().into()
    }

    /// HMAC over a domain-separated message, so different pseudonym kinds never collide.
    pub fn mac_in(&self, domain: &str, message: &[u8]) -> [u8; 32] {
        let mut buf = Vec::with_capacity(domain.len() + 1 + message.len());
        buf.extend_from_slice(domain.as_bytes());
        buf.push(0);
        buf.extend_from_slice(message);
        self.mac(&buf)
    }
}
