//! The authorization endpoint. Errors about the client or its redirect URI are shown to the user (a
//! redirect to an unverified URI would make us an open redirector); every later error goes back to the
//! client's redirect URI, with `state` and `iss`.

use axum::extract::{Form, Query, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use skybridge_identity::pkce;
use skybridge_store::oauth::clients::ClientRow;
use skybridge_store::oauth::codes::{self, CodeRow};

use super::{AUTHORIZE_PATH, GRANT_AUTHORIZATION_CODE, SCOPES, parse_scope};
use crate::auth::{hash_token, new_secret};
use crate::state::AppState;
use crate::web::login::current_session;
use crate::web::page::{alert, render};

/// How long an authorization code may wait to be redeemed.
pub const CODE_MICROS: i64 = 60 * 1_000_000;

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Params {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_challenge_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_hint: Option<String>,
}

pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<Params>,
) -> Response {
    authorize(state, headers, p).await
}

pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(p): Form<Params>,
) -> Response {
    authorize(state, headers, p).await
}

fn refuse(msg: &str) -> Response {
    render(
        StatusCode::BAD_REQUEST,
        "Sign-in request refused",
        &format!(
            "{}<p>The application that sent you here made a request this server cannot accept. \
             Go back to it and try again, or tell its administrator.</p>",
            alert(msg)
        ),
    )
}

/// A redirect back to the client carrying `params`.
fn back_to(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let query = serde_urlencoded::to_string(params).unwrap_or_default();
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    (
        StatusCode::SEE_OTHER,
        [(LOCATION, format!("{redirect_uri}{sep}{query}"))],
    )
        .into_response()
}

struct Back<'a> {
    redirect_uri: &'a str,
    state: Option<&'a str>,
    iss: String,
}

impl Back<'_> {
    fn error(&self, code: &str, description: &str) -> Response {
        let mut p = vec![("error", code), ("error_description", description)];
        if let Some(s) = self.state {
            p.push(("state", s));
        }
        p.push(("iss", &self.iss));
        back_to(self.redirect_uri, &p)
    }
}

