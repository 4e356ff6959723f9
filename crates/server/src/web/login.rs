//! The sign-in portal: identity first (the e-mail picks the account; an Account Number is asked for when
//! the address is used in several accounts), then the password; a server-side session in a cookie; sign out
//! here or everywhere. Forms are protected against CSRF (a double-submit cookie before sign-in, the
//! session's token after); password guessing is throttled per address and per client in the store.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::header::{COOKIE, LOCATION, RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use skybridge_domain::account::AccountStatus;
use skybridge_domain::event::{Action, Actor, NewEvent};
use skybridge_domain::policy::AccountScope;
use skybridge_store::sessions::{self, SessionRow, throttle};
use skybridge_store::users::{self, UserRow};
use subtle::ConstantTimeEq;

use super::page::{FormTarget, alert, render};
use crate::auth::{hash_token, new_secret};
use crate::mail::escape_html;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "sb_session";
pub(crate) const CSRF_COOKIE: &str = "sb_csrf";
/// A session ends after this long without use…
pub const IDLE_MICROS: i64 = 30 * 60 * 1_000_000;
/// …and after this long in any case.
pub const ABSOLUTE_MICROS: i64 = 12 * 3600 * 1_000_000;
/// Failures counted within this window.
const WINDOW_MICROS: i64 = 15 * 60 * 1_000_000;
/// Failures allowed before locks start.
const FREE_FAILURES: i64 = 5;

/// Lock after the fifth failure: 30 s, doubling with each further failure, at most 15 minutes.
pub fn lock_for(failures: i64) -> i64 {
    if failures < FREE_FAILURES {
        return 0;
    }
    let secs = (30i64 << (failures - FREE_FAILURES).min(5)).min(900);
    secs * 1_000_000
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", get(login_form).post(login_submit))
        .route("/auth/account", get(account_page))
        .route("/auth/logout", post(logout))
        .route("/auth/password", post(change_password))
}

pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

pub(crate) fn set_cookie(
    state: &AppState,
    name: &str,
    value: &str,
    max_age_secs: i64,
) -> HeaderValue {
    let secure = if state.config.public_url().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let v =
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}");
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// Constant-time string equality, for secrets.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Only local paths are followed after sign-in (no open redirect).
pub(crate) fn safe_return(to: Option<&str>) -> String {
    match to {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                // Browsers drop tabs and newlines from URLs: "/\t/evil.example" would become "//evil.example".
                && !p.chars().any(|c| c.is_control() || c.is_whitespace())
                && p.len() <= 4096 =>
        {
            p.to_string()
        }
        _ => "/console".to_string(),
    }
}

#[derive(Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
    /// An OIDC client's `login_hint`: the e-mail to prefill.
    login_hint: Option<String>,
}

pub(crate) struct Step<'a> {
    pub csrf: &'a str,
    pub return_to: &'a str,
    pub email: Option<&'a str>,
    pub account: Option<&'a str>,
    pub ask_account: bool,
    pub error: Option<&'a str>,
    /// The e-mail to prefill in the first step (an OIDC `login_hint`).
    pub hint: Option<&'a str>,
}

fn login_body(s: &Step<'_>) -> String {
    let hidden = |name: &str, value: &str| {
        format!(
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            escape_html(value)
        )
    };
    let mut form = String::from("<form method=\"post\" action=\"/auth/login\">");
    form.push_str(&hidden("csrf", s.csrf));
    form.push_str(&hidden("return_to", s.return_to));
    form.push_str(&s.error.map(alert).unwrap_or_default());
    match s.email {
        None => {
            form.push_str(&hidden("step", "identify"));
            form.push_str(&format!(
                "<label for=\"email\">Enter your username</label>\
                 <input id=\"email\" name=\"email\" type=\"email\" placeholder=\"Username (name@example.com)\" \
                 autocomplete=\"username\" required autofocus value=\"{}\">\
                 <button type=\"submit\">Next</button>",
                escape_html(s.hint.unwrap_or(""))
            ));
        }
        Some(email) => {
            form.push_str(&hidden("email", email));
            form.push_str(&format!(
                "<p>Signing in as <strong>{}</strong> · <a href=\"/auth/login\">change</a></p>",
                escape_html(email)
            ));
            if s.ask_account {
                form.push_str(&hidden("step", "identify"));
                form.push_str(
                    "<label for=\"account\">Account Number</label>\
                     <p class=\"hint\" id=\"acct-hint\">This address is used in several accounts. Enter the 9-digit number of the one to sign in to.</p>\
                     <input id=\"account\" name=\"account\" inputmode=\"numeric\" pattern=\"[0-9]{9}\" required autofocus aria-describedby=\"acct-hint\">\
                     <button type=\"submit\">Next</button>",
                );
            } else {
                form.push_str(&hidden("step", "password"));
                form.push_str(&hidden("account", s.account.unwrap_or("")));
                form.push_str(
                    "<label for=\"password\">Password</label>\
                     <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required autofocus>\
                     <button type=\"submit\">Sign in</button>\
                     <p><a href=\"/auth/forgot\">Forgot your password?</a></p>",
                );
            }
        }
    }
    form.push_str("</form>");
    form
}

