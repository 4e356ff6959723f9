//! The SCIM 2.0 endpoint of each customer account, `/scim/v2/{account_id}/…`, as Microsoft Entra ID's
//! provisioning service and strict RFC 7644 clients call it.
//!
//! One catch-all route takes every request under `/scim/v2/`: the path is percent-decoded and checked segment
//! by segment *before* anything else, so no encoding of a path (`%55sers`, `%2e%2e`, doubled slashes) can reach
//! a resource by a route the authentication did not see. Then the account's secret token is checked, the
//! account's rate limit applied, and the request dispatched by hand.

mod discovery;
mod groups;
mod limiter;
mod mapping;
mod query;
mod reply;
mod users;

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::Method;
use axum::http::header::AUTHORIZATION;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use skybridge_domain::AccountId;
use skybridge_domain::policy::AccountScope;
use skybridge_scim::{ResourceKind, ScimError};
use subtle::ConstantTimeEq;

pub use limiter::AccountLimiter;
use reply::Fail;

use crate::state::AppState;

pub const PREFIX: &str = "/scim/v2";

/// Longest path we look at; anything longer is not a SCIM URL of ours.
const MAX_PATH: usize = 2048;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/scim/v2", any(handle))
        .route("/scim/v2/", any(handle))
        .route("/scim/v2/{*rest}", any(handle))
}

/// A SCIM error as the endpoint answers it (`application/scim+json`), for checks that run before it.
pub fn error_response(e: ScimError) -> Response {
    Fail::Scim(e).into_response()
}

/// What a request resolved to once authenticated.
pub(crate) struct Tenant {
    pub scope: AccountScope,
    pub account: AccountId,
    /// `{public_url}/scim/v2/{account}`: the base of `meta.location` and `$ref`.
    pub base: String,
}

async fn handle(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    match serve(&state, peer, req).await {
        Ok(r) => r,
        Err(fail) => fail.into_response(),
    }
}

async fn serve(state: &AppState, peer: SocketAddr, req: Request) -> Result<Response, Fail> {
    let now = state.now();
    let segments = segments(req.uri().path())?;
    let Some((account, rest)) = segments.split_first() else {
        return Err(Fail::Scim(ScimError::not_found("no account in the URL")));
    };
    let tenant = match authenticate(state, account, req.headers().get(AUTHORIZATION)).await? {
        Some(t) => t,
        // Failures are throttled per address, but a valid token is never refused for them: Entra calls from
        // addresses all its tenants share, and one customer's stale token must not stop another's sync.
        None => {
            if let Some(retry) = state.auth_failures.blocked(peer.ip(), now) {
                return Err(Fail::TooMany(retry));
            }
            state.auth_failures.record_failure(peer.ip(), now);
            return Err(Fail::Unauthorized);
        }
    };
    if let Some(retry) = state.scim_limiter.acquire(tenant.account, now) {
        return Err(Fail::TooMany(retry));
    }
    let method = req.method().clone();
    let query = req.uri().query().unwrap_or("").to_string();
    let body = req.into_body();
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    route(state, &tenant, &method, &rest, &query, body).await
}

/// The decoded path segments after `/scim/v2/`. Empty segments (doubled or trailing slashes) are dropped;
/// dot segments and anything that decodes to a slash, a backslash or a control character are refused.
fn segments(raw: &str) -> Result<Vec<String>, Fail> {
    let not_found = || Fail::Scim(ScimError::not_found("no such SCIM endpoint"));
    if raw.len() > MAX_PATH {
        return Err(not_found());
    }
    let rest = raw.strip_prefix(PREFIX).ok_or_else(not_found)?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return Err(not_found());
    }
    let mut out = Vec::new();
    for seg in rest.split('/').filter(|s| !s.is_empty()) {
        let decoded = percent_decode(seg).ok_or_else(not_found)?;
        if decoded == "."
            || decoded == ".."
            || decoded
                .chars()
                .any(|c| c == '/' || c == '\\' || c.is_control())
        {
            return Err(not_found());
        }
        out.push(decoded);
    }
    Ok(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The tenant when the bearer token is the current secret of the account named in the path; `None` for a
/// missing or wrong token, an unknown or inactive account, or an account without the integration.
async fn authenticate(
    state: &AppState,
    account: &str,
    header: Option<&axum::http::HeaderValue>,
) -> Result<Option<Tenant>, Fail> {
    let Some(token) = header
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            let (scheme, rest) = h.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|t| !t.is_empty())
    else {
        return Ok(None);
    };
    let Ok(account) = account.parse::<AccountId>() else {
        return Ok(None);
    };
    // Only this protocol's own credential is checked here: the token is the account's, nothing else.
    let scope = AccountScope::for_system(account);
    let mut db = state.store.handle().await?;
    let Some(stored) = skybridge_store::scim::tokens::active_hash(&mut db, &scope).await? else {
        return Ok(None);
    };
    let presented = crate::auth::hash_token(token);
    if !bool::from(presented.as_bytes().ct_eq(stored.as_bytes())) {
        return Ok(None);
    }
    Ok(Some(Tenant {
        scope,
        account,
        base: format!("{}{PREFIX}/{account}", state.config.public_url()),
    }))
}

