//! The TOTP second factor: the sign-in's step after the password, and the pages where a signed-in user
//! turns it on (scan, confirm with a first code, keep the recovery codes) or off.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{Form, State};
use axum::http::header::{LOCATION, RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use skybridge_domain::event::{Action, Actor, NewEvent};
use skybridge_domain::policy::AccountScope;
use skybridge_identity::totp;
use skybridge_store::mfa::{self, ChallengeRow};
use skybridge_store::sessions::throttle;
use skybridge_store::users::{self, UserRow};
use skybridge_store::{StoreError, Tx};

use super::login::{
    allow_return, audit_failure, cookie, current_session, lock_for, same, set_cookie, signed_in,
    start_session,
};
use super::page::{alert, render};
use crate::auth::{hash_token, new_secret};
use crate::mail::escape_html;
use crate::state::AppState;

const CHALLENGE_COOKIE: &str = "sb_mfa";
/// How long the second step may take after the password was accepted.
const CHALLENGE_MICROS: i64 = 5 * 60 * 1_000_000;
/// Wrong codes allowed per challenge before the sign-in starts over.
const MAX_ATTEMPTS: i64 = 5;
const WINDOW_MICROS: i64 = 15 * 60 * 1_000_000;
/// What the authenticator app shows as the account's issuer.
const ISSUER: &str = "Skybridge";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/mfa", get(status_page))
        .route("/auth/mfa/setup", post(setup))
        .route("/auth/mfa/confirm", post(confirm))
        .route("/auth/mfa/disable", post(disable))
}

fn seed_context(user_id: &str) -> String {
    format!("totp:{user_id}")
}

fn scope_of(user: &UserRow) -> Result<AccountScope, StoreError> {
    Ok(AccountScope::for_system(
        user.account_id.parse().map_err(StoreError::corrupt)?,
    ))
}

/// Records that the password was right and the second factor is pending. Returns the challenge cookie value.
pub async fn challenge(
    tx: &mut Tx,
    user: &UserRow,
    return_to: &str,
    now: i64,
) -> Result<String, StoreError> {
    let token = new_secret();
    mfa::insert_challenge(
        tx,
        &ChallengeRow {
            id_hash: hash_token(&token),
            user_id: user.id.clone(),
            account_id: user.account_id.clone(),
            return_to: return_to.to_string(),
            expires_at: now + CHALLENGE_MICROS,
            attempts: 0,
        },
    )
    .await?;
    Ok(token)
}

/// The code form. `new_challenge` sets the challenge cookie when the step has just begun.
pub fn code_page(
    state: &AppState,
    csrf: &str,
    new_challenge: &str,
    error: Option<(StatusCode, &str)>,
) -> Response {
    let (status, msg) = match error {
        Some((s, m)) => (s, alert(m)),
        None => (StatusCode::OK, String::new()),
    };
    let body = format!(
        "<form method=\"post\" action=\"/auth/login\">{msg}\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"step\" value=\"otp\">\
         <label for=\"code\">Verification code</label>\
         <p class=\"hint\" id=\"code-hint\">Enter the 6-digit code from your authenticator app, or one of your recovery codes.</p>\
         <input id=\"code\" name=\"code\" autocomplete=\"one-time-code\" required autofocus aria-describedby=\"code-hint\" maxlength=\"20\">\
         <button type=\"submit\">Verify</button></form>",
        csrf = escape_html(csrf),
    );
    let mut resp = render(status, "Two-step verification", &body);
    if !new_challenge.is_empty() {
        resp.headers_mut().append(
            SET_COOKIE,
            set_cookie(
                state,
                CHALLENGE_COOKIE,
                new_challenge,
                CHALLENGE_MICROS / 1_000_000,
            ),
        );
    }
    resp
}

fn start_over(status: StatusCode, msg: &str) -> Response {
    render(
        status,
        "Two-step verification",
        &format!(
            "{}<p><a href=\"/auth/login\">Sign in again</a></p>",
            alert(msg)
        ),
    )
}