/// Reuses the visitor's CSRF cookie or mints one.
pub(crate) fn csrf_for(headers: &HeaderMap) -> (String, bool) {
    match cookie(headers, CSRF_COOKIE).filter(|c| c.len() == 43) {
        Some(c) => (c, false),
        None => (new_secret(), true),
    }
}

pub(crate) fn page(
    state: &AppState,
    status: StatusCode,
    step: &Step<'_>,
    new_csrf: bool,
) -> Response {
    let mut resp = render(status, "Sign in to Skybridge", &login_body(step));
    if new_csrf {
        resp.headers_mut()
            .append(SET_COOKIE, set_cookie(state, CSRF_COOKIE, step.csrf, 3600));
    }
    resp
}

async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let (csrf, fresh) = csrf_for(&headers);
    let return_to = safe_return(q.return_to.as_deref());
    let hint = q.login_hint.filter(|h| h.len() <= 254);
    let step = Step {
        csrf: &csrf,
        return_to: &return_to,
        email: None,
        account: None,
        ask_account: false,
        error: None,
        hint: hint.as_deref(),
    };
    let resp = page(&state, StatusCode::OK, &step, fresh);
    allow_return(&state, &return_to, resp).await
}

/// Lets the forms of a sign-in page lead on to the application the sign-in returns to (see [`FormTarget`]):
/// when `return_to` is an authorization request, the origin (or, for an app's own scheme, the scheme) of its
/// redirect URI if that is registered for its client.
pub(crate) async fn allow_return(
    state: &AppState,
    return_to: &str,
    mut resp: Response,
) -> Response {
    if let Some(target) = return_target(state, return_to).await {
        resp.extensions_mut().insert(target);
    }
    resp
}

async fn return_target(state: &AppState, return_to: &str) -> Option<FormTarget> {
    let query = return_to
        .strip_prefix(crate::oidc::AUTHORIZE_PATH)?
        .strip_prefix('?')?;
    let params: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let (client_id, redirect_uri) = (param("client_id")?, param("redirect_uri")?);
    if client_id.len() > 100 {
        return None;
    }
    let client = state.clients.get(state, client_id).await.ok()??;
    if !client
        .redirect_uris()
        .ok()?
        .iter()
        .any(|r| r == redirect_uri)
    {
        return None;
    }
    let url = url::Url::parse(redirect_uri).ok()?;
    let source = match url.origin() {
        origin @ url::Origin::Tuple(..) => origin.ascii_serialization(),
        url::Origin::Opaque(_) => format!("{}:", url.scheme()),
    };
    // Registered URIs are validated, but the policy header must not be able to take another directive.
    source
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ":/.-+[]".contains(c))
        .then_some(FormTarget(source))
}

#[derive(Deserialize)]
struct LoginForm {
    csrf: String,
    step: String,
    #[serde(default)]
    return_to: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

/// Users this address can sign in as: active users of active accounts, narrowed by the account number.
fn candidates(found: Vec<users::Candidate>, account: &str) -> Vec<users::Candidate> {
    found
        .into_iter()
        .filter(|c| {
            c.user.active
                && c.account_status == AccountStatus::Active.as_str()
                && (account.trim().is_empty() || account.trim() == c.account_number.to_string())
        })
        .collect()
}

async fn login_submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let return_to = safe_return(Some(&form.return_to));
    let resp = login_step(&state, peer, headers, form, &return_to).await;
    allow_return(&state, &return_to, resp).await
}

