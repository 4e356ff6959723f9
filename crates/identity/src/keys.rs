//! Token signing keys: ES256 and RS256 key pairs, the JWKS that publishes them, and signing and verifying
//! compact JWS (RFC 7515) tokens. A verifier picks the key by `kid` and accepts only that key's own
//! algorithm, so an attacker cannot switch it (no `none`, no HMAC keyed with a public key).
//!
//! Signing and verification use ring (already linked for TLS): its P-256 is several times faster than the
//! pure-Rust path, and an access token is signed on every grant (see docs/performance.md).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair, RsaPublicKeyComponents};
use rsa::pkcs8::EncodePrivateKey;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The JWS algorithms the provider signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    Es256,
    Rs256,
}

impl Alg {
    pub const ALL: [Alg; 2] = [Alg::Es256, Alg::Rs256];

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Es256 => "ES256",
            Alg::Rs256 => "RS256",
        }
    }

    pub fn parse(s: &str) -> Option<Alg> {
        match s {
            "ES256" => Some(Alg::Es256),
            "RS256" => Some(Alg::Rs256),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key generation failed: {0}")]
    Generate(String),
    #[error("stored key is unreadable: {0}")]
    Unreadable(String),
    #[error("no signing key for {0}")]
    NoKey(&'static str),
    #[error("signing failed: {0}")]
    Sign(String),
}

/// Why a presented JWT was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token was signed by an unknown key")]
    UnknownKey,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not for this audience or issuer")]
    WrongAudience,
    #[error("the token is of the wrong type")]
    WrongType,
}

/// A new private key, PKCS#8 DER.
pub fn generate(alg: Alg) -> Result<Vec<u8>, KeyError> {
    match alg {
        Alg::Es256 => EcdsaKeyPair::generate_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &SystemRandom::new(),
        )
        .map(|d| d.as_ref().to_vec())
        .map_err(|e| KeyError::Generate(e.to_string())),
        // ring cannot generate RSA keys.
        Alg::Rs256 => rsa::RsaPrivateKey::new(&mut rand_core06::OsRng, 2048)
            .map_err(|e| KeyError::Generate(e.to_string()))?
            .to_pkcs8_der()
            .map(|d| d.as_bytes().to_vec())
            .map_err(|e| KeyError::Generate(e.to_string())),
    }
}

enum Pair {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// One key pair, parsed once.
pub struct SigningKey {
    pub kid: String,
    pub alg: Alg,
    pair: Pair,
    /// The public key as ring verifies with it: an uncompressed point, or RSA (n, e).
    public: Public,
    jwk: serde_json::Value,
}

enum Public {
    Ec(Vec<u8>),
    Rsa(RsaPublicKeyComponents<Vec<u8>>),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({} {})", self.alg.as_str(), self.kid)
    }
}

impl SigningKey {
    pub fn from_pkcs8(kid: &str, alg: Alg, der: &[u8]) -> Result<Self, KeyError> {
        let bad = |e: &dyn std::fmt::Display| KeyError::Unreadable(e.to_string());
        let (pair, public, jwk) = match alg {
            Alg::Es256 => {
                let kp = EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    der,
                    &SystemRandom::new(),
                )
                .map_err(|e| bad(&e))?;
                let point = kp.public_key().as_ref().to_vec();
                if point.len() != 65 || point[0] != 4 {
                    return Err(KeyError::Unreadable("EC point".into()));
                }
                let jwk = serde_json::json!({
                    "kty": "EC", "crv": "P-256",
                    "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..]),
                    "kid": kid, "use": "sig", "alg": "ES256",
                });
                (Pair::Ec(kp), Public::Ec(point), jwk)
            }
            Alg::Rs256 => {
                let kp = RsaKeyPair::from_pkcs8(der).map_err(|e| bad(&e))?;
                let components = RsaPublicKeyComponents::<Vec<u8>>::from(kp.public());
                let jwk = serde_json::json!({
                    "kty": "RSA", "n": URL_SAFE_NO_PAD.encode(&components.n),
                    "e": URL_SAFE_NO_PAD.encode(&components.e),
                    "kid": kid, "use": "sig", "alg": "RS256",
                });
                (Pair::Rsa(kp), Public::Rsa(components), jwk)
            }
        };
        Ok(Self {
            kid: kid.to_string(),
            alg,
            pair,
            public,
            jwk,
        })
    }

    fn sign_bytes(&self, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        match &self.pair {
            Pair::Ec(kp) => kp
                .sign(&rng, msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|e| KeyError::Sign(e.to_string())),
            Pair::Rsa(kp) => {
                let mut sig = vec![0u8; kp.public().modulus_len()];
                kp.sign(&signature::RSA_PKCS1_SHA256, &rng, msg, &mut sig)
                    .map_err(|e| KeyError::Sign(e.to_string()))?;
                Ok(sig)
            }
        }
    }

    fn verify_bytes(&self, msg: &[u8], sig: &[u8]) -> bool {
        match &self.public {
            Public::Ec(point) => {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(msg, sig)
                    .is_ok()
            }
            Public::Rsa(c) => c
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, sig)
                .is_ok(),
        }
    }
}

