//! Token signing keys: ES256 and RS256 key pairs, the JWKS that publishes them, and signing and
//! verifying compact JWTs. A verifier picks the key by `kid` and accepts only that key's own algorithm,
//! so an attacker cannot switch the algorithm (no `none`, no HMAC with a public key).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde::Serialize;
use serde::de::DeserializeOwned;

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

    fn jwt(self) -> Algorithm {
        match self {
            Alg::Es256 => Algorithm::ES256,
            Alg::Rs256 => Algorithm::RS256,
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

/// Makes jsonwebtoken use the pure-Rust backend; it panics at first use if no backend is installed.
pub fn install_crypto_provider() {
    let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
        &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER,
    );
}

/// A new private key as PKCS#8 PEM.
pub fn generate(alg: Alg) -> Result<String, KeyError> {
    let mut rng = rand_core06::OsRng;
    let pem = match alg {
        Alg::Es256 => p256::SecretKey::random(&mut rng)
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| KeyError::Generate(e.to_string()))?
            .to_string(),
        Alg::Rs256 => rsa::RsaPrivateKey::new(&mut rng, 2048)
            .map_err(|e| KeyError::Generate(e.to_string()))?
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| KeyError::Generate(e.to_string()))?
            .to_string(),
    };
    Ok(pem)
}

/// One key pair, parsed once.
pub struct SigningKey {
    pub kid: String,
    pub alg: Alg,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: serde_json::Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({} {})", self.alg.as_str(), self.kid)
    }
}