async fn login_step(
    state: &AppState,
    peer: SocketAddr,
    headers: HeaderMap,
    form: LoginForm,
    return_to: &str,
) -> Response {
    let state = state.clone();
    let return_to = return_to.to_string();
    let cookie_csrf = cookie(&headers, CSRF_COOKIE).unwrap_or_default();
    if cookie_csrf.is_empty() || !same(&cookie_csrf, &form.csrf) {
        let (csrf, fresh) = csrf_for(&headers);
        let step = Step {
            csrf: &csrf,
            return_to: &return_to,
            email: None,
            account: None,
            ask_account: false,
            error: Some("Your sign-in form expired. Please try again."),
            hint: None,
        };
        return page(&state, StatusCode::FORBIDDEN, &step, fresh);
    }
    let csrf = form.csrf.clone();
    if form.step == "otp" {
        return super::mfa::submit_code(&state, peer, &headers, &csrf, &form.code).await;
    }
    let email = form.email.trim().to_string();
    if email.is_empty() || email.len() > 254 || form.account.len() > 9 || form.password.len() > 1024
    {
        let step = Step {
            csrf: &csrf,
            return_to: &return_to,
            email: None,
            account: None,
            ask_account: false,
            error: Some("Enter the e-mail address you sign in with."),
            hint: None,
        };
        return page(&state, StatusCode::BAD_REQUEST, &step, false);
    }
    let found =
        match async { users::sign_in_candidates(&mut state.store.handle().await?, &email).await }
            .await
        {
            Ok(f) => f,
            Err(e) => return super::links::internal(e),
        };
    let matches = candidates(found, &form.account);
    if form.step == "identify" {
        // Several accounts: ask which. Otherwise (one, or none — said the same way) go on to the password.
        let ask_account = matches.len() > 1;
        let step = Step {
            csrf: &csrf,
            return_to: &return_to,
            email: Some(&email),
            account: Some(&form.account),
            ask_account,
            error: None,
            hint: None,
        };
        return page(&state, StatusCode::OK, &step, false);
    }
    let now = state.now();
    let user_key = format!("user:{}", email.to_lowercase());
    let ip_key = format!("ip:{}", peer.ip());
    let checked = async {
        throttle::check(&mut state.store.handle().await?, [&user_key, &ip_key], now).await
    }
    .await;
    let had_failures = match checked {
        Ok((Some(until), _)) => {
            let secs = (until - now) / 1_000_000 + 1;
            let msg = format!("Too many failed attempts. Try again in {secs} seconds.");
            let step = Step {
                csrf: &csrf,
                return_to: &return_to,
                email: Some(&email),
                account: Some(&form.account),
                ask_account: false,
                error: Some(&msg),
                hint: None,
            };
            let mut resp = page(&state, StatusCode::TOO_MANY_REQUESTS, &step, false);
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(RETRY_AFTER, v);
            }
            return resp;
        }
        Ok((None, had)) => had,
        Err(e) => return super::links::internal(e),
    };
    let candidate = if matches.len() == 1 {
        matches.into_iter().next()
    } else {
        None
    };
    let stored = candidate.as_ref().and_then(|c| c.password_hash.clone());
    let mfa = candidate.as_ref().is_some_and(|c| c.mfa);
    let user = candidate.map(|c| c.user);
    // Always one argon2id verification, against a dummy when there is no user or no password, so a failure
    // takes as long as a success.
    let ok = state
        .hasher
        .verify(&form.password, stored.as_deref())
        .await
        .unwrap_or(false);
    let result = async {
        if let (Some(u), true, false) = (&user, ok, mfa) {
            // The common case: the session, the sign-in event and the cleared counter in one write.
            let (token, row, event) = new_session(u, "pwd", now)?;
            skybridge_store::sessions::open(
                &state.store,
                &row,
                &skybridge_store::events::EventValues::new(&event, &u.display_name, now),
                had_failures.then_some(user_key.as_str()),
            )
            .await?;
            return Ok(Passed::SignedIn(token));
        }
        let mut tx = state.store.begin().await?;
        let outcome = match (&user, ok) {
            (Some(u), true) => {
                if had_failures {
                    throttle::reset(&mut tx, &user_key).await?;
                }
                if mfa {
                    Passed::SecondFactor(super::mfa::challenge(&mut tx, u, &return_to, now).await?)
                } else {
                    Passed::SignedIn(start_session(&mut tx, u, "pwd", now).await?)
                }
            }
            _ => {
                throttle::record_failure(&mut tx, &user_key, now, WINDOW_MICROS, lock_for).await?;
                // A client is allowed more failures than one address: it may be a shared office NAT.
                throttle::record_failure(&mut tx, &ip_key, now, WINDOW_MICROS, |f| lock_for(f / 4))
                    .await?;
                if let Some(u) = &user {
                    audit_failure(&mut tx, u, "wrong password", now).await?;
                }
                Passed::No
            }
        };
        tx.commit().await?;
        Ok::<_, skybridge_store::StoreError>(outcome)
    }
    .await;
    match result {
        Ok(Passed::SignedIn(token)) => signed_in(&state, &return_to, &token),
        Ok(Passed::SecondFactor(token)) => super::mfa::code_page(&state, &csrf, &token, None),
        Ok(Passed::No) => {
            let step = Step {
                csrf: &csrf,
                return_to: &return_to,
                email: Some(&email),
                account: Some(&form.account),
                ask_account: false,
                error: Some("Wrong e-mail or password."),
                hint: None,
            };
            page(&state, StatusCode::UNAUTHORIZED, &step, false)
        }
        Err(e) => super::links::internal(e),
    }
}