async fn authorize(state: AppState, headers: HeaderMap, p: Params) -> Response {
    // 1. The client and the redirect URI, checked before anything is sent back to it.
    let Some(client_id) = p
        .client_id
        .as_deref()
        .filter(|c| !c.is_empty() && c.len() <= 100)
    else {
        return refuse("The request does not name a client (client_id).");
    };
    let client = match state.clients.get(&state, client_id).await {
        Ok(Some(c)) if c.account_active => c,
        Ok(_) => return refuse("The application is not registered here (unknown client_id)."),
        Err(e) => return crate::web::links::internal(e),
    };
    let registered = client.redirect_uris().unwrap_or_default();
    let Some(redirect_uri) = p.redirect_uri.as_deref() else {
        return refuse("The request has no redirect_uri.");
    };
    // Exact string comparison (RFC 9700 §4.1.3): no prefix or pattern matching.
    if !registered.iter().any(|r| r == redirect_uri) {
        return refuse("The redirect_uri is not registered for this application.");
    }
    let back = Back {
        redirect_uri,
        state: p.state.as_deref(),
        iss: state.issuer(),
    };
    // 2. The request itself.
    if p.request.is_some() || p.request_uri.is_some() {
        return back.error("request_not_supported", "request objects are not supported");
    }
    if p.response_type.as_deref() != Some("code") {
        return back.error(
            "unsupported_response_type",
            "only response_type=code is supported",
        );
    }
    if p.response_mode.as_deref().is_some_and(|m| m != "query") {
        return back.error("invalid_request", "only response_mode=query is supported");
    }
    if !client.allows(GRANT_AUTHORIZATION_CODE) {
        return back.error(
            "unauthorized_client",
            "this client may not use the authorization code grant",
        );
    }
    let scopes = parse_scope(p.scope.as_deref().unwrap_or("openid"));
    if let Some(bad) = scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        return back.error("invalid_scope", &format!("unknown scope {bad:?}"));
    }
    match (
        p.code_challenge.as_deref(),
        p.code_challenge_method.as_deref(),
    ) {
        (Some(c), Some("S256")) if pkce::well_formed(c) => {}
        (Some(_), Some("S256")) => {
            return back.error(
                "invalid_request",
                "code_challenge must be 43-128 characters of [A-Za-z0-9-._~]",
            );
        }
        (Some(_), _) => return back.error("invalid_request", "code_challenge_method must be S256"),
        (None, Some(_)) => {
            return back.error(
                "invalid_request",
                "code_challenge_method without code_challenge",
            );
        }
        (None, None) if !client.confidential => {
            return back.error(
                "invalid_request",
                "PKCE (code_challenge with S256) is required for public clients",
            );
        }
        (None, None) => {}
    }
    if p.nonce.as_ref().is_some_and(|n| n.len() > 512)
        || p.state.as_ref().is_some_and(|s| s.len() > 2048)
    {
        return back.error("invalid_request", "nonce or state is too long");
    }
    let prompts: Vec<&str> = p
        .prompt
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(bad) = prompts.iter().find(|s| !matches!(**s, "none" | "login")) {
        return back.error("invalid_request", &format!("prompt={bad} is not supported"));
    }
    if prompts.contains(&"none") && prompts.len() > 1 {
        return back.error("invalid_request", "prompt=none cannot be combined");
    }
    let max_age = match p.max_age.as_deref().map(str::parse::<i64>) {
        None => None,
        Some(Ok(v)) if v >= 0 => Some(v),
        Some(_) => return back.error("invalid_request", "max_age must be a non-negative integer"),
    };
    // 3. Who is signed in.
    let now = state.now();
    let session = current_session(&state, &headers).await;
    let fresh_enough = |created: i64| max_age.is_none_or(|m| now - created <= m * 1_000_000);
    let signed_in = session
        .as_ref()
        .filter(|(s, _)| !prompts.contains(&"login") && fresh_enough(s.created_at));
    let Some((session, user)) = signed_in else {
        if prompts.contains(&"none") {
            return back.error("login_required", "the user is not signed in");
        }
        let mut again = p.clone();
        again.prompt = None;
        again.max_age = None;
        let return_to = format!(
            "{AUTHORIZE_PATH}?{}",
            serde_urlencoded::to_string(&again).unwrap_or_default()
        );
        let mut login = format!(
            "/auth/login?{}",
            serde_urlencoded::to_string([("return_to", return_to.as_str())]).unwrap_or_default()
        );
        if let Some(hint) = p.login_hint.as_deref().filter(|h| h.len() <= 254) {
            login.push('&');
            login
                .push_str(&serde_urlencoded::to_string([("login_hint", hint)]).unwrap_or_default());
        }
        return (StatusCode::SEE_OTHER, [(LOCATION, login)]).into_response();
    };
    match may_sign_in(&state, &client, &user.account_id).await {
        Ok(true) => {}
        Ok(false) => {
            return back.error(
                "access_denied",
                "this application is for the users of another account",
            );
        }
        Err(e) => return crate::web::links::internal(e),
    }
    // 4. The code.
    let code = new_secret();
    let row = CodeRow {
        code_hash: hash_token(&code),
        client_id: client.id.clone(),
        user_id: user.id.clone(),
        account_id: user.account_id.clone(),
        session_hash: Some(session.id_hash.clone()),
        redirect_uri: redirect_uri.to_string(),
        scope: scopes.join(" "),
        nonce: p.nonce.clone(),
        code_challenge: p.code_challenge.clone(),
        auth_time: session.created_at,
        amr: session.amr.clone(),
        expires_at: now + CODE_MICROS,
        used_at: None,
        grant_id: None,
    };
    let saved = codes::insert_now(&state.store, &row).await;
    if let Err(e) = saved {
        return crate::web::links::internal(e);
    }
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = p.state.as_deref() {
        params.push(("state", s));
    }
    params.push(("iss", &back.iss));
    back_to(redirect_uri, &params)
}

/// Whether users of `account_id` may sign in to `client`: its own account's, and for a partner-wide client
/// also those of the partner's customer accounts.
pub async fn may_sign_in(
    state: &AppState,
    client: &ClientRow,
    account_id: &str,
) -> Result<bool, skybridge_store::StoreError> {
    if client.account_id == account_id {
        return Ok(true);
    }
    if !client.partner_wide {
        return Ok(false);
    }
    let Ok(id) = account_id.parse() else {
        return Ok(false);
    };
    let scope = skybridge_domain::policy::AccountScope::for_system(id);
    let account = skybridge_store::accounts::get(&mut state.store.handle().await?, &scope).await?;
    Ok(account.is_some_and(|a| a.partner_id.as_deref() == Some(client.account_id.as_str())))
}

/// Whether `client` could be sent to `uri` after logout.
pub fn may_return_after_logout(client: &ClientRow, uri: &str) -> bool {
    client
        .post_logout_redirect_uris()
        .unwrap_or_default()
        .iter()
        .any(|r| r == uri)
}
