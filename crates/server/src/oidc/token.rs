//! The token endpoint: authorization code (with PKCE), refresh token (rotated, reuse revokes the grant),
//! client credentials, and token exchange for delegated authentication (RFC 8693).

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Form, State};
use axum::http::HeaderMap;
use axum::http::header::{CACHE_CONTROL, PRAGMA};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use skybridge_domain::event::{Action, Actor, NewEvent};
use skybridge_domain::policy::AccountScope;
use skybridge_identity::keys::{Alg, KeySet};
use skybridge_identity::pkce;
use skybridge_store::oauth::clients::ClientRow;
use skybridge_store::oauth::codes;
use skybridge_store::oauth::grants::{self, GrantRow};
use skybridge_store::users::UserRow;
use skybridge_store::{Tx, accounts, users};
use uuid::Uuid;

use super::client_auth;
use super::error::OAuthError;
use super::{
    ACCESS_TOKEN_ALG, ACCESS_TOKEN_TYP, AccessClaims, ActClaim, GRANT_AUTHORIZATION_CODE,
    GRANT_CLIENT_CREDENTIALS, GRANT_REFRESH, GRANT_TOKEN_EXCHANGE, IdClaims, SCOPES, TokenResponse,
    parse_scope, secs,
};
use crate::auth::{hash_token, new_secret};
use crate::state::AppState;

/// Refresh tokens are recognisable by prefix.
pub const REFRESH_PREFIX: &str = "sbr_";
pub const TOKEN_TYPE_ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";
/// Subject token types a delegating client may present: the user's e-mail or id in its account.
pub const SUBJECT_EMAIL: &str = "urn:skybridge:params:oauth:token-type:email";
pub const SUBJECT_USER_ID: &str = "urn:skybridge:params:oauth:token-type:user-id";

#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
    subject_token: Option<String>,
    subject_token_type: Option<String>,
    requested_token_type: Option<String>,
    // Accepted and ignored: the only audience is this platform.
    #[allow(dead_code)]
    audience: Option<String>,
    #[allow(dead_code)]
    resource: Option<String>,
}

