//! Reading and ending tokens: access-token verification (shared with the admin API), userinfo,
//! introspection (RFC 7662) and revocation (RFC 7009).

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Form, State};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use skybridge_identity::keys::{Expect, JwtError};
use skybridge_store::oauth::grants::{self, GrantRow};
use skybridge_store::users::UserRow;

use super::error::OAuthError;
use super::token::REFRESH_PREFIX;
use super::{ACCESS_TOKEN_TYP, AccessClaims, client_auth, parse_scope, secs};
use crate::auth::hash_token;
use crate::state::AppState;

/// Why an access token is not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("{0}")]
    Jwt(#[from] JwtError),
    #[error("the token has been revoked")]
    Revoked,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<skybridge_store::StoreError> for AccessError {
    fn from(e: skybridge_store::StoreError) -> Self {
        AccessError::Internal(e.into())
    }
}

/// A verified access token, and the grant it was issued under when it acts for a user.
pub struct Verified {
    pub claims: AccessClaims,
    pub grant: Option<GrantRow>,
}

/// Verifies an access token: signature by one of our keys, issuer and audience, expiry on the server's
/// clock, and that its grant (or, without one, its id) has not been revoked.
pub async fn verify_access(state: &AppState, token: &str) -> Result<Verified, AccessError> {
    let iss = state.issuer();
    let expect = Expect {
        issuer: &iss,
        audience: Some(&iss),
        typ: Some(ACCESS_TOKEN_TYP),
        allow_expired: false,
        now_secs: secs(state.now()),
    };
    let keys = state.signing_keys().await?;
    let claims: AccessClaims = match keys.verify(token, &expect) {
        Err(JwtError::UnknownKey) => {
            // Another node may have rotated: look once more before refusing.
            state.keys.invalidate();
            state.signing_keys().await?.verify(token, &expect)?
        }
        other => other?,
    };
    let mut db = state.store.handle().await?;
    let grant = match &claims.sid {
        Some(sid) => {
            let g = grants::live(&mut db, sid, state.now())
                .await?
                .filter(|g| {
                    g.subject_active && g.user_id == claims.sub && g.client_id == claims.client_id
                })
                .ok_or(AccessError::Revoked)?;
            Some(g)
        }
        None => {
            if grants::jti_revoked(&mut db, &claims.jti).await? {
                return Err(AccessError::Revoked);
            }
            None
        }
    };
    Ok(Verified { claims, grant })
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

async fn user_of(state: &AppState, v: &Verified) -> Result<Option<UserRow>, OAuthError> {
    let Some(grant) = &v.grant else {
        return Ok(None);
    };
    let (Ok(account), Ok(user)) = (grant.account_id.parse(), grant.user_id.parse()) else {
        return Ok(None);
    };
    let scope = skybridge_domain::policy::AccountScope::for_system(account);
    let mut db = state.store.handle().await?;
    let acct = skybridge_store::accounts::get(&mut db, &scope).await?;
    if acct.is_none_or(|a| a.status != "active") {
        return Ok(None);
    }
    Ok(skybridge_store::users::get(&mut db, &scope, user)
        .await?
        .filter(|u| u.active))
}

/// OIDC Core §5.3: the signed-in user's claims, as far as the token's scopes allow.
pub async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = bearer(&headers) else {
        return OAuthError::invalid_token("a Bearer access token is required").into_response();
    };
    let v = match verify_access(&state, token).await {
        Ok(v) => v,
        Err(AccessError::Internal(e)) => return OAuthError::server_error(e).into_response(),
        Err(e) => return OAuthError::invalid_token(e.to_string()).into_response(),
    };
    let scopes = parse_scope(&v.claims.scope);
    if !scopes.iter().any(|s| s == "openid") {
        let mut e = OAuthError::invalid_token("the token was not issued with the openid scope");
        e.status = axum::http::StatusCode::FORBIDDEN;
        e.code = "insufficient_scope";
        return e.into_response();
    }
    let user = match user_of(&state, &v).await {
        Ok(Some(u)) => u,
        Ok(None) => {
            return OAuthError::invalid_token("the user is no longer active").into_response();
        }
        Err(e) => return e.into_response(),
    };
    let mut body = json!({
        "sub": user.id,
        "account_id": user.account_id,
        "role": user.role,
    });
    if scopes.iter().any(|s| s == "email") {
        body["email"] = json!(user.email);
        body["email_verified"] = json!(user.registered);
    }
    if scopes.iter().any(|s| s == "profile") {
        body["name"] = json!(user.display_name);
        if let Some(g) = &user.first_name {
            body["given_name"] = json!(g);
        }
        if let Some(f) = &user.last_name {
            body["family_name"] = json!(f);
        }
    }
    ([(CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

#[derive(Debug, Deserialize)]
pub struct TokenParam {
    token: Option<String>,
    #[allow(dead_code)]
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// Whether `client` may learn about a token issued to `issued_to` for a user of `account`: its own tokens,
/// and for a partner-wide client (a resource server of the partner) the tokens of the partner's tenants.
async fn may_see(
    state: &AppState,
    client: &skybridge_store::oauth::clients::ClientRow,
    issued_to: &str,
    account: Option<&str>,
) -> Result<bool, OAuthError> {
    if client.id == issued_to {
        return Ok(true);
    }
    match account {
        Some(a) if client.partner_wide => {
            Ok(super::authorize::may_sign_in(state, client, a).await?)
        }
        _ => Ok(false),
    }
}

pub async fn introspect(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<TokenParam>,
) -> Response {
    let result = async {
        let client = client_auth::authenticate_request(
            &state,
            peer,
            &headers,
            form.client_id.as_deref(),
            form.client_secret.as_deref(),
        )
        .await?;
        if !client.confidential {
            return Err(OAuthError::invalid_client(
                "introspection needs a confidential client",
            ));
        }
        let token = form
            .token
            .as_deref()
            .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
        let inactive = json!({ "active": false });
        if token.starts_with(REFRESH_PREFIX) {
            let mut db = state.store.handle().await?;
            let Some(g) =
                grants::grant_of_refresh(&mut db, &hash_token(token), state.now()).await?
            else {
                return Ok(inactive);
            };
            if !may_see(&state, &client, &g.client_id, Some(&g.account_id)).await? {
                return Ok(inactive);
            }
            return Ok(json!({
                "active": true,
                "token_type": "refresh_token",
                "client_id": g.client_id,
                "sub": g.user_id,
                "scope": g.scope,
                "exp": secs(g.expires_at),
                "iat": secs(g.created_at),
                "iss": state.issuer(),
                "account_id": g.account_id,
            }));
        }
        match verify_access(&state, token).await {
            Ok(v)
                if may_see(
                    &state,
                    &client,
                    &v.claims.client_id,
                    v.claims.account_id.as_deref(),
                )
                .await? =>
            {
                let mut body = serde_json::to_value(&v.claims).map_err(OAuthError::server_error)?;
                body["active"] = json!(true);
                body["token_type"] = json!("Bearer");
                Ok(body)
            }
            Ok(_) | Err(AccessError::Jwt(_)) | Err(AccessError::Revoked) => Ok(inactive),
            Err(AccessError::Internal(e)) => Err(OAuthError::server_error(e)),
        }
    }
    .await;
    match result {
        Ok(body) => ([(CACHE_CONTROL, "no-store")], Json(body)).into_response(),
        Err(e) => e.into_response(),
    }
}

pub async fn revoke(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<TokenParam>,
) -> Response {
    let result = async {
        let client = client_auth::authenticate_request(
            &state,
            peer,
            &headers,
            form.client_id.as_deref(),
            form.client_secret.as_deref(),
        )
        .await?;
        let token = form
            .token
            .as_deref()
            .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
        let now = state.now();
        if token.starts_with(REFRESH_PREFIX) {
            let g =
                grants::grant_of_refresh(&mut state.store.handle().await?, &hash_token(token), now)
                    .await?;
            if let Some(g) = g.filter(|g| g.client_id == client.id) {
                let mut tx = state.store.begin().await?;
                grants::revoke(&mut tx, &g.id, now).await?;
                tx.commit().await?;
            }
            return Ok(());
        }
        // An unknown or foreign token is not an error (RFC 7009 §2.2): the answer is the same 200.
        if let Ok(v) = verify_access(&state, token).await
            && v.claims.client_id == client.id
        {
            let mut tx = state.store.begin().await?;
            match &v.claims.sid {
                Some(sid) => {
                    grants::revoke(&mut tx, sid, now).await?;
                }
                None => {
                    grants::revoke_jti(&mut tx, &v.claims.jti, (v.claims.exp + 60) * 1_000_000)
                        .await?
                }
            }
            tx.commit().await?;
        }
        Ok::<_, OAuthError>(())
    }
    .await;
    match result {
        Ok(()) => ([(CACHE_CONTROL, "no-store")], "").into_response(),
        Err(e) => e.into_response(),
    }
}