enum Passed {
    No,
    /// The session cookie's value.
    SignedIn(String),
    /// The second-factor challenge cookie's value.
    SecondFactor(String),
}

/// The redirect that completes a sign-in, setting the session cookie.
pub(crate) fn signed_in(state: &AppState, return_to: &str, token: &str) -> Response {
    let mut resp = (StatusCode::SEE_OTHER, [(LOCATION, return_to.to_string())]).into_response();
    resp.headers_mut().append(
        SET_COOKIE,
        set_cookie(state, SESSION_COOKIE, token, ABSOLUTE_MICROS / 1_000_000),
    );
    resp
}

/// A new session for `user` authenticated by `amr`: the cookie value, the row, and the sign-in event.
fn new_session(
    user: &UserRow,
    amr: &str,
    now: i64,
) -> Result<(String, SessionRow, NewEvent), skybridge_store::StoreError> {
    let token = new_secret();
    let row = SessionRow {
        id_hash: hash_token(&token),
        user_id: user.id.clone(),
        account_id: user.account_id.clone(),
        csrf: new_secret(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + ABSOLUTE_MICROS,
        amr: amr.to_string(),
    };
    let event = NewEvent::security(
        row.account()?,
        Actor::User(user.user_id()?),
        Action::SignIn,
        "Sign-in",
        &user.id,
    )
    .detail("method", amr);
    Ok((token, row, event))
}

/// Opens a session for `user` authenticated by `amr` within `tx` and records the sign-in. Returns the
/// cookie value.
pub(crate) async fn start_session(
    tx: &mut skybridge_store::Tx,
    user: &UserRow,
    amr: &str,
    now: i64,
) -> Result<String, skybridge_store::StoreError> {
    let (token, row, event) = new_session(user, amr, now)?;
    let scope = AccountScope::for_system(row.account()?);
    sessions::insert(tx, &scope, &row).await?;
    skybridge_store::events::insert(tx, &event, &user.display_name, now).await?;
    Ok(token)
}

/// Records a failed sign-in of a known user in the account's event history.
pub(crate) async fn audit_failure(
    tx: &mut skybridge_store::Tx,
    user: &UserRow,
    reason: &str,
    now: i64,
) -> Result<(), skybridge_store::StoreError> {
    let event = NewEvent::security(
        user.account_id
            .parse()
            .map_err(skybridge_store::StoreError::corrupt)?,
        Actor::User(user.user_id()?),
        Action::SignInFailed,
        "Sign-in",
        &user.id,
    )
    .detail("reason", reason);
    skybridge_store::events::insert(tx, &event, &user.display_name, now).await?;
    Ok(())
}

/// Ends one browser session and the OIDC grants made from it. Returns the cookie that clears it.
pub async fn end_session(
    state: &AppState,
    session: &SessionRow,
) -> Result<HeaderValue, skybridge_store::StoreError> {
    let mut tx = state.store.begin().await?;
    sessions::delete(&mut tx, &session.id_hash).await?;
    skybridge_store::oauth::grants::revoke_for_session(&mut tx, &session.id_hash, state.now())
        .await?;
    tx.commit().await?;
    Ok(set_cookie(state, SESSION_COOKIE, "", 0))
}

/// The signed-in user of a request, from the session cookie.
pub async fn current_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Option<(SessionRow, UserRow)> {
    let token = cookie(headers, SESSION_COOKIE)?;
    let now = state.now();
    let hash = hash_token(&token);
    let mut db = state.store.handle().await.ok()?;
    // Deactivating the account or the user ends the session: the query finds only active ones.
    let (session, user) = sessions::find_live(&mut db, &hash, now, IDLE_MICROS)
        .await
        .ok()??;
    drop(db);
    if session.last_seen_at < now - 60_000_000
        && let Ok(mut tx) = state.store.begin().await
        && sessions::touch(&mut tx, &hash, now).await.is_ok()
    {
        let _ = tx.commit().await;
    }
    Some((session, user))
}

async fn account_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some((session, user)) = current_session(&state, &headers).await else {
        return (
            StatusCode::SEE_OTHER,
            [(LOCATION, "/auth/login?return_to=/auth/account")],
        )
            .into_response();
    };
    let csrf = escape_html(&session.csrf);
    render(
        StatusCode::OK,
        "Signed in",
        &format!(
            "<p>Signed in as <strong>{name}</strong> ({email}).</p>\
             <form method=\"post\" action=\"/auth/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <button type=\"submit\">Sign out</button></form>\
             <form method=\"post\" action=\"/auth/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <input type=\"hidden\" name=\"everywhere\" value=\"1\"><button type=\"submit\">Sign out everywhere</button></form>\
             <p><a href=\"/auth/mfa\">Two-step verification</a></p>\
             <h2>Change your password</h2>\
             <form method=\"post\" action=\"/auth/password\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label for=\"current\">Current password</label>\
             <input id=\"current\" name=\"current\" type=\"password\" autocomplete=\"current-password\" required>\
             <label for=\"password\">New password</label>\
             <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" minlength=\"8\" maxlength=\"128\" required aria-describedby=\"req\">\
             <label for=\"confirm\">Confirm password</label>\
             <input id=\"confirm\" name=\"confirm\" type=\"password\" autocomplete=\"new-password\" minlength=\"8\" maxlength=\"128\" required>\
             <p id=\"req\" class=\"hint\">Password Requirements: Minimum 8 characters</p>\
             <button type=\"submit\">Change password</button></form>",
            name = escape_html(&user.display_name),
            email = escape_html(&user.email),
        ),
    )
}

