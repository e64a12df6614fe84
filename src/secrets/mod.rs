//! Sealed secrets: mailbox passwords (and OAuth2 client secrets and refresh tokens) given
//! through the admin API, kept encrypted at rest.
//!
//! Takes the `[secrets]` key (32 random bytes, base64, from `key_env` or `key_file`); gives
//! [`SealKey::seal`] / [`SealKey::open`] with XChaCha20-Poly1305 (RustCrypto), a fresh random
//! 24-byte nonce per seal, and the owner's id bound in as associated data, so a sealed value
//! copied onto another row does not open. A sealed value names the key's fingerprint, so a
//! wrong key is reported as such (and `rebound secrets rotate` knows what it re-encrypts).
//! It never logs, formats or returns a key or a plaintext except to the caller that asked
//! to open it ([`Secret`] formats as `****`).

use crate::config::Secret;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;
/// Sealed values start with this (a later scheme gets another prefix).
const SCHEME: &str = "xc20p1";

/// `[secrets]`: the key that seals the passwords of API-managed mailboxes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecretsConfig {
    /// Environment variable holding the key (base64 of 32 bytes: `rebound secrets generate-key`).
    pub key_env: Option<String>,
    /// File whose first line is the key.
    pub key_file: Option<String>,
}

impl SecretsConfig {
    pub fn validate(&self, out: &mut Vec<crate::config::Problem>) {
        if let Err((key, message)) = self.load() {
            out.push(crate::config::Problem::new(key, message));
        }
    }

    /// The configured key, or None when `[secrets]` names none. The error names its key.
    pub fn load(&self) -> Result<Option<SealKey>, (String, String)> {
        let (key, text) = match (&self.key_env, &self.key_file) {
            (Some(_), Some(_)) => {
                return Err(("secrets.key_env".into(), "both key_env and key_file are set; keep only one".into()));
            }
            (None, None) => return Ok(None),
            (Some(var), None) => match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => ("secrets.key_env", v),
                _ => {
                    return Err((
                        "secrets.key_env".into(),
                        format!(
                            "environment variable {var} is not set or empty; export the key in it \
                             (`rebound secrets generate-key` prints a new one)"
                        ),
                    ));
                }
            },
            (None, Some(path)) => match std::fs::read_to_string(path) {
                Ok(t) => ("secrets.key_file", t.lines().next().unwrap_or_default().to_string()),
                Err(e) => {
                    return Err((
                        "secrets.key_file".into(),
                        format!("cannot read {path}: {e}; check the path and its permissions"),
                    ));
                }
            },
        };
        SealKey::parse(&text).map(Some).map_err(|e| (key.to_string(), e))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the stored password is not a sealed value rebound knows; set the password again")]
    Malformed,
    #[error(
        "the stored password was sealed with key {sealed_with}, but the configured [secrets] key is {configured}; \
         configure that key again, or set the password again"
    )]
    WrongKey { sealed_with: String, configured: String },
    #[error("the stored password does not open with the configured key (it was altered); set the password again")]
    Tampered,
    #[error("the operating system's random source failed: {0}")]
    Random(String),
}

/// The key sealing mailbox passwords. Formats as its fingerprint only.
#[derive(Clone)]
pub struct SealKey {
    bytes: [u8; KEY_BYTES],
}

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealKey({})", self.fingerprint())
    }
}

