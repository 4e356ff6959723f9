//! What an OAuth client registration may say: which grants, which redirect URIs, and the rules that
//! tie them together (public clients cannot keep a secret, so they get neither client credentials nor
//! delegation; only a client bound to one account may act for that account's users).

use url::Url;

use crate::ValidationError;

pub const AUTHORIZATION_CODE: &str = "authorization_code";
pub const REFRESH_TOKEN: &str = "refresh_token";
pub const CLIENT_CREDENTIALS: &str = "client_credentials";
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const GRANT_TYPES: [&str; 4] = [
    AUTHORIZATION_CODE,
    REFRESH_TOKEN,
    CLIENT_CREDENTIALS,
    TOKEN_EXCHANGE,
];
pub const MAX_URIS: usize = 20;

/// A registration as asked for, before the server adds an id and a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub name: String,
    pub confidential: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub id_token_alg: String,
}

impl Registration {
    /// Whether the client may act for users of its account (RFC 8693 token exchange).
    pub fn delegation(&self) -> bool {
        self.grant_types.iter().any(|g| g == TOKEN_EXCHANGE)
    }
}

/// Checks a registration; `partner_wide` when it serves a partner and all its customer accounts.
pub fn validate(r: &Registration, partner_wide: bool) -> Result<(), ValidationError> {
    let name = r.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ValidationError::new("name", "1 to 100 characters"));
    }
    if r.grant_types.is_empty() {
        return Err(ValidationError::new(
            "grant_types",
            "name at least one grant type",
        ));
    }
    for g in &r.grant_types {
        if !GRANT_TYPES.contains(&g.as_str()) {
            return Err(ValidationError::new(
                "grant_types",
                format!("unknown grant type {g:?}; use {}", GRANT_TYPES.join(", ")),
            ));
        }
    }
    let has = |g: &str| r.grant_types.iter().any(|x| x == g);
    if !r.confidential && (has(CLIENT_CREDENTIALS) || has(TOKEN_EXCHANGE)) {
        return Err(ValidationError::new(
            "grant_types",
            "a public client cannot use client_credentials or token exchange",
        ));
    }
    if has(REFRESH_TOKEN) && !has(AUTHORIZATION_CODE) {
        return Err(ValidationError::new(
            "grant_types",
            "refresh_token needs authorization_code",
        ));
    }
    if has(TOKEN_EXCHANGE) && partner_wide {
        return Err(ValidationError::new(
            "grant_types",
            "token exchange (delegated authentication) needs a client bound to one account",
        ));
    }
    if !matches!(r.id_token_alg.as_str(), "RS256" | "ES256") {
        return Err(ValidationError::new(
            "id_token_signed_response_alg",
            "RS256 or ES256",
        ));
    }
    if has(AUTHORIZATION_CODE) && r.redirect_uris.is_empty() {
        return Err(ValidationError::new(
            "redirect_uris",
            "the authorization code grant needs at least one redirect URI",
        ));
    }
    for (field, list) in [
        ("redirect_uris", &r.redirect_uris),
        ("post_logout_redirect_uris", &r.post_logout_redirect_uris),
    ] {
        if list.len() > MAX_URIS {
            return Err(ValidationError::new(field, format!("at most {MAX_URIS}")));
        }
        for uri in list {
            redirect_uri(field, uri)?;
        }
    }
    Ok(())
}

/// A redirect URI: absolute, no fragment; `https`, `http` only to the loopback interface (native apps,
/// RFC 8252 §7.3), or a private-use scheme in reverse-domain form (RFC 8252 §7.1).
pub fn redirect_uri(field: &str, raw: &str) -> Result<(), ValidationError> {
    if raw.len() > 2000 {
        return Err(ValidationError::new(
            field,
            "a URI is at most 2000 characters",
        ));
    }
    let url = Url::parse(raw)
        .map_err(|_| ValidationError::new(field, format!("{raw:?} is not an absolute URI")))?;
    if url.fragment().is_some() {
        return Err(ValidationError::new(
            field,
            format!("{raw:?} must not have a fragment"),
        ));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" => match url.host_str() {
            Some("localhost" | "127.0.0.1" | "[::1]") => Ok(()),
            _ => Err(ValidationError::new(
                field,
                format!("{raw:?}: plain http is allowed only for localhost"),
            )),
        },
        s if s.contains('.') => Ok(()),
        _ => Err(ValidationError::new(
            field,
            format!("{raw:?}: use https, http://localhost, or a reverse-domain private scheme"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg() -> Registration {
        Registration {
            name: "Portal".into(),
            confidential: true,
            redirect_uris: vec!["https://app.example/cb".into()],
            post_logout_redirect_uris: vec![],
            grant_types: vec![AUTHORIZATION_CODE.into(), REFRESH_TOKEN.into()],
            id_token_alg: "RS256".into(),
        }
    }

    #[test]
    fn accepts_usual_registrations() {
        assert_eq!(validate(&reg(), true), Ok(()));
        let mut native = reg();
        native.confidential = false;
        native.redirect_uris = vec![
            "http://127.0.0.1:5173/cb".into(),
            "com.example.app:/oauth".into(),
        ];
        assert_eq!(validate(&native, true), Ok(()));
        let mut service = reg();
        service.grant_types = vec![CLIENT_CREDENTIALS.into(), TOKEN_EXCHANGE.into()];
        service.redirect_uris.clear();
        assert_eq!(validate(&service, false), Ok(()));
        assert!(service.delegation());
    }

    #[test]
    fn refuses_unsafe_combinations() {
        let field = |r: &Registration, p| validate(r, p).unwrap_err().field;
        let mut r = reg();
        r.confidential = false;
        r.grant_types.push(CLIENT_CREDENTIALS.into());
        assert_eq!(field(&r, true), "grant_types");
        let mut r = reg();
        r.grant_types = vec![TOKEN_EXCHANGE.into()];
        assert_eq!(
            field(&r, true),
            "grant_types",
            "delegation needs an account"
        );
        let mut r = reg();
        r.grant_types = vec![REFRESH_TOKEN.into()];
        assert_eq!(field(&r, true), "grant_types");
        for bad in [
            "http://app.example/cb",
            "https://app.example/cb#x",
            "/relative",
            "javascript:alert(1)",
        ] {
            let mut r = reg();
            r.redirect_uris = vec![bad.into()];
            assert_eq!(field(&r, true), "redirect_uris", "{bad}");
        }
        let mut r = reg();
        r.redirect_uris.clear();
        assert_eq!(field(&r, true), "redirect_uris");
        let mut r = reg();
        r.id_token_alg = "HS256".into();
        assert_eq!(field(&r, true), "id_token_signed_response_alg");
    }
}
