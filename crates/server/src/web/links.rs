//! The pages one-time links lead to: finishing registration from the welcome mail, resetting a password,
//! and asking for a reset. The secret in the link is the authority, so these forms need no session; the
//! request for a reset carries the sign-in pages' CSRF token and is rate-limited per address and per client.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use skybridge_domain::account::AccountStatus;
use skybridge_domain::event::{Action, Actor, NewEvent};
use skybridge_domain::policy::AccountScope;
use skybridge_identity::password::check_policy;
use skybridge_store::links::{self, Purpose};
use skybridge_store::sessions::throttle;
use skybridge_store::{events, users};

use super::login::{CSRF_COOKIE, cookie, csrf_for, same, set_cookie};
use super::page::{alert, render};
use crate::auth::hash_token;
use crate::mail::{Recipient, enqueue_link_mail, escape_html};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/welcome", get(welcome_form).post(welcome_submit))
        .route("/auth/reset", get(reset_form).post(reset_submit))
        .route("/auth/forgot", get(forgot_form).post(forgot_submit))
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

#[derive(Deserialize)]
struct PasswordForm {
    token: String,
    password: String,
    confirm: String,
}

fn expired(purpose: Purpose) -> Response {
    let (title, again) = match purpose {
        Purpose::Welcome => (
            "Link expired",
            "Ask your administrator to send a new welcome mail.",
        ),
        Purpose::Reset => (
            "Link expired",
            "<a href=\"/auth/forgot\">Ask for a new reset link.</a>",
        ),
    };
    render(
        StatusCode::GONE,
        title,
        &format!(
            "{}<p>{again}</p>",
            alert("This link has expired or has already been used.")
        ),
    )
}

fn password_form(purpose: Purpose, token: &str, name: &str, error: Option<&str>) -> String {
    let intro = match purpose {
        Purpose::Welcome => "Enter your new password below.",
        Purpose::Reset => "Choose a new password.",
    };
    let action = match purpose {
        Purpose::Welcome => "/auth/welcome",
        Purpose::Reset => "/auth/reset",
    };
    let button = match purpose {
        Purpose::Welcome => "Complete",
        Purpose::Reset => "Reset Password",
    };
    format!(
        "<p><strong>{name}</strong></p><p>{intro}</p>{error}\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <label for=\"password\">New password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" minlength=\"8\" maxlength=\"128\" required autofocus aria-describedby=\"req\">\
         <label for=\"confirm\">Confirm password</label>\
         <input id=\"confirm\" name=\"confirm\" type=\"password\" autocomplete=\"new-password\" minlength=\"8\" maxlength=\"128\" required>\
         <p id=\"req\" class=\"hint\">Password Requirements: Minimum 8 characters</p>\
         <button type=\"submit\">{button}</button></form>",
        name = escape_html(name),
        error = error.map(alert).unwrap_or_default(),
        token = escape_html(token),
    )
}

async fn show(state: &AppState, purpose: Purpose, token: Option<String>) -> Response {
    let Some(token) = token.filter(|t| !t.is_empty() && t.len() < 200) else {
        return expired(purpose);
    };
    let now = state.now();
    let found = async {
        let mut db = state.store.handle().await?;
        let Some(link) = links::peek(&mut db, &hash_token(&token), now).await? else {
            return Ok(None);
        };
        if link.purpose != purpose.as_str() {
            return Ok(None);
        }
        users::get(
            &mut db,
            &AccountScope::for_system(link.account_id),
            link.user_id,
        )
        .await
    }
    .await;
    match found {
        Ok(Some(user)) => {
            let title = if purpose == Purpose::Welcome {
                "Confirm your account"
            } else {
                "Reset Password"
            };
            render(
                StatusCode::OK,
                title,
                &password_form(purpose, &token, &user.display_name, None),
            )
        }
        Ok(None) => expired(purpose),
        Err(e) => internal(e),
    }
}

/// The page for a request that failed on our side. A database that cannot be reached is a 503 with
/// `Retry-After`, as on the API, not a 500: the person can retry once it is back.
pub(crate) fn internal<E: std::fmt::Display + 'static>(e: E) -> Response {
    let any = &e as &dyn std::any::Any;
    let outage = any
        .downcast_ref::<skybridge_store::StoreError>()
        .is_some_and(skybridge_store::StoreError::is_unavailable)
        || any
            .downcast_ref::<anyhow::Error>()
            .is_some_and(crate::error::is_outage);
    if outage {
        tracing::warn!(error = %e, "database unavailable");
        let mut resp = render(
            StatusCode::SERVICE_UNAVAILABLE,
            "Temporarily unavailable",
            &alert("The service is briefly unavailable. Please try again in a few seconds."),
        );
        resp.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(crate::error::RETRY_AFTER_SECS),
        );
        return resp;
    }
    tracing::error!(error = %e, "page failed");
    render(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        &alert("Please try again in a moment."),
    )
}

