//! Event History: the account's audit events with filters from the facets endpoint, column choice, details and CSV export.

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}