/// What a verifier expects of a token besides a good signature.
pub struct Expect<'a> {
    pub issuer: &'a str,
    /// The `aud` the token must name; `None` skips the audience check (the caller checks it).
    pub audience: Option<&'a str>,
    /// The JOSE `typ` header, for example `at+jwt` for access tokens.
    pub typ: Option<&'a str>,
    /// Whether an expired token is still accepted (an `id_token_hint` may have expired).
    pub allow_expired: bool,
    pub now_secs: i64,
}

/// Seconds of clock skew tolerated on `exp`.
const LEEWAY_SECS: i64 = 30;

#[derive(Serialize, Deserialize)]
struct Header<'a> {
    alg: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    typ: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
    /// Critical extensions: none are understood, so any makes the token invalid (RFC 7515 §4.1.11).
    #[serde(default, skip_serializing)]
    crit: Option<serde_json::Value>,
}

/// The registered claims every verified token must carry.
#[derive(Deserialize)]
struct Registered {
    iss: String,
    #[serde(default)]
    aud: Option<serde_json::Value>,
    #[serde(default)]
    exp: Option<i64>,
}

/// The keys currently published: those that sign (the newest per algorithm) and older ones kept until
/// the tokens they signed have expired.
#[derive(Debug, Default)]
pub struct KeySet {
    /// Signing keys first, newest first.
    keys: Vec<SigningKey>,
}

impl KeySet {
    pub fn new(keys: Vec<SigningKey>) -> Self {
        Self { keys }
    }

    /// The JWK Set document.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": self.keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
    }

    /// Signs `claims` with the newest key of `alg` as a compact JWS.
    pub fn sign<T: Serialize>(&self, alg: Alg, typ: &str, claims: &T) -> Result<String, KeyError> {
        let key = self
            .keys
            .iter()
            .find(|k| k.alg == alg)
            .ok_or(KeyError::NoKey(alg.as_str()))?;
        let header = Header {
            alg: alg.as_str(),
            typ: Some(typ),
            kid: Some(&key.kid),
            crit: None,
        };
        let enc = |v: &dyn erased::Json| v.to_json().map(|j| URL_SAFE_NO_PAD.encode(j));
        let mut out = enc(&header).map_err(|e| KeyError::Sign(e.to_string()))?;
        out.push('.');
        out.push_str(&enc(claims).map_err(|e| KeyError::Sign(e.to_string()))?);
        let sig = key.sign_bytes(out.as_bytes())?;
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(sig));
        Ok(out)
    }

    /// Verifies a compact JWS signed by one of these keys and returns its claims.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        expect: &Expect<'_>,
    ) -> Result<T, JwtError> {
        if token.len() > 8192 {
            return Err(JwtError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(h64), Some(p64), Some(s64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed);
        };
        let header_json = URL_SAFE_NO_PAD
            .decode(h64)
            .map_err(|_| JwtError::Malformed)?;
        let header: Header<'_> =
            serde_json::from_slice(&header_json).map_err(|_| JwtError::Malformed)?;
        if header.crit.is_some() {
            return Err(JwtError::Malformed);
        }
        let kid = header.kid.ok_or(JwtError::UnknownKey)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or(JwtError::UnknownKey)?;
        // The key decides the algorithm; a header naming another is a forgery attempt.
        if header.alg != key.alg.as_str() {
            return Err(JwtError::BadSignature);
        }
        let sig = URL_SAFE_NO_PAD
            .decode(s64)
            .map_err(|_| JwtError::Malformed)?;
        let signed = &token[..h64.len() + 1 + p64.len()];
        if !key.verify_bytes(signed.as_bytes(), &sig) {
            return Err(JwtError::BadSignature);
        }
        if let Some(typ) = expect.typ
            && !header.typ.is_some_and(|t| t.eq_ignore_ascii_case(typ))
        {
            return Err(JwtError::WrongType);
        }
        let payload = URL_SAFE_NO_PAD
            .decode(p64)
            .map_err(|_| JwtError::Malformed)?;
        let reg: Registered = serde_json::from_slice(&payload).map_err(|_| JwtError::Malformed)?;
        if reg.iss != expect.issuer {
            return Err(JwtError::WrongAudience);
        }
        if let Some(aud) = expect.audience {
            let ok = match &reg.aud {
                Some(serde_json::Value::String(a)) => a == aud,
                Some(serde_json::Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(aud)),
                _ => false,
            };
            if !ok {
                return Err(JwtError::WrongAudience);
            }
        }
        if !expect.allow_expired {
            let exp = reg.exp.ok_or(JwtError::Malformed)?;
            if exp + LEEWAY_SECS < expect.now_secs {
                return Err(JwtError::Expired);
            }
        }
        serde_json::from_slice(&payload).map_err(|_| JwtError::Malformed)
    }
}