#[derive(Deserialize)]
struct LogoutForm {
    csrf: String,
    #[serde(default)]
    everywhere: String,
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    let Some((session, user)) = current_session(&state, &headers).await else {
        return (StatusCode::SEE_OTHER, [(LOCATION, "/auth/login")]).into_response();
    };
    if !same(&session.csrf, &form.csrf) {
        return render(
            StatusCode::FORBIDDEN,
            "Not signed out",
            &alert("The form expired. Go back and try again."),
        );
    }
    let result = async {
        let mut tx = state.store.begin().await?;
        if form.everywhere == "1" {
            let scope = AccountScope::for_system(session.account()?);
            sessions::delete_for_user(&mut tx, &scope, user.user_id()?).await?;
            skybridge_store::oauth::grants::revoke_for_user(
                &mut tx,
                &scope,
                user.user_id()?,
                state.now(),
            )
            .await?;
        } else {
            sessions::delete(&mut tx, &session.id_hash).await?;
            skybridge_store::oauth::grants::revoke_for_session(
                &mut tx,
                &session.id_hash,
                state.now(),
            )
            .await?;
        }
        tx.commit().await
    }
    .await;
    if let Err(e) = result {
        return super::links::internal(e);
    }
    let mut resp = (StatusCode::SEE_OTHER, [(LOCATION, "/auth/login")]).into_response();
    resp.headers_mut()
        .append(SET_COOKIE, set_cookie(&state, SESSION_COOKIE, "", 0));
    resp
}