async fn route(
    state: &AppState,
    t: &Tenant,
    method: &Method,
    path: &[&str],
    query: &str,
    body: Body,
) -> Result<Response, Fail> {
    let kind = |s: &str| {
        if s.eq_ignore_ascii_case("Users") {
            Some(ResourceKind::User)
        } else if s.eq_ignore_ascii_case("Groups") {
            Some(ResourceKind::Group)
        } else {
            None
        }
    };
    match path {
        [d] if d.eq_ignore_ascii_case("ServiceProviderConfig") => {
            read_only(method)?;
            Ok(discovery::service_provider_config(t))
        }
        [d, rest @ ..] if d.eq_ignore_ascii_case("ResourceTypes") && rest.len() <= 1 => {
            read_only(method)?;
            discovery::resource_types(t, rest.first().copied())
        }
        [d, rest @ ..] if d.eq_ignore_ascii_case("Schemas") && rest.len() <= 1 => {
            read_only(method)?;
            discovery::schemas(t, rest.first().copied())
        }
        [s] if *s == ".search" => {
            only(method, &Method::POST)?;
            let body = reply::read_json(body).await?;
            query::search_all(state, t, &body).await
        }
        [k] => match (kind(k), method.clone()) {
            (Some(kind), Method::GET) => {
                query::list(state, t, kind, &query::Params::from_query(query)?).await
            }
            (Some(ResourceKind::User), Method::POST) => {
                users::create(state, t, &reply::read_json(body).await?).await
            }
            (Some(ResourceKind::Group), Method::POST) => {
                groups::create(state, t, &reply::read_json(body).await?).await
            }
            (Some(_), _) => Err(Fail::MethodNotAllowed),
            (None, _) => Err(Fail::Scim(ScimError::not_found("no such SCIM endpoint"))),
        },
        [k, s] if *s == ".search" && kind(k).is_some() => {
            only(method, &Method::POST)?;
            let body = reply::read_json(body).await?;
            let kind = kind(k).ok_or(Fail::MethodNotAllowed)?;
            query::list(state, t, kind, &query::Params::from_search(&body)?).await
        }
        [k, id] => match (kind(k), method.clone()) {
            (Some(kind), Method::GET) => {
                query::get(state, t, kind, id, &query::Params::from_query(query)?).await
            }
            (Some(ResourceKind::User), Method::PUT) => {
                users::replace(state, t, id, &reply::read_json(body).await?).await
            }
            (Some(ResourceKind::User), Method::PATCH) => {
                users::patch(state, t, id, &reply::read_json(body).await?).await
            }
            (Some(ResourceKind::User), Method::DELETE) => users::delete(state, t, id).await,
            (Some(ResourceKind::Group), Method::PUT) => {
                groups::replace(state, t, id, &reply::read_json(body).await?).await
            }
            (Some(ResourceKind::Group), Method::PATCH) => {
                groups::patch(state, t, id, &reply::read_json(body).await?).await
            }
            (Some(ResourceKind::Group), Method::DELETE) => groups::delete(state, t, id).await,
            (Some(_), _) => Err(Fail::MethodNotAllowed),
            (None, _) => Err(Fail::Scim(ScimError::not_found("no such SCIM endpoint"))),
        },
        _ => Err(Fail::Scim(ScimError::not_found("no such SCIM endpoint"))),
    }
}

/// Discovery endpoints are read-only (RFC 7644 §4): anything but GET is 405.
fn read_only(method: &Method) -> Result<(), Fail> {
    only(method, &Method::GET)
}

fn only(method: &Method, allowed: &Method) -> Result<(), Fail> {
    if method == allowed || (allowed == Method::GET && method == Method::HEAD) {
        Ok(())
    } else {
        Err(Fail::MethodNotAllowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_decoded_and_checked_before_routing() {
        let ok = |p: &str| segments(p).ok();
        assert_eq!(
            ok("/scim/v2/a/Users"),
            Some(vec!["a".into(), "Users".into()])
        );
        assert_eq!(
            ok("/scim/v2/a/%55sers"),
            Some(vec!["a".into(), "Users".into()])
        );
        assert_eq!(
            ok("/scim/v2//a//Users/"),
            Some(vec!["a".into(), "Users".into()])
        );
        assert!(ok("/scim/v2/a/%2e%2e/b").is_none());
        assert!(ok("/scim/v2/a/../b").is_none());
        assert!(ok("/scim/v2/a/x%2fy").is_none());
        assert!(ok("/scim/v2/a/%zz").is_none());
        assert!(ok("/scim/v2/a/%c3").is_none());
        assert!(ok("/scim/v2x/a").is_none());
        assert_eq!(ok("/scim/v2"), Some(vec![]));
    }
}
