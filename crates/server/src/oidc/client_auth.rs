//! Client authentication at the token, introspection and revocation endpoints: `client_secret_basic`,
//! `client_secret_post`, or `none` for public clients (which then must prove possession with PKCE).

use std::net::IpAddr;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use skybridge_store::oauth::clients::ClientRow;
use subtle::ConstantTimeEq;

use super::error::OAuthError;
use crate::auth::hash_token;
use crate::state::AppState;

/// The prefix of client secrets, so that a leaked one is recognisable.
pub const SECRET_PREFIX: &str = "sbcs_";

/// The credentials a request presented.
pub struct Presented {
    pub client_id: String,
    pub secret: Option<String>,
    pub basic: bool,
}

fn form_decode(s: &str) -> Option<String> {
    // RFC 6749 §2.3.1: the id and secret are form-encoded before Basic encoding.
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={s}")).ok()?;
    pairs.into_iter().next().map(|(_, v)| v)
}

/// Reads the client's credentials from the Authorization header or the form, refusing both at once.
pub fn presented(
    headers: &HeaderMap,
    form_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<Presented, OAuthError> {
    let basic = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        });
    if let Some(b64) = basic {
        if form_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not two",
            ));
        }
        let bad = || OAuthError::invalid_client("malformed Basic credentials").basic();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let (id, secret) = raw.split_once(':').ok_or_else(bad)?;
        let (id, secret) = (
            form_decode(id).ok_or_else(bad)?,
            form_decode(secret).ok_or_else(bad)?,
        );
        if form_id.is_some_and(|f| f != id) {
            return Err(OAuthError::invalid_request(
                "client_id in the form differs from the authenticated client",
            ));
        }
        return Ok(Presented {
            client_id: id,
            secret: Some(secret),
            basic: true,
        });
    }
    let id = form_id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| OAuthError::invalid_client("client authentication is required"))?;
    Ok(Presented {
        client_id: id.to_string(),
        secret: form_secret.map(str::to_string),
        basic: false,
    })
}

/// Authenticates the client. Failures count against the caller's address like bad API tokens do.
pub async fn authenticate(
    state: &AppState,
    ip: Option<IpAddr>,
    p: &Presented,
) -> Result<std::sync::Arc<ClientRow>, OAuthError> {
    let now = state.now();
    // Only failures are throttled: a client with valid credentials is served from an address where others
    // (behind the same NAT) failed too often.
    let fail = |why: &str| {
        if let Some(ip) = ip {
            if let Some(retry) = state.auth_failures.blocked(ip, now) {
                return OAuthError::slow_down(retry);
            }
            state.auth_failures.record_failure(ip, now);
        }
        let e = OAuthError::invalid_client(why.to_string());
        if p.basic { e.basic() } else { e }
    };
    if p.client_id.len() > 100 || p.secret.as_ref().is_some_and(|s| s.len() > 200) {
        return Err(fail("client authentication failed"));
    }
    let Some(client) = state.clients.get(state, &p.client_id).await? else {
        return Err(fail("client authentication failed"));
    };
    // A client of a deactivated account is as good as gone.
    if !client.account_active {
        return Err(fail("client authentication failed"));
    }
    match (&client.secret_hash, &p.secret) {
        (Some(stored), Some(given)) => {
            let given = hash_token(given);
            if !bool::from(stored.as_bytes().ct_eq(given.as_bytes())) {
                return Err(fail("client authentication failed"));
            }
        }
        (Some(_), None) => return Err(fail("this client must authenticate with its secret")),
        (None, Some(_)) => return Err(fail("a public client has no secret")),
        (None, None) => {}
    }
    Ok(client)
}

/// Reads and authenticates the client of a token, introspection or revocation request.
pub async fn authenticate_request(
    state: &AppState,
    peer: std::net::SocketAddr,
    headers: &HeaderMap,
    form_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<std::sync::Arc<ClientRow>, OAuthError> {
    let p = presented(headers, form_id, form_secret)?;
    authenticate(state, Some(peer.ip()), &p).await
}