/// Checks a TOTP or recovery code against the user's factor; a code is accepted once.
async fn check_code(
    state: &AppState,
    tx: &mut Tx,
    user: &UserRow,
    code: &str,
) -> anyhow::Result<bool> {
    let scope = scope_of(user)?;
    let user_id = user.user_id()?;
    let Some(row) = mfa::get(tx, &scope, user_id).await? else {
        return Ok(false);
    };
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
        let seed = state
            .secrets
            .open(&seed_context(&row.user_id), &row.seed_sealed)?;
        let now_secs = u64::try_from(state.now() / 1_000_000).unwrap_or(0);
        let last = row.last_step.and_then(|s| u64::try_from(s).ok());
        return Ok(match totp::verify(&seed, &digits, now_secs, last) {
            Some(step) => {
                mfa::accept_step(tx, &scope, user_id, i64::try_from(step)?, state.now()).await?
            }
            None => false,
        });
    }
    if row.enabled_at.is_none() {
        return Ok(false);
    }
    let hash = state
        .secrets
        .keyed_hash("recovery", &totp::normalize_recovery(code));
    Ok(mfa::use_recovery(tx, &scope, user_id, &hash).await?)
}

/// The throttle keys of second-factor failures: per user and per client address. They differ from the
/// password step's keys, so a right password never clears them.
fn second_factor_keys(user: &UserRow, peer: SocketAddr) -> (String, String) {
    (
        format!("otp:user:{}", user.id),
        format!("otp:ip:{}", peer.ip()),
    )
}

/// The second step of the sign-in: `code` (a TOTP or a recovery code) for the challenge in the cookie.
pub async fn submit_code(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    csrf: &str,
    code: &str,
) -> Response {
    let Some(token) = cookie(headers, CHALLENGE_COOKIE) else {
        return start_over(
            StatusCode::BAD_REQUEST,
            "Your sign-in expired. Please start again.",
        );
    };
    let hash = hash_token(&token);
    let now = state.now();
    let result = async {
        let mut db = state.store.handle().await?;
        let Some(ch) = mfa::challenge(&mut db, &hash, now).await? else {
            return Ok::<_, anyhow::Error>(Outcome::Expired);
        };
        let scope = AccountScope::for_system(ch.account_id.parse()?);
        let user = users::get(&mut db, &scope, ch.user_id.parse()?).await?;
        let Some(user) = user.filter(|u| u.active) else {
            return Ok(Outcome::Expired);
        };
        // Counted apart from the password's counters, which a right password clears: otherwise whoever knows
        // the password could guess codes without end, a few per challenge.
        let (user_key, ip_key) = second_factor_keys(&user, peer);
        if let (Some(until), _) = throttle::check(&mut db, [&user_key, &ip_key], now).await? {
            return Ok(Outcome::Locked((until - now) / 1_000_000 + 1));
        }
        drop(db);
        let mut tx = state.store.begin().await?;
        if code.len() <= 20 && check_code(state, &mut tx, &user, code).await? {
            mfa::delete_challenge(&mut tx, &hash).await?;
            // Both factors were right: the user's code counter starts over (the client's does not).
            throttle::reset(&mut tx, &user_key).await?;
            let session = start_session(&mut tx, &user, "pwd otp", now).await?;
            tx.commit().await?;
            return Ok(Outcome::Done(session, ch.return_to));
        }
        let attempts = mfa::challenge_failed(&mut tx, &hash).await?;
        throttle::record_failure(&mut tx, &user_key, now, WINDOW_MICROS, lock_for).await?;
        // A client is allowed more failures than one user: it may be a shared office NAT.
        throttle::record_failure(&mut tx, &ip_key, now, WINDOW_MICROS, |f| lock_for(f / 4)).await?;
        audit_failure(&mut tx, &user, "wrong verification code", now).await?;
        if attempts >= MAX_ATTEMPTS {
            mfa::delete_challenge(&mut tx, &hash).await?;
            tx.commit().await?;
            return Ok(Outcome::Expired);
        }
        tx.commit().await?;
        Ok(Outcome::Wrong(ch.return_to))
    }
    .await;
    match result {
        Ok(Outcome::Done(session, return_to)) => {
            let mut resp = signed_in(state, &return_to, &session);
            resp.headers_mut()
                .append(SET_COOKIE, set_cookie(state, CHALLENGE_COOKIE, "", 0));
            resp
        }
        Ok(Outcome::Wrong(return_to)) => {
            let page = code_page(
                state,
                csrf,
                "",
                Some((
                    StatusCode::UNAUTHORIZED,
                    "That code is not right. Try the current code.",
                )),
            );
            allow_return(state, &return_to, page).await
        }
        Ok(Outcome::Locked(secs)) => {
            let mut resp = start_over(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("Too many failed attempts. Try again in {secs} seconds."),
            );
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(RETRY_AFTER, v);
            }
            resp
        }
        Ok(Outcome::Expired) => start_over(
            StatusCode::BAD_REQUEST,
            "Your sign-in expired. Please start again.",
        ),
        Err(e) => super::links::internal(e),
    }
}

