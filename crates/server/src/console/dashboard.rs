//! The dashboard: who is signed in and the quick links their role allows.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use skybridge_domain::navigation::is_partner_staff;
use skybridge_domain::policy::AccountScope;
use skybridge_store::accounts;

use crate::state::AppState;

use super::session::Console;
use super::shell::{Section, Shell};
use super::{Page, ok, or_fail};

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct Dashboard {
    shell: Shell,
    partner: bool,
    account_name: String,
}

#[derive(Deserialize)]
pub struct Notice {
    notice: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    console: Console,
    Query(q): Query<Notice>,
) -> Page {
    let principal = &console.caller.principal;
    let partner = is_partner_staff(principal);
    let home = AccountScope::for_system(principal.home.id);
    let row = or_fail(
        &console,
        async {
            let mut db = state.store.handle().await?;
            Ok(accounts::get(&mut db, &home).await?)
        }
        .await,
    )?;
    let account_name = row.as_ref().map(|r| r.name.clone()).unwrap_or_default();
    // An Account Admin's dashboard is about its own account.
    let context = if partner {
        None
    } else {
        row.as_ref().map(|r| (&principal.home, r))
    };
    let shell = Shell::new(&console, "Dashboard", Section::Dashboard, context)
        .with_notice(q.notice.as_deref());
    let page: Response = ok(&Dashboard {
        shell,
        partner,
        account_name,
    });
    Ok(page)
}
