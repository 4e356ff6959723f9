//! Roles and Permissions: the partner's custom roles (list, new with the permission matrix, edit, duplicate, assign to accounts, delete) and an Account Admin's view of the roles its account holds.

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}