pub async fn token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    match grant(&state, peer, &headers, form).await {
        Ok(body) => (
            [(CACHE_CONTROL, "no-store"), (PRAGMA, "no-cache")],
            Json(body),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn grant(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    form: TokenForm,
) -> Result<TokenResponse, OAuthError> {
    let grant_type = form
        .grant_type
        .clone()
        .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    let known = [
        GRANT_AUTHORIZATION_CODE,
        GRANT_REFRESH,
        GRANT_CLIENT_CREDENTIALS,
        GRANT_TOKEN_EXCHANGE,
    ];
    if !known.contains(&grant_type.as_str()) {
        return Err(OAuthError::unsupported_grant_type(format!(
            "grant_type {grant_type:?} is not supported"
        )));
    }
    let client = client_auth::authenticate_request(
        state,
        peer,
        headers,
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
    )
    .await?;
    if !client.allows(&grant_type) {
        return Err(OAuthError::unauthorized_client(format!(
            "this client may not use the {grant_type} grant"
        )));
    }
    // Keys first: creating one writes to the store, which must not happen inside the grant's transaction.
    let keys = state.signing_keys().await?;
    match grant_type.as_str() {
        GRANT_AUTHORIZATION_CODE => authorization_code(state, &keys, &client, &form).await,
        GRANT_REFRESH => refresh(state, &keys, &client, &form).await,
        GRANT_CLIENT_CREDENTIALS => client_credentials(state, &keys, &client, &form),
        _ => token_exchange(state, &keys, &client, &form).await,
    }
}

/// Who and what an access token is for.
struct Subject<'a> {
    sub: &'a str,
    scope: &'a str,
    sid: Option<&'a str>,
    account_id: Option<&'a str>,
    act: Option<ActClaim>,
}

fn access_token(
    state: &AppState,
    keys: &KeySet,
    client: &ClientRow,
    who: Subject<'_>,
) -> Result<(String, i64), OAuthError> {
    let now = secs(state.now());
    let ttl = state.config.access_token_minutes * 60;
    let claims = AccessClaims {
        iss: state.issuer(),
        sub: who.sub.to_string(),
        aud: state.issuer(),
        exp: now + ttl,
        iat: now,
        jti: Uuid::new_v4().simple().to_string(),
        client_id: client.id.clone(),
        scope: who.scope.to_string(),
        sid: who.sid.map(str::to_string),
        account_id: who.account_id.map(str::to_string),
        act: who.act,
    };
    let jwt = keys
        .sign(ACCESS_TOKEN_ALG, ACCESS_TOKEN_TYP, &claims)
        .map_err(OAuthError::server_error)?;
    Ok((jwt, ttl))
}

#[allow(clippy::too_many_arguments)]
fn id_token(
    state: &AppState,
    keys: &KeySet,
    client: &ClientRow,
    user: &UserRow,
    grant: &GrantRow,
    nonce: Option<String>,
) -> Result<String, OAuthError> {
    let now = secs(state.now());
    let claims = IdClaims {
        iss: state.issuer(),
        sub: user.id.clone(),
        aud: client.id.clone(),
        exp: now + state.config.id_token_minutes * 60,
        iat: now,
        auth_time: secs(grant.auth_time),
        nonce,
        amr: grant
            .amr
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        sid: grant.id.clone(),
        email: user.email.clone(),
        email_verified: user.registered,
        name: user.display_name.clone(),
        account_id: user.account_id.clone(),
        role: user.role.clone(),
    };
    let alg = Alg::parse(&client.id_token_alg).unwrap_or(Alg::Rs256);
    keys.sign(alg, "JWT", &claims)
        .map_err(OAuthError::server_error)
}

fn new_refresh() -> (String, String) {
    let t = format!("{REFRESH_PREFIX}{}", new_secret());
    let h = hash_token(&t);
    (t, h)
}

/// A refused protocol request, for the account's event history.
/// The actor is the system: whoever presented the token is unknown (a thief, if it was replayed); the user
/// whose grant it was is named in the details.
fn refused(
    account: &str,
    user_id: Option<&str>,
    client_id: &str,
    reason: &str,
) -> Option<NewEvent> {
    let account = account.parse().ok()?;
    let mut event = NewEvent::security(
        account,
        Actor::System,
        Action::Refused,
        "Sign-in",
        client_id,
    )
    .detail("reason", reason);
    if let Some(u) = user_id {
        event = event.detail("user_id", u);
    }
    Some(event)
}

async fn audit(tx: &mut Tx, state: &AppState, event: Option<NewEvent>) -> Result<(), OAuthError> {
    if let Some(event) = event {
        skybridge_store::events::insert(tx, &event, "", state.now()).await?;
    }
    Ok(())
}

async fn authorization_code(
    state: &AppState,
    keys: &KeySet,
    client: &ClientRow,
    form: &TokenForm,
) -> Result<TokenResponse, OAuthError> {
    let code = form
        .code
        .as_deref()
        .filter(|c| c.len() <= 100)
        .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let now = state.now();
    let code_hash = hash_token(code);
    // Everything is checked on a plain read; the redemption itself is one atomic write, so a refusal
    // (a wrong verifier, another client) leaves the code as it was.
    let Some(found) = codes::find(&mut state.store.handle().await?, &code_hash).await? else {
        return Err(OAuthError::invalid_grant(
            "the authorization code is invalid",
        ));
    };
    let row = found.code;
    if row.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    if row.used_at.is_some() {
        return Err(replayed(state, &row, client).await?);
    }
    if row.expires_at <= now {
        return Err(OAuthError::invalid_grant(
            "the authorization code has expired",
        ));
    }
    if form.redirect_uri.as_deref() != Some(row.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant(
            "redirect_uri differs from the authorization request",
        ));
    }
    match (&row.code_challenge, form.code_verifier.as_deref()) {
        (Some(challenge), Some(verifier)) => {
            if !pkce::verify(challenge, verifier) {
                return Err(OAuthError::invalid_grant(
                    "code_verifier does not match the code_challenge",
                ));
            }
        }
        (Some(_), None) => return Err(OAuthError::invalid_grant("code_verifier is required")),
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier given but the authorization request had no code_challenge",
            ));
        }
        (None, None) => {}
    }
    if !found.subject_active {
        return Err(OAuthError::invalid_grant(
            "the user or the account is no longer active",
        ));
    }
    let user = found.user;
    let grant = GrantRow {
        id: Uuid::new_v4().to_string(),
        client_id: client.id.clone(),
        user_id: row.user_id.clone(),
        account_id: row.account_id.clone(),
        session_hash: row.session_hash.clone(),
        scope: row.scope.clone(),
        auth_time: row.auth_time,
        amr: row.amr.clone(),
        created_at: now,
        expires_at: now + state.config.refresh_token_days * 86_400 * 1_000_000,
        revoked_at: None,
        subject_active: true,
    };
    let refresh = client.allows(GRANT_REFRESH).then(new_refresh);
    let redeemed = codes::redeem(
        &state.store,
        &row.code_hash,
        &grant,
        refresh.as_ref().map(|(_, h)| h.as_str()),
    )
    .await?;
    if !redeemed {
        // Presented twice at the same moment: the other presentation won, and this one is a replay.
        let winner = codes::find(&mut state.store.handle().await?, &row.code_hash)
            .await?
            .map_or(row, |f| f.code);
        return Err(replayed(state, &winner, client).await?);
    }
    let refresh_token = refresh.map(|(t, _)| t);
    let (access, ttl) = access_token(
        state,
        keys,
        client,
        Subject {
            sub: &user.id,
            scope: &grant.scope,
            sid: Some(&grant.id),
            account_id: Some(&user.account_id),
            act: None,
        },
    )?;
    let id_token = if parse_scope(&grant.scope).iter().any(|s| s == "openid") {
        Some(id_token(
            state,
            keys,
            client,
            &user,
            &grant,
            row.nonce.clone(),
        )?)
    } else {
        None
    };
    Ok(TokenResponse {
        access_token: access,
        token_type: "Bearer",
        expires_in: ttl,
        scope: grant.scope,
        refresh_token,
        id_token,
        issued_token_type: None,
    })
}

