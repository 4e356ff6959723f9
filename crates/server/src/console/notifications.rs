//! The notifications bell: what the bulk actions and jobs a user started came to, with the error text of
//! the ones that failed. "Dismiss All" only hides them in the page (console.js); the trash deletes one.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use serde::Deserialize;
use skybridge_store::notifications::{self, NotificationRow};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

use super::session::{Console, Posted};
use super::shell::{Section, Shell};
use super::{Page, ok, or_fail, see_other};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/notifications", get(list))
        .route("/console/notifications/{id}/delete", post(delete))
}

/// The bell's badge. A failure to count is not worth failing the page over.
pub async fn unread(state: &AppState, caller: &Caller) -> i64 {
    let Ok(mut db) = state.store.handle().await else {
        return 0;
    };
    notifications::unread(&mut db, &caller.own_scope(), caller.principal.user_id)
        .await
        .unwrap_or(0)
}

#[derive(Template)]
#[template(path = "console/notifications.html")]
struct ListPage {
    shell: Shell,
    items: Vec<NotificationRow>,
}

async fn list(State(state): State<AppState>, console: Console) -> Page {
    let caller = &console.caller;
    let items = or_fail(
        &console,
        async {
            let scope = caller.own_scope();
            let items = {
                let mut db = state.store.handle().await?;
                notifications::list(&mut db, &scope, caller.principal.user_id).await?
            };
            // Seen now: the badge counts what has not been looked at.
            let mut tx = state.store.begin().await?;
            notifications::mark_read(&mut tx, &scope, caller.principal.user_id, state.now())
                .await?;
            tx.commit().await?;
            Ok::<_, ApiError>(items)
        }
        .await,
    )?;
    let mut shell = Shell::new(&console, "Notifications", Section::Notifications, None);
    shell.unread = 0;
    Ok(ok(&ListPage { shell, items }))
}

#[derive(Deserialize)]
pub struct NoFields {}

async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<NoFields>,
) -> Page {
    let caller = &posted.console.caller;
    let found = or_fail(
        &posted.console,
        async {
            let mut tx = state.store.begin().await?;
            let found =
                notifications::delete(&mut tx, &caller.own_scope(), caller.principal.user_id, &id)
                    .await?;
            tx.commit().await?;
            Ok::<_, ApiError>(found)
        }
        .await,
    )?;
    if !found {
        return Err(super::fail(
            Some(&posted.console),
            ApiError::NotFound("notification"),
        ));
    }
    Ok(see_other("/console/notifications"))
}
