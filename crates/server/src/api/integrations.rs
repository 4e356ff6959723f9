//! An account's integrations registry: the catalog, add / complete setup / remove, the privileges they
//! switch, and the Chat service setting.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use skybridge_domain::account::AccountKind;
use skybridge_domain::event::{Action, NewEvent};
use skybridge_domain::integration::{self, CATALOG, CHAT, IntegrationError, Privilege, SetupState};
use skybridge_domain::permissions::{Feature, Verb};
use skybridge_domain::policy::{AccountRef, AccountScope};
use skybridge_domain::validate::{self, DESCRIPTION_MAX};
use skybridge_store::Exec;
use skybridge_store::accounts::{self as account_store, AccountRow};
use skybridge_store::integrations::{self as store, IntegrationRow};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::accounts::Privileges;
use super::json::{Body, Params};
use super::{audit, authorized, authorized_any, confirm, ensure_active};
use crate::auth::Caller;
use crate::clock::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(catalog))
        .routes(routes!(list_integrations, add_integration))
        .routes(routes!(complete_setup))
        .routes(routes!(remove_integration))
        .routes(routes!(update_privileges))
        .routes(routes!(update_chat))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CatalogItem {
    pub key: String,
    pub name: String,
    /// mitel or third_party (the add dialog's tabs).
    pub vendor: String,
    /// Privileges switched on when the integration is added.
    pub privileges: Vec<String>,
}

