//! Integrations & Apps: the catalog (Mitel and 3rd-party tabs), add / complete setup / remove, privileges, the Chat service settings and the Entra ID Sync setup screen.

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}
