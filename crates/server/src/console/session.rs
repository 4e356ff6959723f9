//! Who is using the console: the portal's session cookie resolved to the same [`Caller`] a bearer token
//! gives the admin API, so both interfaces are judged by the one policy. Forms carry the session's CSRF token.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use skybridge_domain::permissions::{Feature, Verb};
use skybridge_domain::policy::{AccountRef, AccountScope, authorize};
use skybridge_store::accounts::{self, AccountRow};

use crate::api::find_account;
use crate::auth::{Caller, caller_for_session};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::login::{current_session, same};

use super::fail;

/// A signed-in console user.
#[derive(Clone)]
pub struct Console {
    pub caller: Caller,
    pub csrf: String,
    /// The embedded-mode outbox page is offered (mail goes to files, and the caller administers a partner).
    pub outbox_visible: bool,
    /// Notifications not yet read, for the bell's badge.
    pub unread: i64,
}

/// The account a console page is about, after the policy allowed the caller to look at it.
pub struct InAccount {
    pub target: AccountRef,
    pub scope: AccountScope,
    pub row: AccountRow,
}

impl Console {
    /// Finds `raw` (UUID or account number) and authorizes `feature`/`verb` on it; the account row for the page,
    /// or the page saying why not (not found, not allowed).
    pub async fn account(
        &self,
        state: &AppState,
        raw: &str,
        feature: Feature,
        verb: Verb,
    ) -> Result<InAccount, Response> {
        self.find_account(state, raw, feature, verb)
            .await
            .map_err(|e| fail(Some(self), e))
    }

    async fn find_account(
        &self,
        state: &AppState,
        raw: &str,
        feature: Feature,
        verb: Verb,
    ) -> Result<InAccount, ApiError> {
        let mut db = state.store.handle().await?;
        let target = find_account(&mut db, raw).await?;
        let scope = authorize(&self.caller.principal, &target, feature, verb)?;
        let row = accounts::get(&mut db, &scope)
            .await?
            .ok_or(ApiError::NotFound("account"))?;
        Ok(InAccount { target, scope, row })
    }
}

fn to_login(parts: &Parts) -> Response {
    let here = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/console");
    // A form posted after the session ended goes back to the page, not to the POST target.
    let back = if parts.method == Method::GET {
        here
    } else {
        "/console"
    };
    let location = format!(
        "/auth/login?return_to={}",
        url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
    );
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v.clone());
        // htmx follows this header with a full page load instead of swapping the login page into a fragment.
        resp.headers_mut().insert("hx-redirect", v);
    }
    resp
}

impl FromRequestParts<AppState> for Console {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some((session, user)) = current_session(state, &parts.headers).await else {
            return Err(to_login(parts));
        };
        let short = session.id_hash.get(..12).unwrap_or_default().to_string();
        match caller_for_session(state, user, &short).await {
            Ok(caller) => {
                // The outbox holds every welcome and reset link of the partner's accounts: only the built-in
                // Partner Administrator (who can already do anything there) sees it, never a custom role,
                // which could otherwise take over an Administrator through a reset link.
                let p = &caller.principal;
                let outbox_visible = state.config.smtp_url.is_none()
                    && p.is_unrestricted_partner()
                    && p.custom_role.is_none()
                    && p.home.kind == skybridge_domain::account::AccountKind::Partner;
                let unread = super::notifications::unread(state, &caller).await;
                Ok(Console {
                    caller,
                    csrf: session.csrf,
                    outbox_visible,
                    unread,
                })
            }
            Err(ApiError::Unauthorized(_)) => Err(to_login(parts)),
            Err(e) => Err(fail(None, e)),
        }
    }
}

/// A form posted to the console: the CSRF token checked, the fields decoded into `T`, and the raw pairs for
/// repeated fields (checkbox lists) that a struct cannot hold.
pub struct Posted<T> {
    pub console: Console,
    pub form: T,
    pub pairs: Vec<(String, String)>,
}

impl<T> Posted<T> {
    /// Every value of a repeated field, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for Posted<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let console = Console::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            fail(
                Some(&console),
                ApiError::BadRequest {
                    field: None,
                    detail: e.body_text(),
                },
            )
        })?;
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&bytes)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let token = pairs
            .iter()
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        if !same(token, &console.csrf) {
            return Err(fail(
                Some(&console),
                ApiError::Forbidden(
                    "the form has expired or did not come from this console; reload the page and try again"
                        .into(),
                ),
            ));
        }
        let form = serde_urlencoded::from_bytes::<T>(&bytes).map_err(|e| {
            fail(
                Some(&console),
                ApiError::BadRequest {
                    field: None,
                    detail: format!("the form is malformed: {e}"),
                },
            )
        })?;
        Ok(Posted {
            console,
            form,
            pairs,
        })
    }
}

/// The file of an [`Uploaded`] form.
pub struct UploadedFile {
    /// The name the browser gave (its base name on the admin's machine); may be empty.
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// A `multipart/form-data` form posted to the console (a file upload): the CSRF token checked like
/// [`Posted`]'s, the text fields, and the first file. A body that could not be read to its end (too large,
/// cut off) after a good token is handed to the page as `error`, so it can say so at the file field instead
/// of on an error page.
pub struct Uploaded {
    pub console: Console,
    pub fields: Vec<(String, String)>,
    pub file: Option<UploadedFile>,
    pub error: Option<ApiError>,
}

impl Uploaded {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl FromRequest<AppState> for Uploaded {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        use axum::extract::Multipart;

        let (mut parts, body) = req.into_parts();
        let console = Console::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let mut multipart = Multipart::from_request(req, state).await.map_err(|e| {
            fail(
                Some(&console),
                ApiError::BadRequest {
                    field: None,
                    detail: e.body_text(),
                },
            )
        })?;
        let mut fields = Vec::new();
        let mut file = None;
        let mut broken = None;
        // The whole body is read before the token is judged: a browser sends the hidden token first, but a
        // form is not obliged to, and the body is bounded by the route's limit either way.
        loop {
            let part = match multipart.next_field().await {
                Ok(Some(part)) => part,
                Ok(None) => break,
                Err(e) => {
                    broken = Some(e);
                    break;
                }
            };
            let name = part.name().unwrap_or_default().to_string();
            match part.file_name().map(str::to_string) {
                Some(file_name) => match part.bytes().await {
                    Ok(bytes) if file.is_none() => {
                        file = Some(UploadedFile {
                            file_name,
                            bytes: bytes.to_vec(),
                        })
                    }
                    Ok(_) => {}
                    Err(e) => {
                        broken = Some(e);
                        break;
                    }
                },
                None => match part.text().await {
                    Ok(text) => fields.push((name, text)),
                    Err(e) => {
                        broken = Some(e);
                        break;
                    }
                },
            }
        }
        let token = fields
            .iter()
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        if !same(token, &console.csrf) {
            return Err(fail(
                Some(&console),
                ApiError::Forbidden(
                    "the form has expired or did not come from this console; reload the page and try again"
                        .into(),
                ),
            ));
        }
        let error = broken.map(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(
                    skybridge_sheet::SheetError::TooLarge {
                        max_bytes: 20 << 20,
                    }
                    .to_string(),
                )
            } else {
                ApiError::BadRequest {
                    field: Some("file".into()),
                    detail: format!(
                        "The upload did not arrive whole ({}); try again.",
                        e.body_text()
                    ),
                }
            }
        });
        Ok(Uploaded {
            console,
            fields,
            file,
            error,
        })
    }
}
