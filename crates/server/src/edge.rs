//! Text checks at the edge, before any handler: a request whose path, query or body holds NUL or another
//! control character (C0 or DEL; tab, CR and LF are allowed in bodies, where multi-line text is legitimate)
//! is refused with a 400 in its protocol's own error format.
//!
//! Why here and not per field: PostgreSQL cannot store NUL in text, so a NUL that reaches a query fails the
//! statement (a 500), and one that SQLite stores ends strings early in CSV exports, logs and C readers. Every
//! endpoint takes text — API searches, SCIM documents, sign-in forms, OAuth parameters — and one check on the
//! way in covers those written later too. Fields with stricter rules (single-line names) keep them.
//! Multipart uploads are not looked at: the import drops NUL from cells and refuses it in edits itself.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use skybridge_domain::validate;
use skybridge_scim::ScimError;

use crate::api::users::BULK_BODY;
use crate::error::ApiError;
use crate::oidc::error::OAuthError;

/// The largest body the check reads: the largest any JSON or form route accepts. A bigger one is passed on
/// unread, to be refused by its route's own limit.
const MAX_CHECKED: usize = BULK_BODY;

/// Whose error format a request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// RFC 9457 problem JSON.
    Api,
    /// RFC 7644 §3.12 error JSON.
    Scim,
    /// RFC 6749 §5.2 error JSON.
    OAuth,
    /// A rendered page: the sign-in portal and the console.
    Html,
}

impl Protocol {
    pub fn of(path: &str) -> Protocol {
        let under = |prefix: &str| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        if under(crate::scim::PREFIX) {
            Protocol::Scim
        } else if under("/oauth2") {
            Protocol::OAuth
        } else if under("/auth") || under("/console") {
            Protocol::Html
        } else {
            Protocol::Api
        }
    }

    /// A 400 naming the field (query parameter, form field or JSON path) and the character.
    pub fn refuse(self, field: &str, message: &str) -> Response {
        let detail = format!("{field}: {message}");
        match self {
            Protocol::Api => ApiError::bad(field, detail).into_response(),
            Protocol::Scim => crate::scim::error_response(ScimError::invalid_value(detail)),
            Protocol::OAuth => OAuthError::invalid_request(detail).into_response(),
            Protocol::Html => crate::web::page::render(
                StatusCode::BAD_REQUEST,
                "Invalid request",
                &crate::web::page::alert(&format!(
                    "The request was refused: {detail}. Go back, correct it and try again."
                )),
            ),
        }
    }

    fn too_large(self) -> Response {
        let detail = format!("the request body is larger than {MAX_CHECKED} bytes");
        match self {
            Protocol::Scim => {
                crate::scim::error_response(ScimError::new(413, None, detail.clone()))
            }
            Protocol::Api | Protocol::OAuth => ApiError::PayloadTooLarge(detail).into_response(),
            Protocol::Html => crate::web::page::render(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request too large",
                &crate::web::page::alert(&detail),
            ),
        }
    }
}

/// The middleware.
pub async fn refuse_control_characters(req: Request, next: Next) -> Response {
    let protocol = Protocol::of(req.uri().path());
    if let Some((field, message)) = in_target(req.uri().path(), req.uri().query()) {
        return protocol.refuse(&field, &message);
    }
    let Some(kind) = BodyKind::of(req.headers()) else {
        return next.run(req).await;
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_CHECKED) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_CHECKED).await {
        Ok(b) => b,
        Err(_) => return protocol.too_large(),
    };
    if let Some((field, message)) = in_body(kind, &bytes) {
        return protocol.refuse(&field, &message);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The bodies the check reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    Json,
    Form,
}

impl BodyKind {
    fn of(headers: &HeaderMap) -> Option<BodyKind> {
        let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
        let essence = ct.split(';').next()?.trim().to_ascii_lowercase();
        if essence == "application/x-www-form-urlencoded" {
            Some(BodyKind::Form)
        } else if essence == "application/json" || essence.ends_with("+json") {
            Some(BodyKind::Json)
        } else {
            None
        }
    }
}