impl SealKey {
    /// A key written as base64 of 32 bytes (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<SealKey, String> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| {
            "is not base64; write the key `rebound secrets generate-key` prints (44 characters)".to_string()
        })?;
        let bytes: [u8; KEY_BYTES] = bytes.try_into().map_err(|b: Vec<u8>| {
            format!("decodes to {} bytes, a key has 32; use `rebound secrets generate-key`", b.len())
        })?;
        Ok(SealKey { bytes })
    }

    /// A new random key, as the text to put in the key's variable or file.
    pub fn generate() -> Result<String, SealError> {
        let mut bytes = [0u8; KEY_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| SealError::Random(e.to_string()))?;
        Ok(STANDARD.encode(bytes))
    }

    /// The first 8 hex digits of the key's SHA-256: names the key without revealing it.
    pub fn fingerprint(&self) -> String {
        Sha256::digest(self.bytes).iter().take(4).map(|b| format!("{b:02x}")).collect()
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.bytes.into())
    }

    /// Seals `secret` for owner `owner` (e.g. `mailbox:12`): `xc20p1.FINGERPRINT.BASE64`,
    /// the base64 holding the nonce then the ciphertext and its tag.
    pub fn seal(&self, owner: &str, secret: &Secret) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|e| SealError::Random(e.to_string()))?;
        let payload = Payload { msg: secret.expose().as_bytes(), aad: owner.as_bytes() };
        let sealed = self.cipher().encrypt(&XNonce::from(nonce), payload).map_err(|_| SealError::Malformed)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{SCHEME}.{}.{}", self.fingerprint(), STANDARD.encode(out)))
    }

    /// Opens a value [`SealKey::seal`] made for the same owner.
    pub fn open(&self, owner: &str, sealed: &str) -> Result<Secret, SealError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(SCHEME), Some(print), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(SealError::Malformed);
        };
        if print != self.fingerprint() {
            return Err(SealError::WrongKey { sealed_with: print.to_string(), configured: self.fingerprint() });
        }
        let raw = STANDARD.decode(body).map_err(|_| SealError::Malformed)?;
        if raw.len() < NONCE_BYTES {
            return Err(SealError::Malformed);
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| SealError::Malformed)?;
        let plain = self
            .cipher()
            .decrypt(&XNonce::from(nonce), Payload { msg: ciphertext, aad: owner.as_bytes() })
            .map_err(|_| SealError::Tampered)?;
        String::from_utf8(plain).map(Secret::new).map_err(|_| SealError::Tampered)
    }
}

/// The key fingerprint a sealed value names, if it is one.
pub fn sealed_with(sealed: &str) -> Option<&str> {
    let mut parts = sealed.splitn(3, '.');
    (parts.next() == Some(SCHEME)).then(|| parts.next()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SealKey {
        SealKey::parse(&SealKey::generate().unwrap()).unwrap()
    }

    #[test]
    fn seals_open_only_with_their_key_and_owner() {
        let (k, other) = (key(), key());
        let pw = Secret::new("hunter2-ümlaut");
        let a = k.seal("mailbox:1", &pw).unwrap();
        let b = k.seal("mailbox:1", &pw).unwrap();
        assert_ne!(a, b, "a fresh nonce every time");
        assert!(!a.contains("hunter2"));
        assert_eq!(k.open("mailbox:1", &a).unwrap(), pw);
        assert_eq!(k.open("mailbox:2", &a), Err(SealError::Tampered), "bound to its owner");
        assert!(matches!(other.open("mailbox:1", &a), Err(SealError::WrongKey { .. })));
        assert_eq!(sealed_with(&a), Some(k.fingerprint().as_str()));
        let mut flipped = a.clone().into_bytes();
        let last = flipped.len() - 20; // inside the ciphertext, clear of base64 padding
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(k.open("mailbox:1", &String::from_utf8(flipped).unwrap()), Err(SealError::Tampered));
        assert_eq!(k.open("mailbox:1", "plain"), Err(SealError::Malformed));
    }

    #[test]
    fn keys_are_checked_and_never_formatted() {
        assert!(SealKey::parse("not base64!").unwrap_err().contains("base64"));
        assert!(SealKey::parse("c2hvcnQ=").unwrap_err().contains("5 bytes"));
        let text = SealKey::generate().unwrap();
        let k = SealKey::parse(&format!(" {text}\n")).unwrap();
        assert!(!format!("{k:?}").contains(&text));
        let both = SecretsConfig { key_env: Some("X".into()), key_file: Some("Y".into()) };
        assert_eq!(both.load().unwrap_err().0, "secrets.key_env");
        let unset = SecretsConfig { key_env: Some("REBOUND_TEST_SURELY_UNSET_KEY".into()), key_file: None };
        assert!(unset.load().unwrap_err().1.contains("REBOUND_TEST_SURELY_UNSET_KEY"));
        assert!(SecretsConfig::default().load().unwrap().is_none());
    }
}