/// A code presented again was intercepted: whatever it bought is revoked (RFC 6749 §4.1.2), and the refusal
/// recorded.
async fn replayed(
    state: &AppState,
    row: &codes::CodeRow,
    client: &ClientRow,
) -> Result<OAuthError, OAuthError> {
    let mut tx = state.store.begin().await?;
    if let Some(g) = &row.grant_id {
        grants::revoke(&mut tx, g, state.now()).await?;
    }
    audit(
        &mut tx,
        state,
        refused(
            &row.account_id,
            Some(&row.user_id),
            &client.id,
            "authorization code replayed; its tokens were revoked",
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(OAuthError::invalid_grant(
        "the authorization code was already used",
    ))
}

/// The scope of a refreshed token: the grant's, or a narrower one asked for.
fn check_scope(granted: &str, requested: Option<&str>) -> Result<String, OAuthError> {
    let Some(requested) = requested else {
        return Ok(granted.to_string());
    };
    let granted = parse_scope(granted);
    let requested = parse_scope(requested);
    if let Some(extra) = requested.iter().find(|s| !granted.contains(s)) {
        return Err(OAuthError::invalid_scope(format!(
            "scope {extra:?} was not granted"
        )));
    }
    Ok(requested.join(" "))
}

/// A rotated refresh token presented again: somebody holds a copy. The whole grant is revoked and the
/// refusal recorded in the account's history (RFC 9700 §4.14.2).
async fn reuse(state: &AppState, grant: &GrantRow) -> Result<OAuthError, OAuthError> {
    let mut tx = state.store.begin().await?;
    if grants::revoke(&mut tx, &grant.id, state.now()).await? {
        audit(
            &mut tx,
            state,
            refused(
                &grant.account_id,
                Some(&grant.user_id),
                &grant.client_id,
                "refresh token reused; the grant was revoked",
            ),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(OAuthError::invalid_grant(
        "the refresh token was already used; the grant has been revoked",
    ))
}

async fn refresh(
    state: &AppState,
    keys: &KeySet,
    client: &ClientRow,
    form: &TokenForm,
) -> Result<TokenResponse, OAuthError> {
    let token = form
        .refresh_token
        .as_deref()
        .filter(|t| t.len() <= 200)
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let now = state.now();
    let hash = hash_token(token);
    let (t, h) = new_refresh();
    // The usual case in one round trip: the token is consumed and its successor stored only when it is
    // fresh, of this client, and its grant stands. A narrower scope is checked against the grant first.
    let rotated = match form.scope {
        None => grants::rotate_refresh(&state.store, &hash, &h, &client.id, now).await?,
        Some(_) => None,
    };
    let grant = match rotated {
        Some(g) => g,
        None => {
            let Some(presented) =
                grants::peek_refresh(&mut state.store.handle().await?, &hash).await?
            else {
                return Err(OAuthError::invalid_grant(
                    "the refresh token is invalid, expired or revoked",
                ));
            };
            let grant = presented.grant;
            if grant.client_id != client.id {
                // Nothing was consumed: a stranger's mistake must not cost the owner.
                return Err(OAuthError::invalid_grant(
                    "the refresh token was issued to another client",
                ));
            }
            if presented.used_at.is_some() && grant.revoked_at.is_none() {
                return Err(reuse(state, &grant).await?);
            }
            if form.scope.is_none()
                || presented.used_at.is_some()
                || grant.revoked_at.is_some()
                || grant.expires_at <= now
                || presented.expires_at <= now
            {
                return Err(OAuthError::invalid_grant(
                    "the refresh token is invalid, expired or revoked",
                ));
            }
            check_scope(&grant.scope, form.scope.as_deref())?;
            match grants::rotate_refresh(&state.store, &hash, &h, &client.id, now).await? {
                Some(g) => g,
                // Presented twice at the same moment (or revoked meanwhile): the other presentation won.
                None => return Err(reuse(state, &grant).await?),
            }
        }
    };
    if !grant.subject_active {
        return Err(OAuthError::invalid_grant(
            "the user or the account is no longer active",
        ));
    }
    let scope = check_scope(&grant.scope, form.scope.as_deref())?;
    let (access, ttl) = access_token(
        state,
        keys,
        client,
        Subject {
            sub: &grant.user_id,
            scope: &scope,
            sid: Some(&grant.id),
            account_id: Some(&grant.account_id),
            act: None,
        },
    )?;
    Ok(TokenResponse {
        access_token: access,
        token_type: "Bearer",
        expires_in: ttl,
        scope,
        refresh_token: Some(t),
        id_token: None,
        issued_token_type: None,
    })
}

fn client_credentials(
    state: &AppState,
    keys: &KeySet,
    client: &ClientRow,
    form: &TokenForm,
) -> Result<TokenResponse, OAuthError> {
    if !client.confidential {
        return Err(OAuthError::unauthorized_client(
            "client credentials need a confidential client",
        ));
    }
    let scope = parse_scope(form.scope.as_deref().unwrap_or(""));
    if let Some(bad) = scope.iter().find(|s| {
        !SCOPES.contains(&s.as_str()) || s.as_str() == "openid" || s.as_str() == "offline_access"
    }) {
        return Err(OAuthError::invalid_scope(format!(
            "scope {bad:?} is not available to a client acting for itself"
        )));
    }
    let scope = scope.join(" ");
    let (access, ttl) = access_token(
        state,
        keys,
        client,
        Subject {
            sub: &client.id,
            scope: &scope,
            sid: None,
            account_id: Some(&client.account_id),
            act: None,
        },
    )?;
    Ok(TokenResponse {
        access_token: access,
        token_type: "Bearer",
        expires_in: ttl,
        scope,
        refresh_token: None,
        id_token: None,
        issued_token_type: None,
    })
}

/// RFC 8693: a linked on-prem server (a confidential client bound to one account, marked for delegation)
/// obtains a token for one of its account's users, while the account holds *Delegated Authentication*.
async fn token_exchange(
    state: &AppState,
    keys: &KeySet,
    client: &ClientRow,
    form: &TokenForm,
) -> Result<TokenResponse, OAuthError> {
    let subject = form
        .subject_token
        .as_deref()
        .filter(|s| !s.is_empty() && s.len() <= 254)
        .ok_or_else(|| OAuthError::invalid_request("subject_token is required"))?;
    let kind = form
        .subject_token_type
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_request("subject_token_type is required"))?;
    if kind != SUBJECT_EMAIL && kind != SUBJECT_USER_ID {
        return Err(OAuthError::invalid_request(format!(
            "subject_token_type must be {SUBJECT_EMAIL} or {SUBJECT_USER_ID}"
        )));
    }
    if form
        .requested_token_type
        .as_deref()
        .is_some_and(|t| t != TOKEN_TYPE_ACCESS)
    {
        return Err(OAuthError::invalid_request(
            "only access tokens can be requested",
        ));
    }
    let account_id = client.account_id.clone();
    if !client.confidential || !client.delegation || client.partner_wide {
        return Err(OAuthError::unauthorized_client(
            "this client is not allowed to act for users",
        ));
    }
    let scope = AccountScope::for_system(account_id.parse().map_err(OAuthError::server_error)?);
    let mut db = state.store.handle().await?;
    let account = accounts::get(&mut db, &scope)
        .await?
        .ok_or_else(|| OAuthError::invalid_client("client authentication failed"))?;
    let user = match kind {
        SUBJECT_USER_ID => match subject.parse() {
            Ok(id) => users::get(&mut db, &scope, id).await?,
            Err(_) => None,
        },
        _ => users::find_by_email(&mut db, subject)
            .await?
            .into_iter()
            .map(|(u, _, _)| u)
            .find(|u| u.account_id == account_id),
    };
    drop(db);
    let now = state.now();
    if !account.delegated_authentication {
        let mut tx = state.store.begin().await?;
        audit(&mut tx, state, refused(&account_id, None, &client.id, "token exchange refused: the account does not have the Delegated Authentication privilege")).await?;
        tx.commit().await?;
        return Err(OAuthError::unauthorized_client(
            "the account does not have the Delegated Authentication privilege",
        ));
    }
    let Some(user) = user.filter(|u| u.active) else {
        return Err(OAuthError::invalid_grant(
            "no active user of this account matches subject_token",
        ));
    };
    // A grant, so that revoking the token, signing the user out everywhere or deactivating them ends it.
    let grant = GrantRow {
        id: Uuid::new_v4().to_string(),
        client_id: client.id.clone(),
        user_id: user.id.clone(),
        account_id: account_id.clone(),
        session_hash: None,
        scope: "openid profile email".into(),
        auth_time: now,
        amr: "delegated".into(),
        created_at: now,
        expires_at: now + state.config.access_token_minutes * 60_000_000,
        revoked_at: None,
        subject_active: true,
    };
    let mut tx = state.store.begin().await?;
    grants::insert(&mut tx, &grant).await?;
    let event = NewEvent::security(
        scope.account_id(),
        Actor::User(user.user_id()?),
        Action::SignIn,
        "Sign-in",
        &user.id,
    )
    .detail("method", "delegated")
    .detail("client_id", client.id.as_str());
    skybridge_store::events::insert(&mut tx, &event, &user.display_name, now).await?;
    tx.commit().await?;
    let (access, ttl) = access_token(
        state,
        keys,
        client,
        Subject {
            sub: &user.id,
            scope: &grant.scope,
            sid: Some(&grant.id),
            account_id: Some(&account_id),
            act: Some(ActClaim {
                sub: client.id.clone(),
            }),
        },
    )?;
    Ok(TokenResponse {
        access_token: access,
        token_type: "Bearer",
        expires_in: ttl,
        scope: grant.scope,
        refresh_token: None,
        id_token: None,
        issued_token_type: Some(TOKEN_TYPE_ACCESS),
    })
}