fn refusal(field: &str, s: &str, multiline: bool) -> Option<(String, String)> {
    validate::storable(field, s, multiline)
        .err()
        .map(|e| (e.field, e.message))
}

/// The path (percent-decoded) and each query parameter: no control character at all, not even a line break.
fn in_target(path: &str, query: Option<&str>) -> Option<(String, String)> {
    if let Some(found) = refusal("path", &percent_decode_lossy(path), false) {
        return Some(found);
    }
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if let Some(found) = refusal(&k, &k, false).or_else(|| refusal(&k, &v, false)) {
            return Some(found);
        }
    }
    None
}

fn in_body(kind: BodyKind, bytes: &Bytes) -> Option<(String, String)> {
    match kind {
        BodyKind::Form => url::form_urlencoded::parse(bytes)
            .find_map(|(k, v)| refusal(&k, &k, false).or_else(|| refusal(&k, &v, true))),
        // A body that is not JSON is left to the handler, which refuses it in its own words.
        BodyKind::Json => serde_json::from_slice::<Value>(bytes)
            .ok()
            .and_then(|v| in_json(&v, "")),
    }
}

/// The first string (or key) of a JSON document holding a forbidden character, named by its path
/// (`emails[0].value`; the top-level key alone, as the API's field names are).
fn in_json(v: &Value, at: &str) -> Option<(String, String)> {
    let name = |at: &str| {
        if at.is_empty() {
            "body".to_string()
        } else {
            at.to_string()
        }
    };
    match v {
        Value::String(s) => refusal(&name(at), s, true),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| in_json(item, &format!("{}[{i}]", name(at)))),
        Value::Object(map) => map.iter().find_map(|(k, item)| {
            let path = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            refusal(&path, k, false).or_else(|| in_json(item, &path))
        }),
        _ => None,
    }
}

fn percent_decode_lossy(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%')
            .then(|| s.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_by_path() {
        assert_eq!(Protocol::of("/scim/v2/x/Users"), Protocol::Scim);
        assert_eq!(Protocol::of("/oauth2/token"), Protocol::OAuth);
        assert_eq!(Protocol::of("/auth/login"), Protocol::Html);
        assert_eq!(Protocol::of("/console/accounts"), Protocol::Html);
        assert_eq!(Protocol::of("/consoles"), Protocol::Api);
        assert_eq!(Protocol::of("/api/v1/accounts"), Protocol::Api);
    }

    #[test]
    fn targets() {
        assert!(in_target("/api/v1/accounts", Some("q=a%00b")).is_some());
        assert!(in_target("/api/v1/accounts", Some("q=a%0Ab")).is_some());
        assert!(in_target("/api/v1/a%00", None).is_some());
        assert!(in_target("/api/v1/accounts", Some("q=a+b%C3%A9&x=%25")).is_none());
        assert_eq!(
            in_target("/x", Some("tag=a%7Fb")).map(|f| f.0),
            Some("tag".to_string())
        );
    }

    #[test]
    fn bodies() {
        let json = |s: &str| in_body(BodyKind::Json, &Bytes::from(s.to_string()));
        assert_eq!(
            json(r#"{"first_name":"A\u0000nn"}"#).map(|f| f.0),
            Some("first_name".to_string())
        );
        assert_eq!(
            json(r#"{"emails":[{"value":"a@b"},{"value":"x\u001b"}]}"#).map(|f| f.0),
            Some("emails[1].value".to_string())
        );
        assert!(json(r#"{"description":"one\ntwo\tthree\r\n"}"#).is_none());
        assert!(json(r#"{"a\u0000":1}"#).is_some());
        assert!(json("not json \u{0}").is_none());
        let form = |s: &str| in_body(BodyKind::Form, &Bytes::from(s.to_string()));
        assert!(form("email=a%00b&x=1").is_some());
        assert!(form("notes=one%0D%0Atwo").is_none());
        assert!(form("email=a%40b.com").is_none());
    }
}