enum Outcome {
    Done(String, String),
    /// With the challenge's return address.
    Wrong(String),
    Locked(i64),
    Expired,
}

fn to_login() -> Response {
    (
        StatusCode::SEE_OTHER,
        [(LOCATION, "/auth/login?return_to=/auth/mfa")],
    )
        .into_response()
}

fn csrf_field(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape_html(csrf)
    )
}

async fn status_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some((session, user)) = current_session(&state, &headers).await else {
        return to_login();
    };
    let row = match async {
        mfa::get(
            &mut state.store.handle().await?,
            &scope_of(&user)?,
            user.user_id()?,
        )
        .await
    }
    .await
    {
        Ok(r) => r,
        Err(e) => return super::links::internal(e),
    };
    let csrf = csrf_field(&session.csrf);
    let body = match row.filter(|r| r.enabled_at.is_some()) {
        Some(r) => format!(
            "<p role=\"status\">Two-step verification is <strong>on</strong>. {} recovery codes are left.</p>\
             <h2>Turn it off</h2><form method=\"post\" action=\"/auth/mfa/disable\">{csrf}\
             <label for=\"current\">Current password</label>\
             <input id=\"current\" name=\"current\" type=\"password\" autocomplete=\"current-password\" required>\
             <button type=\"submit\">Turn off two-step verification</button></form>",
            r.recovery_hashes().map(|h| h.len()).unwrap_or(0)
        ),
        None => format!(
            "<p>Two-step verification is <strong>off</strong>. With it on, signing in also asks for a code from an \
             authenticator app on your phone.</p>\
             <form method=\"post\" action=\"/auth/mfa/setup\">{csrf}<button type=\"submit\">Set up an authenticator app</button></form>"
        ),
    };
    render(
        StatusCode::OK,
        "Two-step verification",
        &format!("{body}<p><a href=\"/auth/account\">Back</a></p>"),
    )
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    current: String,
}

fn expired_form() -> Response {
    render(
        StatusCode::FORBIDDEN,
        "Two-step verification",
        &alert("The form expired. Go back and try again."),
    )
}

async fn setup(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let Some((session, user)) = current_session(&state, &headers).await else {
        return to_login();
    };
    if !same(&session.csrf, &form.csrf) {
        return expired_form();
    }
    let seed = totp::new_seed();
    let result = async {
        let scope = scope_of(&user)?;
        let user_id = user.user_id()?;
        let mut tx = state.store.begin().await?;
        if mfa::get(&mut tx, &scope, user_id)
            .await?
            .is_some_and(|r| r.enabled_at.is_some())
        {
            return Ok::<_, anyhow::Error>(None);
        }
        let sealed = state.secrets.seal(&seed_context(&user.id), &seed);
        mfa::begin(&mut tx, &scope, user_id, &sealed, &[]).await?;
        tx.commit().await?;
        let uri = totp::otpauth_uri(&seed, ISSUER, &user.email)?;
        Ok(Some((totp::qr_svg(&uri)?, uri)))
    }
    .await;
    let (svg, uri) = match result {
        Ok(Some(v)) => v,
        Ok(None) => {
            return render(
                StatusCode::CONFLICT,
                "Two-step verification",
                &format!(
                    "{}<p><a href=\"/auth/mfa\">Back</a></p>",
                    alert("Two-step verification is already on; turn it off first.")
                ),
            );
        }
        Err(e) => return super::links::internal(e),
    };
    let body = format!(
        "<p>Scan this code with your authenticator app, then enter the 6-digit code it shows.</p>\
         <div role=\"img\" aria-label=\"QR code of the authenticator set-up link\">{svg}</div>\
         <p class=\"hint\">Cannot scan? Enter this key by hand: <code>{key}</code></p>\
         <p class=\"hint\"><a href=\"{uri}\">Open in an authenticator app on this device</a></p>\
         <form method=\"post\" action=\"/auth/mfa/confirm\">{csrf}\
         <label for=\"code\">Verification code</label>\
         <input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9 ]{{6,7}}\" required autofocus>\
         <button type=\"submit\">Turn on</button></form>",
        svg = svg
            .trim_start_matches(|c| c != '<')
            .splitn(2, "?>")
            .last()
            .unwrap_or(""),
        key = escape_html(&totp::seed_base32(&seed)),
        uri = escape_html(&uri),
        csrf = csrf_field(&session.csrf),
    );
    render(StatusCode::OK, "Set up two-step verification", &body)
}

