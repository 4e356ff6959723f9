//! The OpenID Connect provider: discovery, JWKS, authorization code with PKCE, refresh with rotation,
//! client credentials, token exchange for delegated authentication, introspection, revocation, userinfo
//! and RP-initiated logout. Sign-in itself is the portal's (`web::login`); this module turns a portal
//! session into codes and tokens.

pub mod authorize;
pub mod client_auth;
pub mod client_cache;
pub mod error;
pub mod keys;
pub mod logout;
pub mod resource;
pub mod token;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use skybridge_identity::keys::{Alg, KeySet};

use crate::state::AppState;

pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
pub const AUTHORIZE_PATH: &str = "/oauth2/authorize";
pub const TOKEN_PATH: &str = "/oauth2/token";
pub const JWKS_PATH: &str = "/oauth2/jwks";
pub const USERINFO_PATH: &str = "/oauth2/userinfo";
pub const INTROSPECT_PATH: &str = "/oauth2/introspect";
pub const REVOKE_PATH: &str = "/oauth2/revoke";
pub const LOGOUT_PATH: &str = "/oauth2/logout";

/// The scopes a client may ask for.
pub const SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];
pub use skybridge_domain::oauth_client::{
    AUTHORIZATION_CODE as GRANT_AUTHORIZATION_CODE, CLIENT_CREDENTIALS as GRANT_CLIENT_CREDENTIALS,
    REFRESH_TOKEN as GRANT_REFRESH, TOKEN_EXCHANGE as GRANT_TOKEN_EXCHANGE,
};
/// The JOSE `typ` of access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// Access tokens are signed with ES256: an order of magnitude cheaper to sign than RS256.
pub const ACCESS_TOKEN_ALG: Alg = Alg::Es256;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(DISCOVERY_PATH, get(discovery))
        .route(JWKS_PATH, get(jwks))
        .route(AUTHORIZE_PATH, get(authorize::get).post(authorize::post))
        .route(TOKEN_PATH, post(token::token))
        .route(
            USERINFO_PATH,
            get(resource::userinfo).post(resource::userinfo),
        )
        .route(INTROSPECT_PATH, post(resource::introspect))
        .route(REVOKE_PATH, post(resource::revoke))
        .route(LOGOUT_PATH, get(logout::get).post(logout::post))
}

impl AppState {
    /// The issuer identifier: the public URL.
    pub fn issuer(&self) -> String {
        self.config.public_url()
    }

    /// The signing keys, creating or rotating them when due.
    pub async fn signing_keys(&self) -> anyhow::Result<Arc<KeySet>> {
        let life = keys::Lifetimes {
            signing_key_days: self.config.signing_key_days,
            max_token_micros: self
                .config
                .id_token_minutes
                .max(self.config.access_token_minutes)
                * 60_000_000,
        };
        self.keys
            .get(&self.store, &self.secrets, &life, self.now())
            .await
    }
}

async fn discovery(State(state): State<AppState>) -> Response {
    let iss = state.issuer();
    let doc = serde_json::json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}{AUTHORIZE_PATH}"),
        "token_endpoint": format!("{iss}{TOKEN_PATH}"),
        "userinfo_endpoint": format!("{iss}{USERINFO_PATH}"),
        "jwks_uri": format!("{iss}{JWKS_PATH}"),
        "introspection_endpoint": format!("{iss}{INTROSPECT_PATH}"),
        "revocation_endpoint": format!("{iss}{REVOKE_PATH}"),
        "end_session_endpoint": format!("{iss}{LOGOUT_PATH}"),
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [GRANT_AUTHORIZATION_CODE, GRANT_REFRESH, GRANT_CLIENT_CREDENTIALS, GRANT_TOKEN_EXCHANGE],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "sid", "email", "email_verified", "name", "given_name", "family_name", "account_id", "role"],
        "prompt_values_supported": ["none", "login"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    });
    ([(CACHE_CONTROL, "public, max-age=300")], Json(doc)).into_response()
}

async fn jwks(State(state): State<AppState>) -> Response {
    match state.signing_keys().await {
        Ok(keys) => ([(CACHE_CONTROL, "public, max-age=300")], Json(keys.jwks())).into_response(),
        Err(e) => error::OAuthError::server_error(e).into_response(),
    }
}

/// The claims of an access token (RFC 9068 profile).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    /// A user id, or for client credentials the client id.
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
    /// The grant the token was issued under; revoking it ends the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The party acting for the user (token exchange, RFC 8693 §4.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<ActClaim>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActClaim {
    pub sub: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub amr: Vec<String>,
    pub sid: String,
    pub email: String,
    pub email_verified: bool,
    pub name: String,
    pub account_id: String,
    pub role: String,
}

/// The token endpoint's success body.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
}

pub fn secs(micros: i64) -> i64 {
    micros.div_euclid(1_000_000)
}

/// Scope values, deduplicated, in request order.
pub fn parse_scope(raw: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in raw.split(' ').filter(|s| !s.is_empty()) {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse() {
        assert_eq!(parse_scope("openid  email openid"), vec!["openid", "email"]);
        assert!(parse_scope("").is_empty());
        assert_eq!(secs(-1), -1);
        assert_eq!(secs(1_999_999), 1);
    }
}