async fn submit(state: &AppState, purpose: Purpose, form: PasswordForm) -> Response {
    let now = state.now();
    let hash = hash_token(&form.token);
    let user = async {
        let mut db = state.store.handle().await?;
        let Some(link) = links::peek(&mut db, &hash, now).await? else {
            return Ok(None);
        };
        if link.purpose != purpose.as_str() {
            return Ok(None);
        }
        users::get(
            &mut db,
            &AccountScope::for_system(link.account_id),
            link.user_id,
        )
        .await
    }
    .await;
    let user = match user {
        Ok(Some(u)) => u,
        Ok(None) => return expired(purpose),
        Err(e) => return internal(e),
    };
    let title = if purpose == Purpose::Welcome {
        "Confirm your account"
    } else {
        "Reset Password"
    };
    let problem = if form.password != form.confirm {
        Some("The passwords do not match.".to_string())
    } else {
        check_policy(&form.password, &user.email)
            .err()
            .map(|e| e.to_string())
    };
    if let Some(problem) = problem {
        return render(
            StatusCode::BAD_REQUEST,
            title,
            &password_form(purpose, &form.token, &user.display_name, Some(&problem)),
        );
    }
    let password_hash = match state.hasher.hash(&form.password).await {
        Ok(h) => h,
        Err(e) => return internal(e),
    };
    let done = async {
        let mut tx = state.store.begin().await?;
        // Using the link and setting the password happen together or not at all.
        let Some(link) = links::consume(&mut tx, &hash, now).await? else {
            return Ok::<_, skybridge_store::StoreError>(false);
        };
        let scope = AccountScope::for_system(link.account_id);
        users::set_password(&mut tx, &scope, link.user_id, &password_hash, now).await?;
        // Whoever knew the old password is signed out, browsers and applications alike.
        skybridge_store::sessions::delete_for_user(&mut tx, &scope, link.user_id).await?;
        skybridge_store::oauth::grants::revoke_for_user(&mut tx, &scope, link.user_id, now).await?;
        let event = NewEvent::admin(
            link.account_id,
            Actor::User(link.user_id),
            Action::Edit,
            "User",
            link.user_id,
        )
        .changed(if purpose == Purpose::Welcome {
            vec!["password", "registered"]
        } else {
            vec!["password"]
        })
        .detail("fullname", user.display_name.clone())
        .tag(if purpose == Purpose::Welcome {
            "registration"
        } else {
            "password_reset"
        });
        events::insert(&mut tx, &event, &user.display_name, now).await?;
        tx.commit().await?;
        Ok(true)
    }
    .await;
    match done {
        Ok(true) => {
            let msg = if purpose == Purpose::Welcome {
                "Your account is ready. You can now sign in with your e-mail address and this password."
            } else {
                "Your password has been changed. You can now sign in with it."
            };
            render(
                StatusCode::OK,
                if purpose == Purpose::Welcome {
                    "Account confirmed"
                } else {
                    "Password changed"
                },
                &format!("<p role=\"status\">{msg}</p>"),
            )
        }
        Ok(false) => expired(purpose),
        Err(e) => internal(e),
    }
}

async fn welcome_form(State(state): State<AppState>, Query(q): Query<TokenQuery>) -> Response {
    show(&state, Purpose::Welcome, q.token).await
}

async fn welcome_submit(State(state): State<AppState>, Form(form): Form<PasswordForm>) -> Response {
    submit(&state, Purpose::Welcome, form).await
}

async fn reset_form(State(state): State<AppState>, Query(q): Query<TokenQuery>) -> Response {
    show(&state, Purpose::Reset, q.token).await
}

async fn reset_submit(State(state): State<AppState>, Form(form): Form<PasswordForm>) -> Response {
    submit(&state, Purpose::Reset, form).await
}

/// Password-reset requests are counted per address and per client within this window…
pub(crate) const FORGOT_WINDOW_MICROS: i64 = 3600 * 1_000_000;
/// …and a mail goes out for at most this many requests for one address…
const FORGOT_PER_ADDRESS: i64 = 3;
/// …and for at most this many requests from one client (more: it may be an office behind one NAT).
const FORGOT_PER_CLIENT: i64 = 20;

