//! Time-based one-time passwords (RFC 6238: SHA-1, 6 digits, 30 s) for the sign-in's second step, and
//! recovery codes for when the authenticator is lost.

use rand::RngCore;
use totp_rs::{Algorithm, Builder, Secret, Totp};

pub const STEP_SECS: u64 = 30;
pub const RECOVERY_CODES: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum TotpError {
    #[error("TOTP: {0}")]
    Build(String),
}

/// A new 160-bit seed (the size RFC 4226 recommends).
pub fn new_seed() -> Vec<u8> {
    let mut b = vec![0u8; 20];
    rand::rng().fill_bytes(&mut b);
    b
}

fn totp(seed: &[u8], issuer: &str, account: &str) -> Result<Totp, TotpError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP_SECS)
        .with_secret(Secret::from(seed.to_vec()))
        .with_issuer(Some(issuer.replace(':', " ")))
        .with_account_name(account.replace(':', " "))
        .build()
        .map_err(|e| TotpError::Build(format!("{e:?}")))
}

/// The `otpauth://` URI an authenticator app scans.
pub fn otpauth_uri(seed: &[u8], issuer: &str, account: &str) -> Result<String, TotpError> {
    totp(seed, issuer, account)?
        .to_url()
        .map_err(|e| TotpError::Build(format!("{e:?}")))
}

/// The seed in base32, for typing in by hand.
pub fn seed_base32(seed: &[u8]) -> String {
    Secret::from(seed.to_vec()).to_base32()
}

/// A base32 seed as typed from a set-up page.
pub fn seed_from_base32(text: &str) -> Option<Vec<u8>> {
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    Secret::try_from_base32(clean.to_uppercase())
        .ok()
        .map(|s| s.as_bytes().to_vec())
}

/// The URI as an inline SVG QR code.
pub fn qr_svg(uri: &str) -> Result<String, TotpError> {
    let code = qrcode::QrCode::new(uri.as_bytes()).map_err(|e| TotpError::Build(e.to_string()))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build())
}

/// Checks `code` at `now_secs` (one step of clock skew either way). Returns the step it matched, which
/// must be later than `last_step` — a code is good once.
pub fn verify(seed: &[u8], code: &str, now_secs: u64, last_step: Option<u64>) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(seed, "x", "x").ok()?;
    let origin = now_secs / STEP_SECS;
    // Newest step first, so a code of the next step is not shadowed by replay of an older one.
    (origin.saturating_sub(1)..=origin + 1)
        .rev()
        .filter(|step| last_step.is_none_or(|last| *step > last))
        .find(|step| {
            let expected = t.generate(step * STEP_SECS).to_string();
            bool::from(subtle::ConstantTimeEq::ct_eq(
                expected.as_bytes(),
                code.as_bytes(),
            ))
        })
}

/// The current code, for tests and for showing what a device should display.
pub fn code_at(seed: &[u8], now_secs: u64) -> String {
    totp(seed, "x", "x")
        .map(|t| t.generate(now_secs).to_string())
        .unwrap_or_default()
}

/// New recovery codes, shown once: 10 random characters each (50 bits), grouped for reading.
pub fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 10];
            rand::rng().fill_bytes(&mut bytes);
            let s: String = bytes
                .iter()
                .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
                .collect();
            format!("{}-{}", &s[..5], &s[5..])
        })
        .collect()
}

/// A recovery code as typed, normalised for hashing: no separators, lower case.
pub fn normalize_recovery(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_vector() {
        // RFC 6238 Appendix B, SHA-1 seed "12345678901234567890", T = 59 → 94287082 (8 digits); 6 digits → 287082.
        let seed = b"12345678901234567890";
        assert_eq!(code_at(seed, 59), "287082");
        assert_eq!(verify(seed, "287082", 59, None), Some(1));
    }

    #[test]
    fn a_code_works_once_and_skew_is_one_step() {
        let seed = new_seed();
        let now = 1_800_000_000;
        let code = code_at(&seed, now);
        let step = verify(&seed, &code, now, None).unwrap();
        assert_eq!(step, now / STEP_SECS);
        assert_eq!(verify(&seed, &code, now, Some(step)), None, "replay");
        assert_eq!(
            verify(&seed, &code, now + 30, None),
            Some(step),
            "previous step accepted"
        );
        assert_eq!(verify(&seed, &code, now + 90, None), None, "too old");
        assert_eq!(verify(&seed, "12345", now, None), None);
        assert_eq!(verify(&seed, "abcdef", now, None), None);
    }

    #[test]
    fn uri_and_qr() {
        let seed = new_seed();
        let uri = otpauth_uri(&seed, "Skybridge", "ann@example.com").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Skybridge:ann%40example.com?"),
            "{uri}"
        );
        assert!(uri.contains(&format!("secret={}", seed_base32(&seed))));
        assert!(qr_svg(&uri).unwrap().starts_with("<?xml"));
        assert_eq!(seed_from_base32(&seed_base32(&seed)).unwrap(), seed);
    }

    #[test]
    fn recovery_codes() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        assert_eq!(normalize_recovery(&codes[0].to_uppercase()).len(), 10);
        assert_ne!(codes[0], codes[1]);
    }
}
