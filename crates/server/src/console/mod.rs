//! The administration console at `/console`: server-rendered pages (askama templates checked at compile
//! time), plain forms that work without JavaScript, and htmx (vendored, served from the binary) for
//! search-as-you-type and partial updates. Every action goes through the admin API's handlers, so the console
//! and the API share validation, the policy and the audit trail.
// A handler's error is a rendered page (an axum Response), by design the size of any response.
#![allow(clippy::result_large_err)]

pub mod accounts;
pub mod dashboard;
pub mod events;
pub mod form;
pub mod imports;
pub mod integrations;
pub mod managers;
pub mod notifications;
pub mod outbox;
pub mod preferences;
pub mod roles;
pub mod session;
pub mod shell;
pub mod users;

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::error::ApiError;
use crate::state::AppState;

use session::Console;
use shell::{Section, Shell};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(dashboard::page))
        .route("/console/", get(|| async { Redirect::to("/console") }))
        .route("/console/static/{file}", get(asset))
        .merge(accounts::router())
        .merge(users::router())
        .merge(imports::router())
        .merge(outbox::router())
        .merge(notifications::router())
        .merge(roles::router())
        .merge(managers::router())
        .merge(integrations::router())
        .merge(events::router())
}

/// The console's Content-Security-Policy: scripts and styles only from our own files (no inline code, no
/// eval: htmx is configured with `allowEval: false`), nothing framed, forms only back to us.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn secure(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// A rendered page.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => secure(
            (
                status,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                html,
            )
                .into_response(),
        ),
        Err(e) => {
            tracing::error!(error = %e, "console template failed");
            secure(
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the page could not be rendered",
                )
                    .into_response(),
            )
        }
    }
}

pub fn ok(page: &impl Template) -> Response {
    render(StatusCode::OK, page)
}

/// After a successful POST: back to a page (303, so a reload does not repeat the action).
pub fn see_other(to: &str) -> Response {
    secure(Redirect::to(to).into_response())
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage {
    shell: Shell,
    heading: &'static str,
    message: String,
}

/// The page for an error no form can show next to a field: not found, not allowed, a conflict, a failure.
pub fn fail(console: Option<&Console>, err: ApiError) -> Response {
    let (status, heading, message) = match &err {
        ApiError::NotFound(what) => (
            StatusCode::NOT_FOUND,
            "Not found",
            format!("This {what} does not exist, or it is not yours to see."),
        ),
        ApiError::Forbidden(why) => (
            StatusCode::FORBIDDEN,
            "Not allowed",
            format!("You are not allowed to do this: {why}."),
        ),
        ApiError::Unauthorized(why) => (
            StatusCode::UNAUTHORIZED,
            "Signed out",
            format!("Sign in again: {why}."),
        ),
        ApiError::TooManyRequests(s) => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests",
            format!("Try again in {s} seconds."),
        ),
        ApiError::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Temporarily unavailable",
            format!(
                "The service cannot reach its database. Nothing was changed; try again in {} seconds.",
                crate::error::RETRY_AFTER_SECS
            ),
        ),
        ApiError::Internal(e) if crate::error::is_outage(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Temporarily unavailable",
            format!(
                "The service cannot reach its database. Nothing was changed; try again in {} seconds.",
                crate::error::RETRY_AFTER_SECS
            ),
        ),
        ApiError::Internal(e) => {
            tracing::error!(error = %e, "console request failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The server could not complete this request. Nothing was changed; try again."
                    .into(),
            )
        }
        other => (other.status(), "This cannot be done", other.to_string()),
    };
    let shell = match console {
        Some(c) => Shell::new(c, heading, Section::Dashboard, None),
        None => Shell::bare(heading),
    };
    let mut resp = render(
        status,
        &ErrorPage {
            shell,
            heading,
            message,
        },
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(crate::error::RETRY_AFTER_SECS),
        );
    }
    resp
}

/// The result of a console handler: a page, or the error page.
pub type Page = Result<Response, Response>;

/// Turns an API error into the console's error page.
pub fn or_fail<T>(console: &Console, r: Result<T, ApiError>) -> Result<T, Response> {
    r.map_err(|e| fail(Some(console), e))
}

const HTMX: &[u8] = include_bytes!("../../assets/htmx-2.0.8.min.js");
const CSS: &str = include_str!("../../assets/console.css");
const JS: &str = include_str!("../../assets/console.js");

async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let (body, kind, cache): (&[u8], &str, &str) = match file.as_str() {
        // Versioned in its name: cached for good.
        "htmx-2.0.8.min.js" => (
            HTMX,
            "text/javascript; charset=utf-8",
            "public, max-age=31536000, immutable",
        ),
        "console.css" => (CSS.as_bytes(), "text/css; charset=utf-8", "no-cache"),
        "console.js" => (JS.as_bytes(), "text/javascript; charset=utf-8", "no-cache"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, cache),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}