fn forgot_page(csrf: &str, error: Option<&str>) -> String {
    format!(
        "<p>Enter the e-mail address you sign in with. We will send you a link to choose a new password.</p>{error}\
         <form method=\"post\" action=\"/auth/forgot\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"email\">Username (name@example.com)</label>\
         <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required autofocus>\
         <label for=\"account\">Account Number <span class=\"hint\">(only if your address is used in several accounts)</span></label>\
         <input id=\"account\" name=\"account\" inputmode=\"numeric\" pattern=\"[0-9]{{9}}\">\
         <button type=\"submit\">Send link</button></form>",
        error = error.map(alert).unwrap_or_default(),
        csrf = escape_html(csrf),
    )
}

/// The form, with the double-submit CSRF token of the sign-in pages (the cookie is set when new).
fn forgot_response(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let (csrf, fresh) = csrf_for(headers);
    let mut resp = render(status, "Forgot your password?", &forgot_page(&csrf, error));
    if fresh {
        resp.headers_mut()
            .append(SET_COOKIE, set_cookie(state, CSRF_COOKIE, &csrf, 3600));
    }
    resp
}

async fn forgot_form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    forgot_response(&state, &headers, StatusCode::OK, None)
}

#[derive(Deserialize)]
struct ForgotForm {
    #[serde(default)]
    csrf: String,
    email: String,
    #[serde(default)]
    account: String,
}

async fn forgot_submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<ForgotForm>,
) -> Response {
    let cookie_csrf = cookie(&headers, CSRF_COOKIE).unwrap_or_default();
    if cookie_csrf.is_empty() || !same(&cookie_csrf, &form.csrf) {
        return forgot_response(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            Some("The form expired. Please try again."),
        );
    }
    if form.email.len() > 254 || form.account.len() > 9 {
        return forgot_response(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            Some("That does not look like an e-mail address."),
        );
    }
    let email = form.email.trim().to_string();
    let account = form.account.trim().to_string();
    let now = state.now();
    // Up to the answer every request does the same work, known address or not, within the limit or not: two
    // counters, so neither the timing nor the limit tells whether an address is known.
    let allowed = async {
        let mut tx = state.store.begin().await?;
        let per_address = throttle::hit(
            &mut tx,
            &format!("forgot:email:{}", email.to_lowercase()),
            now,
            FORGOT_WINDOW_MICROS,
        )
        .await?;
        let per_client = throttle::hit(
            &mut tx,
            &format!("forgot:ip:{}", peer.ip()),
            now,
            FORGOT_WINDOW_MICROS,
        )
        .await?;
        tx.commit().await?;
        Ok::<_, skybridge_store::StoreError>(
            per_address <= FORGOT_PER_ADDRESS && per_client <= FORGOT_PER_CLIENT,
        )
    }
    .await;
    match allowed {
        Ok(true) => {
            // Looking the address up and queuing the mail happen after the answer.
            let deferred = state.clone();
            state.deferred.spawn(async move {
                if let Err(e) = send_reset(&deferred, &email, &account, now).await {
                    tracing::error!(error = %e, "queuing a password-reset mail failed");
                }
            });
        }
        Ok(false) => tracing::info!("password-reset request over the limit; no mail"),
        Err(e) => return internal(e),
    }
    render(
        StatusCode::OK,
        "Check your mail",
        "<p role=\"status\">If an account uses this address, a link to reset its password is on its way. \
         If your address is used in several accounts, enter your Account Number too.</p>",
    )
}

/// Queues the reset mail when exactly one active user of an active account signs in with `email` (narrowed by
/// the Account Number); none or an ambiguous address gets nothing, and the requester is told the same.
async fn send_reset(
    state: &AppState,
    email: &str,
    account: &str,
    now: i64,
) -> skybridge_store::Result<()> {
    let mut tx = state.store.begin().await?;
    let found = users::find_by_email(&mut tx, email).await?;
    let candidates: Vec<_> = found
        .into_iter()
        .filter(|(u, number, status)| {
            u.active
                && status == AccountStatus::Active.as_str()
                && (account.is_empty() || account == number.to_string())
        })
        .collect();
    let [(user, _, _)] = candidates.as_slice() else {
        return Ok(());
    };
    let account_id = user
        .account_id
        .parse()
        .map_err(skybridge_store::StoreError::corrupt)?;
    let user_id = user.user_id()?;
    let to = Recipient {
        account_id,
        user_id,
        name: &user.display_name,
        email: &user.email,
    };
    enqueue_link_mail(&mut tx, &state.config, now, Purpose::Reset, &to).await?;
    let event = NewEvent::admin(
        account_id,
        Actor::User(user_id),
        Action::Edit,
        "User",
        user_id,
    )
    .changed(["reset_mail"])
    .tag("reset_mail");
    events::insert(&mut tx, &event, &user.display_name, now).await?;
    tx.commit().await?;
    state.mail.wake();
    Ok(())
}
