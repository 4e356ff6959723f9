//! The console choices remembered per admin (in the store, so they follow the admin to another browser).

use skybridge_store::preferences;

use crate::error::ApiError;
use crate::state::AppState;

use super::session::Console;
use super::users::{COLUMNS, default_columns};

const USER_COLUMNS: &str = "users.columns";

/// The Users list's columns this admin chose, or the defaults.
pub async fn user_columns(state: &AppState, console: &Console) -> Vec<String> {
    let own = console.caller.own_scope();
    let stored = async {
        let mut db = state.store.handle().await.ok()?;
        preferences::get(
            &mut db,
            &own,
            console.caller.principal.user_id,
            USER_COLUMNS,
        )
        .await
        .ok()
        .flatten()
    }
    .await;
    stored
        .and_then(|json| serde_json::from_str::<Vec<String>>(&json).ok())
        .map(|cols| {
            cols.into_iter()
                .filter(|c| COLUMNS.iter().any(|(k, _)| k == c))
                .collect()
        })
        .unwrap_or_else(default_columns)
}

pub async fn save_user_columns(
    state: &AppState,
    console: &Console,
    columns: &[String],
) -> Result<(), ApiError> {
    let own = console.caller.own_scope();
    let json = serde_json::to_string(columns).map_err(anyhow::Error::from)?;
    let mut tx = state.store.begin().await?;
    preferences::put(
        &mut tx,
        &own,
        console.caller.principal.user_id,
        USER_COLUMNS,
        &json,
        state.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
