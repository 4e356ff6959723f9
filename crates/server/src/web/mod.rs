//! Server-rendered pages. Plain HTML forms that work without JavaScript.

pub mod icon;
pub mod links;
pub mod login;
pub mod mfa;
pub mod page;

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    links::router()
        .merge(login::router())
        .merge(mfa::router())
        .merge(icon::router())
        .layer(axum::middleware::from_fn(page::portal_headers))
}
