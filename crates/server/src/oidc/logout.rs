//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0). With an `id_token_hint` naming the
//! signed-in user the session ends at once; without one the user is asked to confirm, so a third-party
//! page cannot sign people out. The return address must be registered for the client.

use axum::extract::{Form, Query, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use skybridge_identity::keys::Expect;
use skybridge_store::oauth::clients::{self, ClientRow};

use super::{IdClaims, LOGOUT_PATH, secs};
use crate::mail::escape_html;
use crate::state::AppState;
use crate::web::login::{current_session, end_session, same};
use crate::web::page::{alert, render};

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Params {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token_hint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_logout_redirect_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf: Option<String>,
}

pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<Params>,
) -> Response {
    logout(state, headers, p, false).await
}

pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(p): Form<Params>,
) -> Response {
    logout(state, headers, p, true).await
}

fn refuse(msg: &str) -> Response {
    render(
        StatusCode::BAD_REQUEST,
        "Sign-out request refused",
        &alert(msg),
    )
}

async fn logout(state: AppState, headers: HeaderMap, p: Params, confirmed_form: bool) -> Response {
    // The hint may have expired; its signature and issuer still say who it was for.
    let hint: Option<IdClaims> = match p.id_token_hint.as_deref() {
        None => None,
        Some(t) => {
            let iss = state.issuer();
            let expect = Expect {
                issuer: &iss,
                audience: None,
                typ: None,
                allow_expired: true,
                now_secs: secs(state.now()),
            };
            match state
                .signing_keys()
                .await
                .map(|k| k.verify::<IdClaims>(t, &expect))
            {
                Ok(Ok(c)) => Some(c),
                Ok(Err(_)) => {
                    return refuse("The id_token_hint is not a valid ID token of this server.");
                }
                Err(e) => return crate::web::links::internal(e),
            }
        }
    };
    let client_id = match (
        hint.as_ref().map(|h| h.aud.as_str()),
        p.client_id.as_deref(),
    ) {
        (Some(a), Some(b)) if a != b => {
            return refuse("client_id does not match the id_token_hint.");
        }
        (Some(a), _) => Some(a.to_string()),
        (None, b) => b.map(str::to_string),
    };
    let client: Option<ClientRow> = match &client_id {
        Some(id) => match async { clients::find(&mut state.store.handle().await?, id).await }.await
        {
            Ok(c) => c,
            Err(e) => return crate::web::links::internal(e),
        },
        None => None,
    };
    let return_to = match (&p.post_logout_redirect_uri, &client) {
        (None, _) => None,
        (Some(uri), Some(c)) if super::authorize::may_return_after_logout(c, uri) => {
            Some(uri.clone())
        }
        (Some(_), Some(_)) => {
            return refuse("The post_logout_redirect_uri is not registered for this application.");
        }
        (Some(_), None) => {
            return refuse("A post_logout_redirect_uri needs the client_id or an id_token_hint.");
        }
    };
    let session = current_session(&state, &headers).await;
    let mut cookie = None;
    if let Some((s, user)) = &session {
        let hinted = hint.as_ref().is_some_and(|h| h.sub == user.id);
        let confirmed = confirmed_form && p.csrf.as_deref().is_some_and(|c| same(c, &s.csrf));
        if !hinted && !confirmed {
            return confirm_page(&p, client_id.as_ref(), &s.csrf, &user.display_name);
        }
        match end_session(&state, s).await {
            Ok(c) => cookie = Some(c),
            Err(e) => return crate::web::links::internal(e),
        }
    }
    let mut resp = match return_to {
        Some(uri) => {
            let mut target = uri;
            if let Some(st) = &p.state {
                target.push(if target.contains('?') { '&' } else { '?' });
                target.push_str(&serde_urlencoded::to_string([("state", st)]).unwrap_or_default());
            }
            (StatusCode::SEE_OTHER, [(LOCATION, target)]).into_response()
        }
        None => render(
            StatusCode::OK,
            "Signed out",
            "<p role=\"status\">You are signed out.</p>",
        ),
    };
    if let Some(c) = cookie {
        resp.headers_mut().append(SET_COOKIE, c);
    }
    resp
}

fn confirm_page(p: &Params, client_id: Option<&String>, csrf: &str, name: &str) -> Response {
    let hidden = |k: &str, v: Option<&String>| {
        v.map(|v| {
            format!(
                "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
                escape_html(v)
            )
        })
        .unwrap_or_default()
    };
    let body = format!(
        "<p>Sign out <strong>{}</strong> from Skybridge?</p>\
         <form method=\"post\" action=\"{LOGOUT_PATH}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">{}{}{}\
         <button type=\"submit\" autofocus>Sign out</button></form>",
        escape_html(name),
        escape_html(csrf),
        hidden("client_id", client_id),
        hidden(
            "post_logout_redirect_uri",
            p.post_logout_redirect_uri.as_ref()
        ),
        hidden("state", p.state.as_ref()),
    );
    render(StatusCode::OK, "Sign out", &body)
}