#[derive(Deserialize)]
struct ChangeForm {
    csrf: String,
    current: String,
    password: String,
    confirm: String,
}

/// Changes the signed-in user's password after checking the current one; other sessions end.
async fn change_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<ChangeForm>,
) -> Response {
    let Some((session, user)) = current_session(&state, &headers).await else {
        return (
            StatusCode::SEE_OTHER,
            [(LOCATION, "/auth/login?return_to=/auth/account")],
        )
            .into_response();
    };
    if !same(&session.csrf, &form.csrf) {
        return render(
            StatusCode::FORBIDDEN,
            "Password not changed",
            &alert("The form expired. Go back and try again."),
        );
    }
    let fail = |status: StatusCode, msg: &str| {
        render(
            status,
            "Password not changed",
            &format!("{}<p><a href=\"/auth/account\">Back</a></p>", alert(msg)),
        )
    };
    let (scope, user_id) = match (session.account(), user.user_id()) {
        (Ok(a), Ok(u)) => (AccountScope::for_system(a), u),
        _ => return super::links::internal("corrupt session"),
    };
    let stored = match async {
        users::password_hash(&mut state.store.handle().await?, &scope, user_id).await
    }
    .await
    {
        Ok(h) => h,
        Err(e) => return super::links::internal(e),
    };
    if !state
        .hasher
        .verify(&form.current, stored.as_deref())
        .await
        .unwrap_or(false)
    {
        return fail(StatusCode::UNAUTHORIZED, "The current password is wrong.");
    }
    if form.password != form.confirm {
        return fail(StatusCode::BAD_REQUEST, "The passwords do not match.");
    }
    if let Err(e) = skybridge_identity::password::check_policy(&form.password, &user.email) {
        return fail(StatusCode::BAD_REQUEST, &e.to_string());
    }
    let hash = match state.hasher.hash(&form.password).await {
        Ok(h) => h,
        Err(e) => return super::links::internal(e),
    };
    let now = state.now();
    let result = async {
        let mut tx = state.store.begin().await?;
        users::set_password(&mut tx, &scope, user_id, &hash, now).await?;
        // Other sessions may have been opened with the old password: end them, keep this one.
        sessions::delete_for_user(&mut tx, &scope, user_id).await?;
        sessions::insert(&mut tx, &scope, &session).await?;
        // Applications signed in with the old password must sign in again.
        skybridge_store::oauth::grants::revoke_for_user(&mut tx, &scope, user_id, now).await?;
        let event = skybridge_domain::event::NewEvent::admin(
            scope.account_id(),
            skybridge_domain::event::Actor::User(user_id),
            skybridge_domain::event::Action::Edit,
            "User",
            user_id,
        )
        .changed(["password"])
        .tag("password");
        skybridge_store::events::insert(&mut tx, &event, &user.display_name, now).await?;
        tx.commit().await
    }
    .await;
    match result {
        Ok(()) => render(
            StatusCode::OK,
            "Password changed",
            "<p role=\"status\">Your password has been changed. Other sessions were signed out.</p><p><a href=\"/auth/account\">Back</a></p>",
        ),
        Err(e) => super::links::internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_escalate_and_cap() {
        assert_eq!(lock_for(4), 0);
        assert_eq!(lock_for(5), 30_000_000);
        assert_eq!(lock_for(6), 60_000_000);
        assert_eq!(lock_for(50), 900_000_000);
    }

    #[test]
    fn only_local_returns() {
        assert_eq!(safe_return(Some("/auth/mfa")), "/auth/mfa");
        // Anything else goes to the console, the signed-in user's home.
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil",
            "",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ /evil.example",
        ] {
            assert_eq!(safe_return(Some(bad)), "/console", "{bad}");
        }
    }
}