impl SigningKey {
    pub fn from_pem(kid: &str, alg: Alg, pem: &str) -> Result<Self, KeyError> {
        let bad = |e: &dyn std::fmt::Display| KeyError::Unreadable(e.to_string());
        let (encoding, decoding, jwk) = match alg {
            Alg::Es256 => {
                use p256::pkcs8::DecodePrivateKey;
                let sk = p256::SecretKey::from_pkcs8_pem(pem).map_err(|e| bad(&e))?;
                let point = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
                    &sk.public_key(),
                    false,
                );
                let (x, y) = match (point.x(), point.y()) {
                    (Some(x), Some(y)) => (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y)),
                    _ => return Err(KeyError::Unreadable("EC point".into())),
                };
                let encoding = EncodingKey::from_ec_pem(pem.as_bytes()).map_err(|e| bad(&e))?;
                let decoding = DecodingKey::from_ec_components(&x, &y).map_err(|e| bad(&e))?;
                let jwk = serde_json::json!({
                    "kty": "EC", "crv": "P-256", "x": x, "y": y,
                    "kid": kid, "use": "sig", "alg": "ES256",
                });
                (encoding, decoding, jwk)
            }
            Alg::Rs256 => {
                use rsa::pkcs8::DecodePrivateKey;
                let sk = rsa::RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| bad(&e))?;
                let n = URL_SAFE_NO_PAD.encode(sk.n().to_bytes_be());
                let e = URL_SAFE_NO_PAD.encode(sk.e().to_bytes_be());
                let der =
                    rsa::pkcs1::EncodeRsaPrivateKey::to_pkcs1_der(&sk).map_err(|e| bad(&e))?;
                let encoding = EncodingKey::from_rsa_der(der.as_bytes());
                let decoding = DecodingKey::from_rsa_components(&n, &e).map_err(|e| bad(&e))?;
                let jwk = serde_json::json!({
                    "kty": "RSA", "n": n, "e": e,
                    "kid": kid, "use": "sig", "alg": "RS256",
                });
                (encoding, decoding, jwk)
            }
        };
        Ok(Self {
            kid: kid.to_string(),
            alg,
            encoding,
            decoding,
            jwk,
        })
    }

    pub fn jwk(&self) -> &serde_json::Value {
        &self.jwk
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

/// The keys currently published: those that sign (the newest per algorithm) and older ones kept until
/// the tokens they signed have expired.
#[derive(Debug, Default)]
pub struct KeySet {
    /// Newest first.
    keys: Vec<SigningKey>,
}

impl KeySet {
    /// `keys` newest first.
    pub fn new(keys: Vec<SigningKey>) -> Self {
        Self { keys }
    }

    pub fn has(&self, alg: Alg) -> bool {
        self.keys.iter().any(|k| k.alg == alg)
    }

    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.kid.as_str())
    }

    /// The JWK Set document.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": self.keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
    }

    /// Signs `claims` with the newest key of `alg`.
    pub fn sign<T: Serialize>(&self, alg: Alg, typ: &str, claims: &T) -> Result<String, KeyError> {
        let key = self
            .keys
            .iter()
            .find(|k| k.alg == alg)
            .ok_or(KeyError::NoKey(alg.as_str()))?;
        let mut header = Header::new(alg.jwt());
        header.typ = Some(typ.to_string());
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding)
            .map_err(|e| KeyError::Sign(e.to_string()))
    }

    /// Verifies a compact JWT signed by one of these keys and returns its claims.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        expect: &Expect<'_>,
    ) -> Result<T, JwtError> {
        if token.len() > 8192 {
            return Err(JwtError::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Malformed)?;
        let kid = header.kid.as_deref().ok_or(JwtError::UnknownKey)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or(JwtError::UnknownKey)?;
        if header.alg != key.alg.jwt() {
            return Err(JwtError::BadSignature);
        }
        if let Some(typ) = expect.typ
            && !header
                .typ
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(typ))
        {
            return Err(JwtError::WrongType);
        }
        let mut v = Validation::new(key.alg.jwt());
        v.set_issuer(&[expect.issuer]);
        v.leeway = 30;
        v.validate_exp = !expect.allow_expired;
        if expect.allow_expired {
            v.required_spec_claims.remove("exp");
        }
        match expect.audience {
            Some(aud) => v.set_audience(&[aud]),
            None => v.validate_aud = false,
        }
        // Expiry is checked against the server's clock (which tests may move), not the system's.
        v.validate_exp = false;
        let data =
            jsonwebtoken::decode::<serde_json::Value>(token, &key.decoding, &v).map_err(|e| {
                use jsonwebtoken::errors::ErrorKind as K;
                match e.kind() {
                    K::InvalidSignature | K::InvalidEcdsaKey | K::InvalidRsaKey(_) => {
                        JwtError::BadSignature
                    }
                    K::InvalidAudience | K::InvalidIssuer | K::MissingRequiredClaim(_) => {
                        JwtError::WrongAudience
                    }
                    K::ExpiredSignature => JwtError::Expired,
                    _ => JwtError::Malformed,
                }
            })?;
        if !expect.allow_expired {
            let exp = data
                .claims
                .get("exp")
                .and_then(|e| e.as_i64())
                .ok_or(JwtError::Malformed)?;
            if exp + 30 < expect.now_secs {
                return Err(JwtError::Expired);
            }
        }
        serde_json::from_value(data.claims).map_err(|_| JwtError::Malformed)
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
        install_crypto_provider();
        let es = SigningKey::from_pem("e1", Alg::Es256, &generate(Alg::Es256).unwrap()).unwrap();
        let rs = SigningKey::from_pem("r1", Alg::Rs256, &generate(Alg::Rs256).unwrap()).unwrap();
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

    #[test]
    fn signs_and_verifies_both_algorithms() {
        let keys = set();
        let claims =
            serde_json::json!({"iss": "https://sb.test", "aud": "c1", "sub": "u", "exp": 2000});
        for alg in Alg::ALL {
            let t = keys.sign(alg, "JWT", &claims).unwrap();
            let back: serde_json::Value = keys.verify(&t, &expect(1000)).unwrap();
            assert_eq!(back["sub"], "u");
            assert_eq!(
                keys.verify::<serde_json::Value>(&t, &expect(3000)),
                Err(JwtError::Expired)
            );
            let mut wrong = expect(1000);
            wrong.audience = Some("c2");
            assert_eq!(
                keys.verify::<serde_json::Value>(&t, &wrong),
                Err(JwtError::WrongAudience)
            );
        }
        let jwks = keys.jwks();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
        assert!(
            jwks.to_string().find("\"d\"").is_none(),
            "no private parts published"
        );
    }

    #[test]
    fn tampering_and_foreign_keys_are_refused() {
        let keys = set();
        let claims =
            serde_json::json!({"iss": "https://sb.test", "aud": "c1", "sub": "u", "exp": 2000});
        let t = keys.sign(Alg::Es256, "JWT", &claims).unwrap();
        let mut parts: Vec<String> = t.split('.').map(String::from).collect();
        parts[1] = URL_SAFE_NO_PAD
            .encode(br#"{"iss":"https://sb.test","aud":"c1","sub":"admin","exp":2000}"#);
        let forged = parts.join(".");
        assert_eq!(
            keys.verify::<serde_json::Value>(&forged, &expect(1000)),
            Err(JwtError::BadSignature)
        );
        // alg=none with a known kid
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"e1"}"#),
            parts[1]
        );
        assert!(
            keys.verify::<serde_json::Value>(&none, &expect(1000))
                .is_err()
        );
        // HS256 with the public key as secret, under the RSA kid
        let hs = format!(
            "{}.{}.AAAA",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","kid":"r1"}"#),
            parts[1]
        );
        assert_eq!(
            keys.verify::<serde_json::Value>(&hs, &expect(1000)),
            Err(JwtError::BadSignature)
        );
        let other = set();
        assert_eq!(
            other.verify::<serde_json::Value>(&t, &expect(1000)),
            Err(JwtError::BadSignature)
        );
        assert_eq!(
            keys.verify::<serde_json::Value>("abc", &expect(1000)),
            Err(JwtError::Malformed)
        );
    }
}