/// The integrations that can be added to a customer account.
#[utoipa::path(get, path = "/api/v1/integrations/catalog", tag = "integrations", responses((status = 200, body = Vec<CatalogItem>)))]
pub(crate) async fn catalog(_caller: Caller) -> Json<Vec<CatalogItem>> {
    Json(
        CATALOG
            .iter()
            .map(|e| CatalogItem {
                key: e.key.into(),
                name: e.name.into(),
                vendor: match e.vendor {
                    integration::Vendor::Mitel => "mitel".into(),
                    integration::Vendor::ThirdParty => "third_party".into(),
                },
                privileges: e
                    .privileges
                    .iter()
                    .map(|p| p.as_str().to_string())
                    .collect(),
            })
            .collect(),
    )
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IntegrationOut {
    pub key: String,
    pub name: String,
    /// incomplete ("Complete setup") or complete.
    pub state: String,
    pub status_message: Option<String>,
    pub created_at: String,
    pub modified_at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChatSettings {
    /// "Allow editing and deleting of messages".
    pub allow_editing_and_deleting_of_messages: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Registry {
    pub integrations: Vec<IntegrationOut>,
    pub privileges: Privileges,
    /// Chat is always present on customer accounts.
    pub chat: Option<ChatSettings>,
}

async fn registry(
    db: &mut impl Exec,
    target: &AccountRef,
    scope: &AccountScope,
) -> ApiResult<Registry> {
    let row = account_store::get(db, scope)
        .await?
        .ok_or(ApiError::NotFound("account"))?;
    let integrations = store::list(db, scope)
        .await?
        .into_iter()
        .map(|r| IntegrationOut {
            name: integration::find(&r.key).map_or_else(|| r.key.clone(), |e| e.name.to_string()),
            key: r.key,
            state: r.state,
            status_message: r.status_message,
            created_at: rfc3339(r.created_at),
            modified_at: rfc3339(r.modified_at),
        })
        .collect();
    Ok(Registry {
        integrations,
        privileges: Privileges {
            delegated_authentication: row.delegated_authentication,
            allow_guest_access: row.allow_guest_access,
        },
        chat: (target.kind == AccountKind::Customer).then_some(ChatSettings {
            allow_editing_and_deleting_of_messages: row.chat_allow_edit_delete,
        }),
    })
}

/// The account's integrations, privileges and chat setting.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/integrations", tag = "integrations", params(("account" = String, Path, description = "Account UUID or number")),
    responses((status = 200, body = Registry)))]
pub(crate) async fn list_integrations(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
) -> ApiResult<Json<Registry>> {
    let mut db = state.store.handle().await?;
    let (target, scope) = authorized(
        &mut db,
        &caller,
        &account,
        Feature::Integrations,
        Verb::View,
    )
    .await?;
    Ok(Json(registry(&mut db, &target, &scope).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddIntegration {
    /// A catalog key, e.g. `zoom`.
    pub key: String,
}

fn integration_error(e: IntegrationError) -> ApiError {
    match e {
        IntegrationError::Unknown(_) => ApiError::bad("key", e.to_string()),
        IntegrationError::AlreadyAdded(_) => ApiError::Conflict(e.to_string()),
        other => ApiError::rule(Some("key"), other.to_string()),
    }
}

fn set_privilege(row: &mut AccountRow, p: Privilege, on: bool) -> bool {
    let slot = match p {
        Privilege::DelegatedAuthentication => &mut row.delegated_authentication,
        Privilege::AllowGuestAccess => &mut row.allow_guest_access,
    };
    let changed = *slot != on;
    *slot = on;
    changed
}

/// Add an integration; it switches on the privileges it needs.
#[utoipa::path(post, path = "/api/v1/accounts/{account}/integrations", tag = "integrations", request_body = AddIntegration,
    params(("account" = String, Path, description = "Account UUID or number")),
    responses((status = 201, body = Registry), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn add_integration(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
    Body(input): Body<AddIntegration>,
) -> ApiResult<(StatusCode, Json<Registry>)> {
    let mut tx = state.store.begin().await?;
    let (target, scope) =
        authorized(&mut tx, &caller, &account, Feature::Integrations, Verb::Add).await?;
    ensure_active(&target)?;
    let present: Vec<String> = store::list(&mut tx, &scope)
        .await?
        .into_iter()
        .map(|r| r.key)
        .collect();
    let entry = integration::check_add(
        input.key.trim(),
        target.kind == AccountKind::Partner,
        &present,
    )
    .map_err(integration_error)?;
    let now = state.now();
    store::insert(
        &mut tx,
        &scope,
        &IntegrationRow {
            key: entry.key.into(),
            state: SetupState::Incomplete.as_str().into(),
            status_message: None,
            created_at: now,
            modified_at: now,
        },
    )
    .await?;
    let mut row = account_store::get(&mut tx, &scope)
        .await?
        .ok_or(ApiError::NotFound("account"))?;
    let mut switched = Vec::new();
    for p in entry.privileges {
        if set_privilege(&mut row, *p, true) {
            switched.push(p.as_str());
        }
    }
    if !switched.is_empty() {
        row.modified_at = now;
        row.modified_by = caller.display_name.clone();
        account_store::update(&mut tx, &scope, &row).await?;
    }
    audit(
        &mut tx,
        &state,
        &caller,
        NewEvent::admin(
            target.id,
            caller.actor(),
            Action::Create,
            "Integration",
            entry.key,
        )
        .changed(switched.iter().copied())
        .detail("integration", entry.name)
        .tag("integration"),
    )
    .await?;
    let out = registry(&mut tx, &target, &scope).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(out)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteSetup {
    /// Status shown next to the integration.
    pub status_message: Option<String>,
}

/// Mark an integration's setup complete ("Onboarding Complete").
#[utoipa::path(post, path = "/api/v1/accounts/{account}/integrations/{key}/complete", tag = "integrations", request_body = CompleteSetup,
    params(("account" = String, Path, description = "Account UUID or number"), ("key" = String, Path, description = "Catalog key")),
    responses((status = 200, body = Registry), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn complete_setup(
    State(state): State<AppState>,
    caller: Caller,
    Path((account, key)): Path<(String, String)>,
    Body(input): Body<CompleteSetup>,
) -> ApiResult<Json<Registry>> {
    let message = validate::optional_text(
        "status_message",
        input.status_message.as_deref(),
        DESCRIPTION_MAX,
    )?;
    let mut tx = state.store.begin().await?;
    let (target, scope) = authorized_any(
        &mut tx,
        &caller,
        &account,
        Feature::Integrations,
        [Verb::Add, Verb::Edit],
    )
    .await?;
    ensure_active(&target)?;
    let mut row = store::list(&mut tx, &scope)
        .await?
        .into_iter()
        .find(|r| r.key == key)
        .ok_or(ApiError::NotFound("integration"))?;
    row.state = SetupState::Complete.as_str().into();
    row.status_message = message;
    row.modified_at = state.now();
    store::update(&mut tx, &scope, &row).await?;
    audit(
        &mut tx,
        &state,
        &caller,
        NewEvent::admin(target.id, caller.actor(), Action::Edit, "Integration", &key)
            .changed(["state"])
            .detail("state", "complete")
            .tag("integration"),
    )
    .await?;
    let out = registry(&mut tx, &target, &scope).await?;
    tx.commit().await?;
    Ok(Json(out))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RemoveQuery {
    /// Must be `remove`.
    pub confirm: Option<String>,
}

/// Remove an integration; privileges no remaining integration needs are switched off.
#[utoipa::path(delete, path = "/api/v1/accounts/{account}/integrations/{key}", tag = "integrations",
    params(("account" = String, Path, description = "Account UUID or number"), ("key" = String, Path, description = "Catalog key"), RemoveQuery),
    responses((status = 200, body = Registry), (status = 400, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn remove_integration(
    State(state): State<AppState>,
    caller: Caller,
    Path((account, key)): Path<(String, String)>,
    Params(q): Params<RemoveQuery>,
) -> ApiResult<Json<Registry>> {
    if key == CHAT {
        return Err(integration_error(IntegrationError::Chat));
    }
    confirm(q.confirm.as_deref(), "remove")?;
    let mut tx = state.store.begin().await?;
    let (target, scope) = authorized(
        &mut tx,
        &caller,
        &account,
        Feature::Integrations,
        Verb::Delete,
    )
    .await?;
    ensure_active(&target)?;
    if !store::delete(&mut tx, &scope, &key).await? {
        return Err(ApiError::NotFound("integration"));
    }
    if key == super::entra::KEY {
        // Removing Entra ID Sync revokes its secret token with it.
        skybridge_store::scim::tokens::delete(&mut tx, &scope).await?;
    }
    let remaining: Vec<String> = store::list(&mut tx, &scope)
        .await?
        .into_iter()
        .map(|r| r.key)
        .collect();
    let mut switched = Vec::new();
    if let Some(entry) = integration::find(&key) {
        let mut row = account_store::get(&mut tx, &scope)
            .await?
            .ok_or(ApiError::NotFound("account"))?;
        for p in integration::privileges_released(entry, &remaining) {
            if set_privilege(&mut row, p, false) {
                switched.push(p.as_str());
            }
        }
        if !switched.is_empty() {
            row.modified_at = state.now();
            row.modified_by = caller.display_name.clone();
            account_store::update(&mut tx, &scope, &row).await?;
        }
    }
    audit(
        &mut tx,
        &state,
        &caller,
        NewEvent::admin(
            target.id,
            caller.actor(),
            Action::Delete,
            "Integration",
            &key,
        )
        .changed(switched.iter().copied())
        .tag("integration"),
    )
    .await?;
    let out = registry(&mut tx, &target, &scope).await?;
    tx.commit().await?;
    Ok(Json(out))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivilegesPatch {
    pub delegated_authentication: Option<bool>,
    pub allow_guest_access: Option<bool>,
}

async fn configure(
    state: &AppState,
    caller: &Caller,
    account: &str,
) -> ApiResult<(skybridge_store::Tx, AccountRef, AccountScope, AccountRow)> {
    let mut tx = state.store.begin().await?;
    let (target, scope) = authorized_any(
        &mut tx,
        caller,
        account,
        Feature::Integrations,
        [Verb::Add, Verb::Edit],
    )
    .await?;
    ensure_active(&target)?;
    if target.kind == AccountKind::Partner {
        return Err(integration_error(IntegrationError::PartnerAccount));
    }
    let row = account_store::get(&mut tx, &scope)
        .await?
        .ok_or(ApiError::NotFound("account"))?;
    Ok((tx, target, scope, row))
}

/// Switch the account's privileges by hand.
#[utoipa::path(patch, path = "/api/v1/accounts/{account}/privileges", tag = "integrations", request_body = PrivilegesPatch,
    params(("account" = String, Path, description = "Account UUID or number")),
    responses((status = 200, body = Registry), (status = 403, body = crate::error::Problem)))]
pub(crate) async fn update_privileges(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
    Body(p): Body<PrivilegesPatch>,
) -> ApiResult<Json<Registry>> {
    let (mut tx, target, scope, mut row) = configure(&state, &caller, &account).await?;
    let mut switched = Vec::new();
    for (privilege, value) in [
        (
            Privilege::DelegatedAuthentication,
            p.delegated_authentication,
        ),
        (Privilege::AllowGuestAccess, p.allow_guest_access),
    ] {
        if let Some(on) = value
            && set_privilege(&mut row, privilege, on)
        {
            switched.push(privilege.as_str());
        }
    }
    if !switched.is_empty() {
        row.modified_at = state.now();
        row.modified_by = caller.display_name.clone();
        account_store::update(&mut tx, &scope, &row).await?;
        audit(
            &mut tx,
            &state,
            &caller,
            NewEvent::admin(
                target.id,
                caller.actor(),
                Action::Edit,
                "Privilege",
                target.id,
            )
            .changed(switched.iter().copied())
            .detail("delegated_authentication", row.delegated_authentication)
            .detail("allow_guest_access", row.allow_guest_access)
            .tag("privilege"),
        )
        .await?;
    }
    let out = registry(&mut tx, &target, &scope).await?;
    tx.commit().await?;
    Ok(Json(out))
}

/// Change the Chat service setting.
#[utoipa::path(patch, path = "/api/v1/accounts/{account}/integrations/chat", tag = "integrations", request_body = ChatSettings,
    params(("account" = String, Path, description = "Account UUID or number")),
    responses((status = 200, body = Registry)))]
pub(crate) async fn update_chat(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
    Body(input): Body<ChatSettings>,
) -> ApiResult<Json<Registry>> {
    let (mut tx, target, scope, mut row) = configure(&state, &caller, &account).await?;
    if row.chat_allow_edit_delete != input.allow_editing_and_deleting_of_messages {
        row.chat_allow_edit_delete = input.allow_editing_and_deleting_of_messages;
        row.modified_at = state.now();
        row.modified_by = caller.display_name.clone();
        account_store::update(&mut tx, &scope, &row).await?;
        audit(
            &mut tx,
            &state,
            &caller,
            NewEvent::admin(target.id, caller.actor(), Action::Edit, "Integration", CHAT)
                .changed(["allow_editing_and_deleting_of_messages"])
                .detail(
                    "allow_editing_and_deleting_of_messages",
                    row.chat_allow_edit_delete,
                )
                .tag("chat"),
        )
        .await?;
    }
    let out = registry(&mut tx, &target, &scope).await?;
    tx.commit().await?;
    Ok(Json(out))
}
