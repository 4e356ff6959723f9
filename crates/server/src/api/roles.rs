//! Custom roles: create, duplicate, edit, delete; assign to and unassign from customer accounts.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use skybridge_domain::RoleId;
use skybridge_domain::account::AccountKind;
use skybridge_domain::event::{Action, NewEvent};
use skybridge_domain::permissions::{Base, Feature, PermissionSet, Verb, custom_role_permissions};
use skybridge_domain::policy::{AccountScope, authorize};
use skybridge_domain::validate::{self, DESCRIPTION_MAX, NAME_MAX};
use skybridge_store::roles::{self as store, RoleRow};
use skybridge_store::{Exec, users as user_store};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::json::{Body, Params, nullable};
use super::{audit, authorized, confirm, ensure_active};
use crate::auth::Caller;
use crate::clock::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_roles, create_role))
        .routes(routes!(get_role, update_role, delete_role))
        .routes(routes!(duplicate_role))
        .routes(routes!(role_accounts))
        .routes(routes!(assign_role, unassign_role))
        .routes(routes!(account_roles))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoleOut {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// partner or account_admin.
    pub base: String,
    /// Grants as feature.verb, always-on cells included.
    pub permissions: Vec<String>,
    pub created_at: String,
    pub modified_at: String,
}

fn out(r: RoleRow) -> ApiResult<RoleOut> {
    let permissions = r.permission_names()?;
    Ok(RoleOut {
        id: r.id,
        name: r.name,
        description: r.description,
        base: r.base,
        permissions,
        created_at: rfc3339(r.created_at),
        modified_at: rfc3339(r.modified_at),
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRole {
    pub name: String,
    pub description: Option<String>,
    /// partner (default) or account_admin.
    pub base: Option<String>,
    /// The grants the role keeps, as feature.verb; every applicable cell when absent.
    pub permissions: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolePatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    pub permissions: Option<Vec<String>>,
    /// Read-only: a role's base cannot change.
    pub base: Option<serde_json::Value>,
}

/// The caller's Partner Account, authorized for `verb` on Roles.
fn partner_scope(caller: &Caller, verb: Verb) -> ApiResult<AccountScope> {
    if caller.principal.home.kind != AccountKind::Partner {
        return Err(ApiError::Forbidden(
            "custom roles are managed by partner staff".into(),
        ));
    }
    Ok(authorize(
        &caller.principal,
        &caller.principal.home,
        Feature::Roles,
        verb,
    )?)
}

fn checked_permissions(
    caller: &Caller,
    base: Base,
    names: Option<&[String]>,
) -> ApiResult<PermissionSet> {
    let requested = match names {
        Some(names) => PermissionSet::from_names("permissions", names)?,
        None => PermissionSet::full(base),
    };
    let set = custom_role_permissions(base, requested)
        .map_err(|e| ApiError::rule(Some(&e.field), e.message))?;
    if !caller.principal.may_grant(base, set) {
        return Err(ApiError::Forbidden(
            "a role cannot hold permissions you do not hold yourself".into(),
        ));
    }
    Ok(set)
}

async fn load(db: &mut impl Exec, scope: &AccountScope, raw: &str) -> ApiResult<RoleRow> {
    let id: RoleId = raw.parse().map_err(|_| ApiError::NotFound("role"))?;
    store::get(db, scope, id)
        .await?
        .ok_or(ApiError::NotFound("role"))
}

fn names_json(set: PermissionSet) -> String {
    serde_json::Value::from(set.to_names()).to_string()
}

/// List the custom roles of the caller's Partner Account.
#[utoipa::path(get, path = "/api/v1/roles", tag = "roles", responses((status = 200, body = Vec<RoleOut>)))]
pub(crate) async fn list_roles(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<RoleOut>>> {
    let scope = partner_scope(&caller, Verb::View)?;
    let mut db = state.store.handle().await?;
    Ok(Json(
        store::list(&mut db, &scope)
            .await?
            .into_iter()
            .map(out)
            .collect::<ApiResult<_>>()?,
    ))
}

async fn insert_role(
    state: &AppState,
    caller: &Caller,
    scope: &AccountScope,
    row: RoleRow,
    copied_from: Option<&str>,
) -> ApiResult<RoleOut> {
    let mut tx = state.store.begin().await?;
    store::insert(&mut tx, scope, &row).await?;
    let mut event = NewEvent::admin(
        scope.account_id(),
        caller.actor(),
        Action::Create,
        "Role",
        &row.id,
    )
    .changed(["name", "base", "permissions"])
    .detail("name", row.name.clone())
    .detail("base", row.base.clone())
    .tag("role");
    if let Some(from) = copied_from {
        event = event.detail("duplicated_from", from.to_string());
    }
    audit(&mut tx, state, caller, event).await?;
    tx.commit().await?;
    out(row)
}

/// Create a custom role on a base role, keeping a subset of its permissions.
#[utoipa::path(post, path = "/api/v1/roles", tag = "roles", request_body = NewRole,
    responses((status = 201, body = RoleOut), (status = 400, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn create_role(
    State(state): State<AppState>,
    caller: Caller,
    Body(input): Body<NewRole>,
) -> ApiResult<(StatusCode, Json<RoleOut>)> {
    let scope = partner_scope(&caller, Verb::Add)?;
    let name = validate::required_text("name", &input.name, NAME_MAX)?;
    let description =
        validate::optional_text("description", input.description.as_deref(), DESCRIPTION_MAX)?;
    let base = match input.base.as_deref() {
        None => Base::Partner,
        Some("partner") => Base::Partner,
        Some("account_admin") => Base::AccountAdmin,
        Some(other) => {
            return Err(ApiError::bad(
                "base",
                format!("unknown base role {other:?}; use partner or account_admin"),
            ));
        }
    };
    let set = checked_permissions(&caller, base, input.permissions.as_deref())?;
    let now = state.now();
    let row = RoleRow {
        id: RoleId::new().to_string(),
        partner_id: scope.account_id().to_string(),
        name,
        description,
        base: base.as_str().into(),
        permissions: names_json(set),
        created_at: now,
        modified_at: now,
    };
    Ok((
        StatusCode::CREATED,
        Json(insert_role(&state, &caller, &scope, row, None).await?),
    ))
}

/// Read a custom role.
#[utoipa::path(get, path = "/api/v1/roles/{role}", tag = "roles", params(("role" = String, Path, description = "Role id")),
    responses((status = 200, body = RoleOut), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn get_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(role): Path<String>,
) -> ApiResult<Json<RoleOut>> {
    let scope = partner_scope(&caller, Verb::View)?;
    let mut db = state.store.handle().await?;
    Ok(Json(out(load(&mut db, &scope, &role).await?)?))
}

/// Edit a custom role's name, description or permissions (its base is fixed).
#[utoipa::path(patch, path = "/api/v1/roles/{role}", tag = "roles", request_body = RolePatch, params(("role" = String, Path, description = "Role id")),
    responses((status = 200, body = RoleOut), (status = 400, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn update_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(role): Path<String>,
    Body(p): Body<RolePatch>,
) -> ApiResult<Json<RoleOut>> {
    if p.base.is_some() {
        return Err(ApiError::rule(
            Some("base"),
            "a role's base cannot be changed; duplicate it instead",
        ));
    }
    let scope = partner_scope(&caller, Verb::Edit)?;
    let mut tx = state.store.begin().await?;
    let mut row = load(&mut tx, &scope, &role).await?;
    let base: Base = row
        .base
        .parse()
        .map_err(|_| anyhow::anyhow!("bad stored base"))?;
    let mut changed = Vec::new();
    if let Some(name) = &p.name {
        let name = validate::required_text("name", name, NAME_MAX)?;
        if name != row.name {
            row.name = name;
            changed.push("name");
        }
    }
    if let Some(d) = &p.description {
        let d = validate::optional_text("description", d.as_deref(), DESCRIPTION_MAX)?;
        if d != row.description {
            row.description = d;
            changed.push("description");
        }
    }
    if let Some(names) = &p.permissions {
        let set = checked_permissions(&caller, base, Some(names))?;
        let json = names_json(set);
        if json != row.permissions {
            row.permissions = json;
            changed.push("permissions");
        }
    }
    if !changed.is_empty() {
        row.modified_at = state.now();
        store::update(&mut tx, &scope, &row).await?;
        audit(
            &mut tx,
            &state,
            &caller,
            NewEvent::admin(
                scope.account_id(),
                caller.actor(),
                Action::Edit,
                "Role",
                &row.id,
            )
            .changed(changed)
            .detail("name", row.name.clone())
            .tag("role"),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Json(out(row)?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// Must be `delete`.
    pub confirm: Option<String>,
}

/// Delete a custom role no user holds.
#[utoipa::path(delete, path = "/api/v1/roles/{role}", tag = "roles", params(("role" = String, Path, description = "Role id"), DeleteQuery),
    responses((status = 204), (status = 400, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub(crate) async fn delete_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(role): Path<String>,
    Params(q): Params<DeleteQuery>,
) -> ApiResult<StatusCode> {
    confirm(q.confirm.as_deref(), "delete")?;
    let scope = partner_scope(&caller, Verb::Delete)?;
    let mut tx = state.store.begin().await?;
    let row = load(&mut tx, &scope, &role).await?;
    let holders = user_store::count_holding_role(&mut tx, &scope, &row.id).await?;
    if holders > 0 {
        return Err(ApiError::Conflict(format!(
            "{holders} user(s) hold this role; give them another role first"
        )));
    }
    let id: RoleId = row
        .id
        .parse()
        .map_err(|_| anyhow::anyhow!("bad stored id"))?;
    store::delete(&mut tx, &scope, id).await?;
    audit(
        &mut tx,
        &state,
        &caller,
        NewEvent::admin(
            scope.account_id(),
            caller.actor(),
            Action::Delete,
            "Role",
            id,
        )
        .detail("name", row.name)
        .tag("role"),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DuplicateRole {
    /// Name of the copy; defaults to "<name> (copy)".
    pub name: Option<String>,
}

/// Duplicate a role: same base and permissions, new name.
#[utoipa::path(post, path = "/api/v1/roles/{role}/duplicate", tag = "roles", request_body = DuplicateRole, params(("role" = String, Path, description = "Role id")),
    responses((status = 201, body = RoleOut), (status = 409, body = crate::error::Problem)))]
pub(crate) async fn duplicate_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(role): Path<String>,
    Body(input): Body<DuplicateRole>,
) -> ApiResult<(StatusCode, Json<RoleOut>)> {
    let scope = partner_scope(&caller, Verb::Add)?;
    let mut db = state.store.handle().await?;
    let source = load(&mut db, &scope, &role).await?;
    drop(db);
    let name = match &input.name {
        Some(n) => validate::required_text("name", n, NAME_MAX)?,
        None => validate::required_text("name", &format!("{} (copy)", source.name), NAME_MAX)?,
    };
    let now = state.now();
    let row = RoleRow {
        id: RoleId::new().to_string(),
        partner_id: source.partner_id.clone(),
        name,
        description: source.description.clone(),
        base: source.base.clone(),
        permissions: source.permissions.clone(),
        created_at: now,
        modified_at: now,
    };
    Ok((
        StatusCode::CREATED,
        Json(insert_role(&state, &caller, &scope, row, Some(&source.id)).await?),
    ))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoleAccount {
    pub id: String,
    pub name: String,
    pub number: i64,
    pub assigned_at: String,
}

/// The customer accounts a role is assigned to.
#[utoipa::path(get, path = "/api/v1/roles/{role}/accounts", tag = "roles", params(("role" = String, Path, description = "Role id")),
    responses((status = 200, body = Vec<RoleAccount>)))]
pub(crate) async fn role_accounts(
    State(state): State<AppState>,
    caller: Caller,
    Path(role): Path<String>,
) -> ApiResult<Json<Vec<RoleAccount>>> {
    let scope = partner_scope(&caller, Verb::View)?;
    let mut db = state.store.handle().await?;
    let row = load(&mut db, &scope, &role).await?;
    let id: RoleId = row
        .id
        .parse()
        .map_err(|_| anyhow::anyhow!("bad stored id"))?;
    let rows = store::accounts_of(&mut db, &scope, id).await?;
    let mut out = Vec::new();
    for (aid, name, number, at) in rows {
        // An Account Manager sees only the accounts assigned to them.
        if let Ok(target) = super::find_account(&mut db, &aid).await
            && skybridge_domain::policy::reach(&caller.principal, &target).is_ok()
        {
            out.push(RoleAccount {
                id: aid,
                name,
                number,
                assigned_at: rfc3339(at),
            });
        }
    }
    Ok(Json(out))
}

async fn assignment(
    state: &AppState,
    caller: &Caller,
    role: &str,
    account: &str,
    assign: bool,
) -> ApiResult<StatusCode> {
    let partner = partner_scope(caller, Verb::Edit)?;
    let mut tx = state.store.begin().await?;
    let row = load(&mut tx, &partner, role).await?;
    let (target, scope) = authorized(&mut tx, caller, account, Feature::Roles, Verb::Edit).await?;
    ensure_active(&target)?;
    if target.kind != AccountKind::Customer || row.base != Base::AccountAdmin.as_str() {
        return Err(ApiError::rule(
            Some("role"),
            "Only Account Admin role can be assigned to a customer account.",
        ));
    }
    let id: RoleId = row
        .id
        .parse()
        .map_err(|_| anyhow::anyhow!("bad stored id"))?;
    let changed = if assign {
        store::assign(&mut tx, id, &scope, state.now()).await?
    } else {
        let holders = user_store::count_with_role(&mut tx, &scope, &row.id).await?;
        if holders > 0 {
            return Err(ApiError::Conflict(format!(
                "{holders} user(s) of this account hold the role; give them another role first"
            )));
        }
        store::unassign(&mut tx, id, &scope).await?
    };
    if changed {
        audit(
            &mut tx,
            state,
            caller,
            NewEvent::admin(target.id, caller.actor(), Action::Edit, "Role", id)
                .changed(["accounts"])
                .detail("name", row.name.clone())
                .detail(
                    if assign { "assigned" } else { "unassigned" },
                    target.id.to_string(),
                )
                .tag("role"),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Assign an Account Admin based role to a customer account, so its users can be given it.
#[utoipa::path(put, path = "/api/v1/roles/{role}/accounts/{account}", tag = "roles",
    params(("role" = String, Path, description = "Role id"), ("account" = String, Path, description = "Account UUID or number")),
    responses((status = 204), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn assign_role(
    State(state): State<AppState>,
    caller: Caller,
    Path((role, account)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    assignment(&state, &caller, &role, &account, true).await
}

/// Unassign a role from a customer account (refused while users there hold it).
#[utoipa::path(delete, path = "/api/v1/roles/{role}/accounts/{account}", tag = "roles",
    params(("role" = String, Path, description = "Role id"), ("account" = String, Path, description = "Account UUID or number")),
    responses((status = 204), (status = 409, body = crate::error::Problem)))]
pub(crate) async fn unassign_role(
    State(state): State<AppState>,
    caller: Caller,
    Path((role, account)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    assignment(&state, &caller, &role, &account, false).await
}

/// The roles users of an account can be given: the built-ins and the custom roles assigned to it.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/roles", tag = "roles", params(("account" = String, Path, description = "Account UUID or number")),
    responses((status = 200, body = Vec<RoleOut>)))]
pub(crate) async fn account_roles(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
) -> ApiResult<Json<Vec<RoleOut>>> {
    let mut db = state.store.handle().await?;
    let (target, scope) =
        authorized(&mut db, &caller, &account, Feature::Roles, Verb::View).await?;
    let builtins: &[Base] = if target.kind == AccountKind::Partner {
        &[Base::Partner]
    } else {
        &[Base::AccountAdmin, Base::User]
    };
    let mut out_roles: Vec<RoleOut> = builtins
        .iter()
        .map(|b| RoleOut {
            id: b.as_str().into(),
            name: match b {
                Base::Partner => "Partner",
                Base::AccountAdmin => "Account Admin",
                Base::User => "User",
            }
            .into(),
            description: None,
            base: b.as_str().into(),
            permissions: PermissionSet::full(*b).to_names(),
            created_at: String::new(),
            modified_at: String::new(),
        })
        .collect();
    let custom = if target.kind == AccountKind::Partner {
        store::list(&mut db, &AccountScope::for_system(target.id))
            .await?
            .into_iter()
            .filter(|r| r.base == "partner")
            .collect()
    } else {
        store::assigned_to(&mut db, &scope).await?
    };
    for r in custom {
        out_roles.push(out(r)?);
    }
    Ok(Json(out_roles))
}