async fn confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let Some((session, user)) = current_session(&state, &headers).await else {
        return to_login();
    };
    if !same(&session.csrf, &form.csrf) {
        return expired_form();
    }
    let now = state.now();
    let result = async {
        let scope = scope_of(&user)?;
        let user_id = user.user_id()?;
        let mut tx = state.store.begin().await?;
        match mfa::get(&mut tx, &scope, user_id).await? {
            Some(r) if r.enabled_at.is_none() => {}
            _ => return Ok::<_, anyhow::Error>(None),
        }
        if !check_code(&state, &mut tx, &user, &form.code).await? {
            return Ok(Some(Vec::new()));
        }
        let codes = totp::new_recovery_codes();
        let hashes: Vec<String> = codes
            .iter()
            .map(|c| {
                state
                    .secrets
                    .keyed_hash("recovery", &totp::normalize_recovery(c))
            })
            .collect();
        mfa::set_recovery(&mut tx, &scope, user_id, &hashes).await?;
        let event = NewEvent::security(
            scope.account_id(),
            Actor::User(user_id),
            Action::Edit,
            "MFA",
            user_id,
        )
        .changed(["mfa"])
        .detail("mfa", "enabled");
        skybridge_store::events::insert(&mut tx, &event, &user.display_name, now).await?;
        tx.commit().await?;
        Ok(Some(codes))
    }
    .await;
    match result {
        Ok(None) => (StatusCode::SEE_OTHER, [(LOCATION, "/auth/mfa")]).into_response(),
        Ok(Some(codes)) if codes.is_empty() => render(
            StatusCode::BAD_REQUEST,
            "Set up two-step verification",
            &format!(
                "{}<form method=\"post\" action=\"/auth/mfa/setup\">{}<button type=\"submit\">Start again</button></form>",
                alert("That code is not right. Check the time on your phone and start again."),
                csrf_field(&session.csrf)
            ),
        ),
        Ok(Some(codes)) => {
            let list: String = codes
                .iter()
                .map(|c| format!("<li><code>{}</code></li>", escape_html(c)))
                .collect();
            render(
                StatusCode::OK,
                "Two-step verification is on",
                &format!(
                    "<p role=\"status\">From now on, signing in asks for a code from your app.</p>\
                     <h2>Recovery codes</h2><p>Keep these somewhere safe. Each works once if you lose your phone. \
                     They are shown only now.</p><ul>{list}</ul><p><a href=\"/auth/account\">Done</a></p>"
                ),
            )
        }
        Err(e) => super::links::internal(e),
    }
}

async fn disable(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let Some((session, user)) = current_session(&state, &headers).await else {
        return to_login();
    };
    if !same(&session.csrf, &form.csrf) {
        return expired_form();
    }
    let result = async {
        let scope = scope_of(&user)?;
        let user_id = user.user_id()?;
        let stored =
            users::password_hash(&mut state.store.handle().await?, &scope, user_id).await?;
        if !state
            .hasher
            .verify(&form.current, stored.as_deref())
            .await
            .unwrap_or(false)
        {
            return Ok::<_, anyhow::Error>(false);
        }
        let mut tx = state.store.begin().await?;
        if mfa::remove(&mut tx, &scope, user_id).await? {
            let event = NewEvent::security(
                scope.account_id(),
                Actor::User(user_id),
                Action::Edit,
                "MFA",
                user_id,
            )
            .changed(["mfa"])
            .detail("mfa", "disabled");
            skybridge_store::events::insert(&mut tx, &event, &user.display_name, state.now())
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }
    .await;
    match result {
        Ok(true) => (StatusCode::SEE_OTHER, [(LOCATION, "/auth/mfa")]).into_response(),
        Ok(false) => render(
            StatusCode::UNAUTHORIZED,
            "Two-step verification",
            &format!(
                "{}<p><a href=\"/auth/mfa\">Back</a></p>",
                alert("The current password is wrong.")
            ),
        ),
        Err(e) => super::links::internal(e),
    }
}
