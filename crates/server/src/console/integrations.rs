//! Integrations & Apps: the catalog (Mitel and 3rd-party tabs), add / complete setup / remove, privileges, the Chat service settings and the Entra ID Sync setup screen.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use skybridge_domain::permissions::{Feature, Verb};

use crate::api::entra::{self as entra_api, ScimKeys};
use crate::api::integrations::{
    self as api, AddIntegration, CatalogItem, ChatSettings, CompleteSetup, IntegrationOut,
    PrivilegesPatch, Registry, RemoveQuery,
};
use crate::api::json::{Body, Params};
use crate::error::ApiError;
use crate::state::AppState;

use super::accounts::ConfirmPage;
use super::form::{Confirm, Errors};
use super::session::{Console, InAccount, Posted};
use super::shell::{Section, Shell};
use super::{Page, fail, ok, or_fail, render, see_other};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/a/{account}/integrations", get(list))
        .route(
            "/console/a/{account}/integrations/catalog",
            get(catalog).post(add),
        )
        .route(
            "/console/a/{account}/integrations/privileges",
            post(privileges),
        )
        .route(
            "/console/a/{account}/integrations/chat",
            get(chat_form).post(chat_save),
        )
        .route(
            "/console/a/{account}/integrations/entra_id_sync",
            get(entra_page).post(entra_generate),
        )
        .route(
            "/console/a/{account}/integrations/{key}/complete",
            post(complete),
        )
        .route(
            "/console/a/{account}/integrations/{key}/remove",
            get(remove_page).post(remove),
        )
}