/// Object-safe JSON encoding, so the header and the claims go through one closure.
mod erased {
    pub trait Json {
        fn to_json(&self) -> serde_json::Result<Vec<u8>>;
    }
    impl<T: serde::Serialize + ?Sized> Json for T {
        fn to_json(&self) -> serde_json::Result<Vec<u8>> {
            serde_json::to_vec(self)
        }
    }
}

/// A fresh key id: 16 random bytes, URL-safe.
pub fn new_kid() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> KeySet {
        let es = SigningKey::from_pkcs8("e1", Alg::Es256, &generate(Alg::Es256).unwrap()).unwrap();
        let rs = SigningKey::from_pkcs8("r1", Alg::Rs256, &generate(Alg::Rs256).unwrap()).unwrap();
        KeySet::new(vec![es, rs])
    }

    fn expect(now: i64) -> Expect<'static> {
        Expect {
            issuer: "https://sb.test",
            audience: Some("c1"),
            typ: None,
            allow_expired: false,
            now_secs: now,
        }
    }

    type V = serde_json::Value;

    #[test]
    fn signs_and_verifies_both_algorithms() {
        let keys = set();
        let claims =
            serde_json::json!({"iss": "https://sb.test", "aud": "c1", "sub": "u", "exp": 2000});
        for alg in Alg::ALL {
            let t = keys.sign(alg, "JWT", &claims).unwrap();
            let back: V = keys.verify(&t, &expect(1000)).unwrap();
            assert_eq!(back["sub"], "u");
            assert_eq!(keys.verify::<V>(&t, &expect(3000)), Err(JwtError::Expired));
            let mut late = expect(3000);
            late.allow_expired = true;
            assert!(keys.verify::<V>(&t, &late).is_ok());
            let mut wrong = expect(1000);
            wrong.audience = Some("c2");
            assert_eq!(keys.verify::<V>(&t, &wrong), Err(JwtError::WrongAudience));
            let mut wrong = expect(1000);
            wrong.issuer = "https://other.test";
            assert_eq!(keys.verify::<V>(&t, &wrong), Err(JwtError::WrongAudience));
            let mut typed = expect(1000);
            typed.typ = Some("at+jwt");
            assert_eq!(keys.verify::<V>(&t, &typed), Err(JwtError::WrongType));
        }
        let jwks = keys.jwks();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
        assert!(
            !jwks.to_string().contains("\"d\""),
            "no private parts published"
        );
        // Audience lists are accepted when they name us.
        let listed = serde_json::json!({"iss": "https://sb.test", "aud": ["x", "c1"], "exp": 2000});
        let t = keys.sign(Alg::Es256, "JWT", &listed).unwrap();
        assert!(keys.verify::<V>(&t, &expect(1000)).is_ok());
    }

    #[test]
    fn tampering_and_foreign_keys_are_refused() {
        let keys = set();
        let claims =
            serde_json::json!({"iss": "https://sb.test", "aud": "c1", "sub": "u", "exp": 2000});
        let t = keys.sign(Alg::Es256, "JWT", &claims).unwrap();
        let parts: Vec<&str> = t.split('.').collect();
        let forged_body = URL_SAFE_NO_PAD
            .encode(br#"{"iss":"https://sb.test","aud":"c1","sub":"admin","exp":2000}"#);
        let forged = format!("{}.{forged_body}.{}", parts[0], parts[2]);
        assert_eq!(
            keys.verify::<V>(&forged, &expect(1000)),
            Err(JwtError::BadSignature)
        );
        let none = format!(
            "{}.{forged_body}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"e1"}"#)
        );
        assert_eq!(
            keys.verify::<V>(&none, &expect(1000)),
            Err(JwtError::BadSignature)
        );
        let hs = format!(
            "{}.{forged_body}.AAAA",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","kid":"r1"}"#)
        );
        assert_eq!(
            keys.verify::<V>(&hs, &expect(1000)),
            Err(JwtError::BadSignature)
        );
        let crit = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","kid":"e1","crit":["exp"]}"#),
            parts[1],
            parts[2]
        );
        assert_eq!(
            keys.verify::<V>(&crit, &expect(1000)),
            Err(JwtError::Malformed)
        );
        let other = set();
        assert_eq!(
            other.verify::<V>(&t, &expect(1000)),
            Err(JwtError::BadSignature)
        );
        for junk in ["abc", "a.b", "a.b.c.d", "", "....."] {
            assert!(keys.verify::<V>(junk, &expect(1000)).is_err(), "{junk}");
        }
        let no_kid = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256"}"#),
            parts[1],
            parts[2]
        );
        assert_eq!(
            keys.verify::<V>(&no_kid, &expect(1000)),
            Err(JwtError::UnknownKey)
        );
    }
}
