//! Account Managers: the partner's two tabs (Account Managers, Administrators), convert, upgrade, and account assignment for one or several managers.

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}