#[derive(Deserialize, Default)]
pub struct NoticeQuery {
    #[serde(default)]
    notice: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct NoFields {}

/// The account (Integrations VIEW) and its registry as the API gives it.
async fn load(
    state: &AppState,
    console: &Console,
    account: &str,
) -> Result<(InAccount, Registry), Response> {
    let ctx = console
        .account(state, account, Feature::Integrations, Verb::View)
        .await?;
    let registry = or_fail(
        console,
        api::list_integrations(
            State(state.clone()),
            console.caller.clone(),
            Path(ctx.row.id.clone()),
        )
        .await,
    )?
    .0;
    Ok((ctx, registry))
}

fn shell(console: &Console, ctx: &InAccount, title: &str, notice: Option<&str>) -> Shell {
    Shell::new(
        console,
        title,
        Section::Integrations,
        Some((&ctx.target, &ctx.row)),
    )
    .with_notice(notice)
}

/// Integrations ADD or EDIT: the privileges, the Chat setting, complete setup, Entra keys.
fn may_configure(console: &Console) -> bool {
    let p = &console.caller.principal;
    p.holds(Feature::Integrations, Verb::Add) || p.holds(Feature::Integrations, Verb::Edit)
}

#[derive(Template)]
#[template(path = "console/integrations/list.html")]
struct ListPage {
    shell: Shell,
    integrations: Vec<IntegrationOut>,
    delegated_authentication: bool,
    allow_guest_access: bool,
    chat: Option<bool>,
    may_add: bool,
    may_configure: bool,
    may_remove: bool,
}

async fn list(
    State(state): State<AppState>,
    console: Console,
    Path(account): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Page {
    let (ctx, registry) = load(&state, &console, &account).await?;
    let p = &console.caller.principal;
    Ok(ok(&ListPage {
        shell: shell(&console, &ctx, "Integrations & Apps", q.notice.as_deref()),
        integrations: registry.integrations,
        delegated_authentication: registry.privileges.delegated_authentication,
        allow_guest_access: registry.privileges.allow_guest_access,
        chat: registry
            .chat
            .map(|c| c.allow_editing_and_deleting_of_messages),
        may_add: p.holds(Feature::Integrations, Verb::Add),
        may_configure: may_configure(&console),
        may_remove: p.holds(Feature::Integrations, Verb::Delete),
    }))
}

/// The catalog tabs: the API's vendor key and the tab's label.
const TABS: [(&str, &str); 2] = [("mitel", "Mitel"), ("third_party", "3rd Party")];

#[derive(Deserialize, Default)]
pub struct CatalogQuery {
    #[serde(default)]
    tab: Option<String>,
    #[serde(default)]
    notice: Option<String>,
}

pub struct CatalogRow {
    pub item: CatalogItem,
    pub added: bool,
}

#[derive(Template)]
#[template(path = "console/integrations/catalog.html")]
struct CatalogPage {
    shell: Shell,
    tab: String,
    tabs: &'static [(&'static str, &'static str)],
    rows: Vec<CatalogRow>,
    may_add: bool,
    error: Option<String>,
}

fn tab_of(raw: Option<&str>) -> String {
    raw.filter(|t| TABS.iter().any(|(k, _)| k == t))
        .unwrap_or("mitel")
        .to_string()
}

async fn catalog_page(
    state: &AppState,
    console: &Console,
    account: &str,
    tab: String,
    notice: Option<&str>,
    error: Option<String>,
) -> Page {
    let (ctx, registry) = load(state, console, account).await?;
    let items = api::catalog(console.caller.clone()).await.0;
    let rows = items
        .into_iter()
        .filter(|i| i.vendor == tab)
        .map(|item| CatalogRow {
            added: registry.integrations.iter().any(|r| r.key == item.key),
            item,
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(render(
        status,
        &CatalogPage {
            shell: shell(console, &ctx, "Add Integration", notice),
            tab,
            tabs: &TABS,
            rows,
            may_add: console
                .caller
                .principal
                .holds(Feature::Integrations, Verb::Add),
            error,
        },
    ))
}

async fn catalog(
    State(state): State<AppState>,
    console: Console,
    Path(account): Path<String>,
    Query(q): Query<CatalogQuery>,
) -> Page {
    let tab = tab_of(q.tab.as_deref());
    catalog_page(&state, &console, &account, tab, q.notice.as_deref(), None).await
}

#[derive(Deserialize, Default)]
pub struct AddForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    tab: Option<String>,
}

async fn add(
    State(state): State<AppState>,
    Path(account): Path<String>,
    posted: Posted<AddForm>,
) -> Page {
    let Posted { console, form, .. } = posted;
    let tab = tab_of(form.tab.as_deref());
    let ctx = console
        .account(&state, &account, Feature::Integrations, Verb::Add)
        .await?;
    let r = api::add_integration(
        State(state.clone()),
        console.caller.clone(),
        Path(ctx.row.id.clone()),
        Body(AddIntegration {
            key: form.key.clone(),
        }),
    )
    .await;
    match r {
        Ok(_) => Ok(see_other(&format!(
            "/console/a/{}/integrations/catalog?tab={tab}&notice=integration-added",
            ctx.row.id
        ))),
        Err(e) => {
            let errors = or_fail(&console, Errors::from_api(e, &[], None))?;
            catalog_page(&state, &console, &ctx.row.id, tab, None, errors.general).await
        }
    }
}

#[derive(Deserialize, Default)]
pub struct PrivilegesForm {
    #[serde(default)]
    delegated_authentication: Option<String>,
    #[serde(default)]
    allow_guest_access: Option<String>,
}

async fn privileges(
    State(state): State<AppState>,
    Path(account): Path<String>,
    posted: Posted<PrivilegesForm>,
) -> Page {
    let Posted { console, form, .. } = posted;
    let ctx = console
        .account(&state, &account, Feature::Integrations, Verb::View)
        .await?;
    or_fail(
        &console,
        api::update_privileges(
            State(state.clone()),
            console.caller.clone(),
            Path(ctx.row.id.clone()),
            Body(PrivilegesPatch {
                delegated_authentication: Some(form.delegated_authentication.is_some()),
                allow_guest_access: Some(form.allow_guest_access.is_some()),
            }),
        )
        .await
        .map(|_| ()),
    )?;
    Ok(see_other(&format!(
        "/console/a/{}/integrations?notice=integration-saved",
        ctx.row.id
    )))
}

async fn complete(
    State(state): State<AppState>,
    Path((account, key)): Path<(String, String)>,
    posted: Posted<NoFields>,
) -> Page {
    let console = posted.console;
    let ctx = console
        .account(&state, &account, Feature::Integrations, Verb::View)
        .await?;
    or_fail(
        &console,
        api::complete_setup(
            State(state.clone()),
            console.caller.clone(),
            Path((ctx.row.id.clone(), key)),
            Body(CompleteSetup::default()),
        )
        .await
        .map(|_| ()),
    )?;
    Ok(see_other(&format!(
        "/console/a/{}/integrations?notice=integration-saved",
        ctx.row.id
    )))
}

fn remove_dialog(
    console: &Console,
    ctx: &InAccount,
    item: &IntegrationOut,
    error: Option<String>,
) -> Response {
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        status,
        &ConfirmPage {
            shell: shell(console, ctx, "Remove Integration", None),
            heading: "Remove Integration".into(),
            text: format!(
                "Removing {} switches off the privileges no other integration needs.",
                item.name
            ),
            word: "remove",
            button: "Remove".into(),
            action: format!("/console/a/{}/integrations/{}/remove", ctx.row.id, item.key),
            cancel: format!("/console/a/{}/integrations", ctx.row.id),
            error,
            carry: Vec::new(),
        },
    )
}

async fn find_integration(
    state: &AppState,
    console: &Console,
    account: &str,
    key: &str,
) -> Result<(InAccount, IntegrationOut), Response> {
    let (ctx, registry) = load(state, console, account).await?;
    let item = registry
        .integrations
        .into_iter()
        .find(|i| i.key == key)
        .ok_or_else(|| fail(Some(console), ApiError::NotFound("integration")))?;
    Ok((ctx, item))
}

async fn remove_page(
    State(state): State<AppState>,
    console: Console,
    Path((account, key)): Path<(String, String)>,
) -> Page {
    let (ctx, item) = find_integration(&state, &console, &account, &key).await?;
    Ok(remove_dialog(&console, &ctx, &item, None))
}

async fn remove(
    State(state): State<AppState>,
    Path((account, key)): Path<(String, String)>,
    posted: Posted<Confirm>,
) -> Page {
    let Posted { console, form, .. } = posted;
    let (ctx, item) = find_integration(&state, &console, &account, &key).await?;
    let r = api::remove_integration(
        State(state.clone()),
        console.caller.clone(),
        Path((ctx.row.id.clone(), item.key.clone())),
        Params(RemoveQuery {
            confirm: Some(form.confirm.trim().to_string()),
        }),
    )
    .await;
    match r {
        Ok(_) => Ok(see_other(&format!(
            "/console/a/{}/integrations?notice=integration-removed",
            ctx.row.id
        ))),
        Err(ApiError::BadRequest { detail, .. }) => {
            Ok(remove_dialog(&console, &ctx, &item, Some(detail)))
        }
        Err(e) => Err(fail(Some(&console), e)),
    }
}

#[derive(Template)]
#[template(path = "console/integrations/chat.html")]
struct ChatPage {
    shell: Shell,
    allow: bool,
    may_configure: bool,
    error: Option<String>,
}

async fn chat_form(
    State(state): State<AppState>,
    console: Console,
    Path(account): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Page {
    let (ctx, registry) = load(&state, &console, &account).await?;
    let Some(chat) = registry.chat else {
        return Err(fail(Some(&console), ApiError::NotFound("chat service")));
    };
    Ok(ok(&ChatPage {
        shell: shell(&console, &ctx, "Chat Service Settings", q.notice.as_deref()),
        allow: chat.allow_editing_and_deleting_of_messages,
        may_configure: may_configure(&console),
        error: None,
    }))
}

#[derive(Deserialize, Default)]
pub struct ChatForm {
    #[serde(default)]
    allow_editing_and_deleting_of_messages: Option<String>,
}

async fn chat_save(
    State(state): State<AppState>,
    Path(account): Path<String>,
    posted: Posted<ChatForm>,
) -> Page {
    let Posted { console, form, .. } = posted;
    let ctx = console
        .account(&state, &account, Feature::Integrations, Verb::View)
        .await?;
    let allow = form.allow_editing_and_deleting_of_messages.is_some();
    let r = api::update_chat(
        State(state.clone()),
        console.caller.clone(),
        Path(ctx.row.id.clone()),
        Body(ChatSettings {
            allow_editing_and_deleting_of_messages: allow,
        }),
    )
    .await;
    match r {
        Ok(_) => Ok(see_other(&format!(
            "/console/a/{}/integrations?notice=integration-saved",
            ctx.row.id
        ))),
        Err(e) => {
            let errors = or_fail(&console, Errors::from_api(e, &[], None))?;
            Ok(render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &ChatPage {
                    shell: shell(&console, &ctx, "Chat Service Settings", None),
                    allow,
                    may_configure: may_configure(&console),
                    error: errors.general,
                },
            ))
        }
    }
}

#[derive(Template)]
#[template(path = "console/integrations/entra.html")]
struct EntraPage {
    shell: Shell,
    /// Entra ID Sync is among the account's integrations.
    present: bool,
    /// A secret token exists (generated earlier; it is never shown again).
    active: bool,
    /// Just generated: shown once.
    keys: Option<ScimKeys>,
    may_generate: bool,
    error: Option<String>,
}

async fn entra_render(
    state: &AppState,
    console: &Console,
    account: &str,
    keys: Option<ScimKeys>,
    error: Option<String>,
) -> Page {
    let (ctx, registry) = load(state, console, account).await?;
    let present = registry
        .integrations
        .iter()
        .any(|i| i.key == entra_api::KEY);
    let active = if keys.is_some() {
        true
    } else {
        let mut db = or_fail(console, state.store.handle().await.map_err(ApiError::from))?;
        or_fail(
            console,
            skybridge_store::scim::tokens::active_hash(&mut db, &ctx.scope)
                .await
                .map_err(ApiError::from),
        )?
        .is_some()
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(render(
        status,
        &EntraPage {
            shell: shell(console, &ctx, "Entra ID Sync", None),
            present,
            active,
            keys,
            may_generate: may_configure(console) && registry.chat.is_some(),
            error,
        },
    ))
}

async fn entra_page(
    State(state): State<AppState>,
    console: Console,
    Path(account): Path<String>,
) -> Page {
    entra_render(&state, &console, &account, None, None).await
}

/// "Generate keys": the page itself answers (no redirect), since the secret token is shown this once.
async fn entra_generate(
    State(state): State<AppState>,
    Path(account): Path<String>,
    posted: Posted<NoFields>,
) -> Page {
    let console = posted.console;
    let ctx = console
        .account(&state, &account, Feature::Integrations, Verb::View)
        .await?;
    let r = entra_api::generate_keys(
        State(state.clone()),
        console.caller.clone(),
        Path(ctx.row.id.clone()),
    )
    .await;
    match r {
        Ok((_, keys)) => entra_render(&state, &console, &ctx.row.id, Some(keys.0), None).await,
        Err(ApiError::NotFound("integration")) => {
            entra_render(
                &state,
                &console,
                &ctx.row.id,
                None,
                Some("Add the Entra ID Sync integration first.".into()),
            )
            .await
        }
        Err(e) => {
            let errors = or_fail(&console, Errors::from_api(e, &[], None))?;
            entra_render(&state, &console, &ctx.row.id, None, errors.general).await
        }
    }
}
