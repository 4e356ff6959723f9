//! Secrets at rest: values the server must read back (signing keys, TOTP seeds) are sealed with
//! XChaCha20-Poly1305 under the deployment's secret key; values it only compares (recovery codes) get a
//! keyed hash, so a copy of the database alone does not allow an offline guess.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const VERSION: &str = "v1.";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("the secret key must be 32 bytes, base64-encoded")]
    BadKey,
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed value does not open with this secret key (was the key changed?)")]
    WrongKey,
}

/// The deployment's secret key, split into an encryption key and a MAC key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
    mac_key: [u8; 32],
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

fn derive(key: &[u8; 32], label: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(label);
    mac.finalize().into_bytes().into()
}

impl SecretBox {
    pub fn new(key: &[u8; 32]) -> Self {
        let enc = derive(key, b"skybridge seal v1");
        Self {
            cipher: XChaCha20Poly1305::new(&enc.into()),
            mac_key: derive(key, b"skybridge keyed hash v1"),
        }
    }

    /// Parses a base64 (standard or URL-safe) 32-byte key.
    pub fn from_base64(text: &str) -> Result<Self, SecretError> {
        let text = text.trim();
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .or_else(|_| base64::engine::general_purpose::STANDARD.decode(text))
            .map_err(|_| SecretError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| SecretError::BadKey)?;
        Ok(Self::new(&key))
    }

    /// A fresh random key, base64 URL-safe.
    pub fn generate_key() -> String {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        URL_SAFE_NO_PAD.encode(key)
    }

    /// Encrypts `plaintext`, bound to `context` (for example the table and row it is stored in), so a
    /// sealed value copied elsewhere does not open.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(out))
    }

    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, SecretError> {
        let body = sealed.strip_prefix(VERSION).ok_or(SecretError::Malformed)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SecretError::Malformed)?;
        if bytes.len() < 24 + 16 {
            return Err(SecretError::Malformed);
        }
        let (nonce, ct) = bytes.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| SecretError::Malformed)?;
        self.cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecretError::WrongKey)
    }

    /// HMAC-SHA-256 of `value` under the secret key, hex; `purpose` separates uses.
    pub fn keyed_hash(&self, purpose: &str, value: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.mac_key).unwrap_or_else(|_| unreachable!());
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_bound_to_context() {
        let b = SecretBox::from_base64(&SecretBox::generate_key()).unwrap();
        let s = b.seal("totp:1", b"seed");
        assert_eq!(b.open("totp:1", &s).unwrap(), b"seed");
        assert_eq!(b.open("totp:2", &s), Err(SecretError::WrongKey));
        let other = SecretBox::from_base64(&SecretBox::generate_key()).unwrap();
        assert_eq!(other.open("totp:1", &s), Err(SecretError::WrongKey));
        assert_eq!(b.open("totp:1", "v1.AAAA"), Err(SecretError::Malformed));
        assert_ne!(b.seal("x", b"seed"), b.seal("x", b"seed"), "random nonce");
    }

    #[test]
    fn keys_must_be_32_bytes() {
        assert_eq!(
            SecretBox::from_base64("c2hvcnQ").unwrap_err(),
            SecretError::BadKey
        );
        let k = SecretBox::generate_key();
        let a = SecretBox::from_base64(&k).unwrap();
        let b = SecretBox::from_base64(&k).unwrap();
        assert_eq!(a.keyed_hash("p", "v"), b.keyed_hash("p", "v"));
        assert_ne!(a.keyed_hash("p", "v"), a.keyed_hash("q", "v"));
    }
}
