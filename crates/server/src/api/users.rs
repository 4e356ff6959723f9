//! Users of an account: add, read, list with search and property filters, edit, delete, tokens on behalf.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use skybridge_domain::UserId;
use skybridge_domain::account::AccountKind;
use skybridge_domain::event::{Action, NewEvent};
use skybridge_domain::permissions::{Base, Feature, PermissionSet, Verb};
use skybridge_domain::policy::{AccountRef, AccountScope, authorize};
use skybridge_domain::user::{PropertyFilter, RoleRef, Source, derived_display_name};
use skybridge_domain::validate::{self, DISPLAY_NAME_MAX, NAME_MAX, SHORT_TEXT_MAX};
use skybridge_store::users::{self as store, UserFilter, UserRow};
use skybridge_store::{Exec, roles as role_store};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::json::{Body, Params, nullable};
use super::me::{NewToken, TokenCreated, TokenOut, issue_token, token_out};
use super::page::{self, Page};
use super::{audit, authorized, confirm, ensure_active};
use crate::auth::Caller;
use crate::clock::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::mail::{Recipient, enqueue_link_mail};
use crate::state::AppState;
use skybridge_store::links::Purpose;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user, delete_user))
        .routes(routes!(list_user_tokens, create_user_token))
        .routes(routes!(revoke_user_token))
        .merge(
            // 50,000 user ids are about 2 MB of JSON, over the API's 1 MiB default.
            OpenApiRouter::new()
                .routes(routes!(bulk_users))
                .layer(axum::extract::DefaultBodyLimit::max(BULK_BODY)),
        )
}

/// The body limit of `POST …/users/bulk`.
pub const BULK_BODY: usize = 4 * 1024 * 1024;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserOut {
    pub id: String,
    pub account_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: String,
    pub email: String,
    pub login_id: Option<String>,
    pub mobile: Option<String>,
    pub extension: Option<String>,
    /// `partner`, `account_admin`, `user`, or a custom role id.
    pub role: String,
    pub registered: bool,
    pub source: String,
    pub active: bool,
    /// For partner staff: true for an Account Manager (restricted to assigned accounts).
    pub account_manager: bool,
    pub created_at: String,
    pub modified_at: String,
    pub modified_by: String,
}

pub fn out(u: UserRow) -> UserOut {
    UserOut {
        id: u.id,
        account_id: u.account_id,
        first_name: u.first_name,
        last_name: u.last_name,
        display_name: u.display_name,
        email: u.email,
        login_id: u.login_id,
        mobile: u.mobile,
        extension: u.extension,
        role: u.role,
        registered: u.registered,
        source: u.source,
        active: u.active,
        account_manager: u.restricted_manager,
        created_at: rfc3339(u.created_at),
        modified_at: rfc3339(u.modified_at),
        modified_by: u.modified_by,
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub first_name: String,
    pub last_name: String,
    /// Defaults to first and last name.
    pub display_name: Option<String>,
    pub email: String,
    pub login_id: Option<String>,
    /// E.164, e.g. +14155550123.
    pub mobile: Option<String>,
    pub extension: Option<String>,
    /// Defaults to `user` in a customer account and `partner` in the Partner Account.
    pub role: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub login_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub mobile: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub extension: Option<Option<String>>,
    pub role: Option<String>,
    /// `false` deactivates the user: its sessions end, its OpenID Connect grants are revoked and its API tokens
    /// deleted, for good (`true` reactivates it without them).
    pub active: Option<bool>,
}

/// Checks that `key` names a role a user of `target` may hold and that the caller may grant it.
pub async fn resolve_role(
    db: &mut impl Exec,
    caller: &Caller,
    target: &AccountRef,
    key: &str,
) -> ApiResult<RoleRef> {
    let role: RoleRef = key.parse().map_err(|_| {
        ApiError::bad(
            "role",
            format!("unknown role {key:?}; use partner, account_admin, user or a custom role id"),
        )
    })?;
    let (base, permissions) = match role {
        RoleRef::Builtin(base) => (base, PermissionSet::full(base)),
        RoleRef::Custom(id) => {
            let scope = AccountScope::for_system(target.id);
            let row = role_store::held_in(db, &scope, id).await?.ok_or_else(|| {
                ApiError::rule(
                    Some("role"),
                    "this custom role is not assigned to the account",
                )
            })?;
            let base: Base = row
                .base
                .parse()
                .map_err(|_| anyhow::anyhow!("bad stored base"))?;
            let perms = PermissionSet::from_names("permissions", &row.permission_names()?)
                .map_err(|e| anyhow::anyhow!("stored role: {e}"))?;
            (base, perms)
        }
    };
    match (target.kind, base) {
        (AccountKind::Partner, Base::Partner)
        | (AccountKind::Customer, Base::AccountAdmin | Base::User) => {}
        (AccountKind::Partner, _) => {
            return Err(ApiError::rule(
                Some("role"),
                "users of the Partner Account hold partner-based roles",
            ));
        }
        (AccountKind::Customer, _) => {
            return Err(ApiError::rule(
                Some("role"),
                "a partner-based role cannot be held in a customer account",
            ));
        }
    }
    if !caller.principal.may_grant(base, permissions) {
        return Err(ApiError::Forbidden(
            "you cannot grant a role with permissions you do not hold".into(),
        ));
    }
    Ok(role)
}

fn synced_guard(row: &UserRow, field: &str) -> ApiResult<()> {
    let source: Source = row.source.parse().unwrap_or(Source::Console);
    let from = match source {
        Source::Scim => "SCIM (Entra ID Sync)",
        Source::Pbx => "the PBX",
        Source::MicloudConnect => "MiCloud Connect",
        _ => return Ok(()),
    };
    Err(ApiError::rule(
        Some(field),
        format!("{field} is synced from {from} and cannot be changed here"),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Search: part of the name or e-mail, or the start of the extension.
    pub q: Option<String>,
    /// One of admins, users, registered, unregistered, pbx_users, micloud_connected, inactive.
    pub property: Option<String>,
    /// Only users holding this role key.
    pub role: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// List users of an account.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/users", tag = "users",
    params(("account" = String, Path, description = "Account UUID or number"), ListQuery),
    responses((status = 200, body = Page<UserOut>), (status = 400, body = crate::error::Problem)))]
pub(crate) async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
    Params(q): Params<ListQuery>,
) -> ApiResult<Json<Page<UserOut>>> {
    let limit = page::limit(q.limit)?;
    let property = q
        .property
        .as_deref()
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<PropertyFilter>()
                .map_err(|_| ApiError::bad("property", format!("unknown property filter {p:?}")))
        })
        .transpose()?;
    let after: Option<(String, String)> = page::decode(q.cursor.as_deref())?;
    let mut db = state.store.handle().await?;
    let (_, scope) = authorized(&mut db, &caller, &account, Feature::Users, Verb::View).await?;
    let filter = UserFilter {
        q: q.q,
        property,
        role: q.role,
    };
    let rows = store::list(&mut db, &scope, &filter, after, limit + 1).await?;
    Ok(Json(page::paginate(
        rows,
        limit,
        |u| (u.display_name.to_lowercase(), u.id.clone()),
        |u| Ok(out(u)),
    )?))
}

/// Add a user to an account.
#[utoipa::path(post, path = "/api/v1/accounts/{account}/users", tag = "users", request_body = NewUser,
    params(("account" = String, Path, description = "Account UUID or number")),
    responses((status = 201, body = UserOut), (status = 400, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub(crate) async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
    Body(input): Body<NewUser>,
) -> ApiResult<(StatusCode, Json<UserOut>)> {
    let first_name = validate::required_text("first_name", &input.first_name, NAME_MAX)?;
    let last_name = validate::required_text("last_name", &input.last_name, NAME_MAX)?;
    let display_name = match &input.display_name {
        Some(d) => validate::required_text("display_name", d, DISPLAY_NAME_MAX)?,
        None => derived_display_name(&first_name, &last_name),
    };
    let email = validate::email("email", &input.email)?;
    let login_id = validate::optional_text("login_id", input.login_id.as_deref(), SHORT_TEXT_MAX)?;
    let mobile = input
        .mobile
        .as_deref()
        .map(|m| validate::e164("mobile", m))
        .transpose()?;
    let extension = input
        .extension
        .as_deref()
        .map(|e| validate::extension("extension", e))
        .transpose()?;

    let mut tx = state.store.begin().await?;
    let (target, scope) = authorized(&mut tx, &caller, &account, Feature::Users, Verb::Add).await?;
    ensure_active(&target)?;
    let default_role = if target.kind == AccountKind::Partner {
        Base::Partner
    } else {
        Base::User
    };
    let role = match input.role.as_deref() {
        None => RoleRef::Builtin(default_role),
        Some(key) => {
            let role = resolve_role(&mut tx, &caller, &target, key).await?;
            if role != RoleRef::Builtin(default_role) {
                authorize(&caller.principal, &target, Feature::Roles, Verb::Assign)?;
            }
            role
        }
    };
    let now = state.now();
    let id = UserId::new();
    let row = UserRow {
        id: id.to_string(),
        account_id: target.id.to_string(),
        first_name: Some(first_name),
        last_name: Some(last_name),
        display_name,
        email,
        login_id,
        mobile,
        extension,
        role: role.key(),
        registered: false,
        source: Source::Api.as_str().into(),
        active: true,
        restricted_manager: false,
        created_at: now,
        modified_at: now,
        modified_by: caller.display_name.clone(),
    };
    store::insert(&mut tx, &scope, &row).await.map_err(|e| match e {
        skybridge_store::StoreError::Conflict(_) => ApiError::Conflict(
            "One or more of the attribute values are already in use: a user with this email exists in the account".into(),
        ),
        other => other.into(),
    })?;
    audit(
        &mut tx,
        &state,
        &caller,
        NewEvent::admin(target.id, caller.actor(), Action::Create, "User", id)
            .changed(["first_name", "last_name", "email", "role"])
            .detail("fullname", row.display_name.clone())
            .detail("email", row.email.clone())
            .tag("user")
            .tag("welcome_mail"),
    )
    .await?;
    // Adding a user sends the welcome mail (bulk import does not).
    let to = Recipient {
        account_id: target.id,
        user_id: id,
        name: &row.display_name,
        email: &row.email,
    };
    enqueue_link_mail(&mut tx, &state.config, state.now(), Purpose::Welcome, &to).await?;
    tx.commit().await?;
    state.mail.wake();
    Ok((StatusCode::CREATED, Json(out(row))))
}

fn parse_user(raw: &str) -> ApiResult<UserId> {
    raw.parse().map_err(|_| ApiError::NotFound("user"))
}

/// Read a user.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/users/{user}", tag = "users",
    params(("account" = String, Path, description = "Account UUID or number"), ("user" = String, Path, description = "User id")),
    responses((status = 200, body = UserOut), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    Path((account, user)): Path<(String, String)>,
) -> ApiResult<Json<UserOut>> {
    let id = parse_user(&user)?;
    let mut db = state.store.handle().await?;
    let (_, scope) = authorized(&mut db, &caller, &account, Feature::Users, Verb::View).await?;
    let row = store::get(&mut db, &scope, id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    Ok(Json(out(row)))
}

/// Edit a user, including its role.
#[utoipa::path(patch, path = "/api/v1/accounts/{account}/users/{user}", tag = "users", request_body = UserPatch,
    params(("account" = String, Path, description = "Account UUID or number"), ("user" = String, Path, description = "User id")),
    responses((status = 200, body = UserOut), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    Path((account, user)): Path<(String, String)>,
    Body(p): Body<UserPatch>,
) -> ApiResult<Json<UserOut>> {
    let id = parse_user(&user)?;
    let mut tx = state.store.begin().await?;
    let (target, scope) =
        authorized(&mut tx, &caller, &account, Feature::Users, Verb::Edit).await?;
    ensure_active(&target)?;
    let mut row = store::get(&mut tx, &scope, id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let mut changed: Vec<&str> = Vec::new();
    macro_rules! set {
        ($field:ident, $value:expr, synced) => {{
            let v = $value;
            if row.$field != v {
                synced_guard(&row, stringify!($field))?;
                row.$field = v;
                changed.push(stringify!($field));
            }
        }};
        ($field:ident, $value:expr) => {{
            let v = $value;
            if row.$field != v {
                row.$field = v;
                changed.push(stringify!($field));
            }
        }};
    }
    if let Some(v) = &p.first_name {
        set!(
            first_name,
            Some(validate::required_text("first_name", v, NAME_MAX)?),
            synced
        );
    }
    if let Some(v) = &p.last_name {
        set!(
            last_name,
            Some(validate::required_text("last_name", v, NAME_MAX)?),
            synced
        );
    }
    if let Some(v) = &p.display_name {
        set!(
            display_name,
            validate::required_text("display_name", v, DISPLAY_NAME_MAX)?,
            synced
        );
    }
    if let Some(v) = &p.email {
        set!(email, validate::email("email", v)?, synced);
    }
    if let Some(v) = &p.login_id {
        set!(
            login_id,
            validate::optional_text("login_id", v.as_deref(), SHORT_TEXT_MAX)?,
            synced
        );
    }
    if let Some(v) = &p.extension {
        set!(
            extension,
            v.as_deref()
                .map(|e| validate::extension("extension", e))
                .transpose()?,
            synced
        );
    }
    if let Some(v) = &p.mobile {
        let mobile = v
            .as_deref()
            .map(|m| validate::e164("mobile", m))
            .transpose()?;
        // Entra ID owns the numbers of the users it provisions; other sources leave the mobile to admins.
        if row.source == Source::Scim.as_str() {
            set!(mobile, mobile, synced);
        } else {
            set!(mobile, mobile);
        }
    }
    if let Some(v) = p.active {
        if !v && id == caller.principal.user_id {
            return Err(ApiError::rule(
                Some("active"),
                "you cannot deactivate yourself",
            ));
        }
        set!(active, v);
    }
    if let Some(key) = &p.role {
        let role = resolve_role(&mut tx, &caller, &target, key).await?;
        if role.key() != row.role {
            authorize(&caller.principal, &target, Feature::Roles, Verb::Assign)?;
            // The holder's current role must be within the caller's too: an admin cannot demote a partner.
            let current = resolve_role(&mut tx, &caller, &target, &row.role.clone()).await;
            if let Err(ApiError::Forbidden(_)) = current {
                return Err(ApiError::Forbidden(
                    "you cannot change the role of a user who holds more than you".into(),
                ));
            }
            row.role = role.key();
            changed.push("role");
        }
    }
    if !changed.is_empty() {
        row.modified_at = state.now();
        row.modified_by = caller.display_name.clone();
        store::update(&mut tx, &scope, &row).await.map_err(|e| match e {
            skybridge_store::StoreError::Conflict(_) => ApiError::Conflict(
                "One or more of the attribute values are already in use: a user with this email exists in the account".into(),
            ),
            other => other.into(),
        })?;
        if !row.active && changed.contains(&"active") {
            // A deactivated user is signed out and loses every token, at once and for good.
            store::revoke_access(&mut tx, &scope, id, state.now()).await?;
        }
        audit(
            &mut tx,
            &state,
            &caller,
            NewEvent::admin(target.id, caller.actor(), Action::Edit, "User", id)
                .changed(changed.iter().copied())
                .detail("fullname", row.display_name.clone())
                .tag("user"),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Json(out(row)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// Must be `delete`.
    pub confirm: Option<String>,
}

/// Delete a user.
#[utoipa::path(delete, path = "/api/v1/accounts/{account}/users/{user}", tag = "users",
    params(("account" = String, Path, description = "Account UUID or number"), ("user" = String, Path, description = "User id"), DeleteQuery),
    responses((status = 204), (status = 400, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub(crate) async fn delete_user(
    State(state): State<AppState>,
    caller: Caller,
    Path((account, user)): Path<(String, String)>,
    Params(q): Params<DeleteQuery>,
) -> ApiResult<StatusCode> {
    let id = parse_user(&user)?;
    confirm(q.confirm.as_deref(), "delete")?;
    let mut tx = state.store.begin().await?;
    let (target, scope) =
        authorized(&mut tx, &caller, &account, Feature::Users, Verb::Delete).await?;
    ensure_active(&target)?;
    let row = store::get(&mut tx, &scope, id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    delete_in(&mut tx, &state, &caller, &target, &scope, &row).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes `row` in `tx` with its audit event, after the rules that protect some users (partner staff, users
/// MiCloud Connect owns, oneself, users holding more than the caller). The caller has Users DELETE on `target`.
/// Shared by the API's delete and the bulk delete job; a refusal writes nothing.
pub(crate) async fn delete_in(
    tx: &mut skybridge_store::Tx,
    state: &AppState,
    caller: &Caller,
    target: &AccountRef,
    scope: &AccountScope,
    row: &UserRow,
) -> ApiResult<()> {
    let id = row.user_id()?;
    if target.kind == AccountKind::Partner {
        return Err(ApiError::Conflict("partner users cannot be deleted".into()));
    }
    if !row
        .source
        .parse::<Source>()
        .map(Source::deletable)
        .unwrap_or(true)
    {
        return Err(ApiError::Conflict(
            "users synced from MiCloud Connect cannot be deleted".into(),
        ));
    }
    if id == caller.principal.user_id {
        return Err(ApiError::Conflict("you cannot delete yourself".into()));
    }
    if let Err(ApiError::Forbidden(_)) = resolve_role(tx, caller, target, &row.role.clone()).await {
        return Err(ApiError::Forbidden(
            "you cannot delete a user who holds more than you".into(),
        ));
    }
    store::delete(tx, scope, id).await?;
    audit(
        tx,
        state,
        caller,
        NewEvent::admin(target.id, caller.actor(), Action::Delete, "User", id)
            .detail("fullname", row.display_name.clone())
            .detail("email", row.email.clone())
            .tag("user"),
    )
    .await?;
    Ok(())
}

/// Issue an API token that acts as this user (for automation and service accounts). Needs Users EDIT and a
/// role at least as broad as the user's.
#[utoipa::path(post, path = "/api/v1/accounts/{account}/users/{user}/tokens", tag = "tokens", request_body = NewToken,
    params(("account" = String, Path, description = "Account UUID or number"), ("user" = String, Path, description = "User id")),
    responses((status = 201, body = TokenCreated), (status = 403, body = crate::error::Problem)))]
async fn create_user_token(
    State(state): State<AppState>,
    caller: Caller,
    Path((account, user)): Path<(String, String)>,
    Body(input): Body<NewToken>,
) -> ApiResult<(StatusCode, Json<TokenCreated>)> {
    let id = parse_user(&user)?;
    let mut tx = state.store.begin().await?;
    let (target, scope) =
        authorized(&mut tx, &caller, &account, Feature::Users, Verb::Edit).await?;
    ensure_active(&target)?;
    let row = store::get(&mut tx, &scope, id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    if let Err(ApiError::Forbidden(_)) =
        resolve_role(&mut tx, &caller, &target, &row.role.clone()).await
    {
        return Err(ApiError::Forbidden(
            "you cannot issue a token for a user who holds more than you".into(),
        ));
    }
    let created = issue_token(&mut tx, &state, &caller, &scope, id, &input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// List a user's API tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/accounts/{account}/users/{user}/tokens", tag = "tokens",
    params(("account" = String, Path, description = "Account UUID or number"), ("user" = String, Path, description = "User id")),
    responses((status = 200, body = Vec<TokenOut>), (status = 404, body = crate::error::Problem)))]
async fn list_user_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Path((account, user)): Path<(String, String)>,
) -> ApiResult<Json<Vec<TokenOut>>> {
    let id = parse_user(&user)?;
    let mut db = state.store.handle().await?;
    let (_, scope) = authorized(&mut db, &caller, &account, Feature::Users, Verb::Edit).await?;
    store::get(&mut db, &scope, id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let rows = skybridge_store::tokens::list(&mut db, &scope, id).await?;
    Ok(Json(rows.into_iter().map(token_out).collect()))
}

/// Revoke one of a user's API tokens.
#[utoipa::path(delete, path = "/api/v1/accounts/{account}/users/{user}/tokens/{token}", tag = "tokens",
    params(("account" = String, Path, description = "Account UUID or number"), ("user" = String, Path, description = "User id"), ("token" = String, Path, description = "Token id")),
    responses((status = 204), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
async fn revoke_user_token(
    State(state): State<AppState>,
    caller: Caller,
    Path((account, user, token)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let id = parse_user(&user)?;
    let token: skybridge_domain::TokenId =
        token.parse().map_err(|_| ApiError::NotFound("token"))?;
    let mut tx = state.store.begin().await?;
    let (target, scope) =
        authorized(&mut tx, &caller, &account, Feature::Users, Verb::Edit).await?;
    let row = store::get(&mut tx, &scope, id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    if id != caller.principal.user_id
        && let Err(ApiError::Forbidden(_)) =
            resolve_role(&mut tx, &caller, &target, &row.role.clone()).await
    {
        return Err(ApiError::Forbidden(
            "you cannot revoke the tokens of a user who holds more than you".into(),
        ));
    }
    if !skybridge_store::tokens::delete(&mut tx, &scope, id, token).await? {
        return Err(ApiError::NotFound("token"));
    }
    audit(
        &mut tx,
        &state,
        &caller,
        NewEvent::admin(
            target.id,
            caller.actor(),
            Action::Delete,
            "API Token",
            token,
        )
        .detail("user_id", id.to_string())
        .tag("token"),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkAction {
    /// `welcome` (welcome mail), `reset` (password-reset mail) or `delete`.
    pub action: String,
    /// The selected users, at most 50,000; or
    pub user_ids: Option<Vec<String>>,
    /// every user of the account when the job is created: for `welcome` the active users not yet registered,
    /// for `reset` the active users, for `delete` all users.
    pub all: Option<bool>,
    /// Must be `delete` for `delete`.
    pub confirm: Option<String>,
}

/// Start a bulk action on users: a job that sends welcome or password-reset mail to, or deletes, the selected
/// users (or all of them), as the caller. Users the action does not apply to (partner users, users MiCloud
/// Connect owns, the caller itself, registered users for welcome mail) are skipped and reported in the job and
/// in the caller's notification. Follow the job at `Location` (`GET /api/v1/jobs/{id}?wait=30`).
#[utoipa::path(post, path = "/api/v1/accounts/{account}/users/bulk", tag = "users", request_body = BulkAction,
    params(("account" = String, Path, description = "Account UUID or number")),
    responses(
        (status = 202, body = crate::api::jobs::JobOut, headers(("location" = String, description = "The job: /api/v1/jobs/{id}"))),
        (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 413, body = crate::error::Problem)))]
pub(crate) async fn bulk_users(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
    Body(input): Body<BulkAction>,
) -> ApiResult<(
    StatusCode,
    [(axum::http::HeaderName, String); 1],
    Json<crate::api::jobs::JobOut>,
)> {
    use skybridge_domain::job::{JobKind, UserSelection, UsersParams, authorize_job};
    let kind = JobKind::from_bulk_action(input.action.trim())?;
    let selection = UserSelection::from_request(input.user_ids.as_deref(), input.all)?;
    if kind == JobKind::UsersDelete {
        confirm(input.confirm.as_deref(), "delete")?;
    }
    let mut tx = state.store.begin().await?;
    let target = super::find_account(&mut tx, &account).await?;
    let scope = authorize_job(&caller.principal, &target, kind)?;
    ensure_active(&target)?;
    let now = state.now();
    let (all, items, total) = match selection {
        UserSelection::Ids(ids) => {
            let n = ids.len() as i64;
            (false, ids.iter().map(UserId::to_string).collect(), n)
        }
        // The users there are now: the job walks those created up to its own creation.
        UserSelection::All => {
            let Some(which) = kind.all_users() else {
                return Err(ApiError::bad("all", "this action takes user_ids"));
            };
            let n = skybridge_store::jobs::count_users(&mut tx, &scope, which, now).await?;
            (true, Vec::new(), n)
        }
    };
    let params = serde_json::to_string(&UsersParams { all }).map_err(anyhow::Error::from)?;
    let new = crate::api::jobs::NewJob {
        kind,
        params,
        items: &items,
        total,
        now,
    };
    let row = crate::api::jobs::create(&mut tx, &state, &caller, &target, &scope, new).await?;
    tx.commit().await?;
    state.jobs.wake();
    let location = format!("/api/v1/jobs/{}", row.id);
    Ok((
        StatusCode::ACCEPTED,
        [(axum::http::header::LOCATION, location)],
        Json(crate::api::jobs::out(row, state.now())),
    ))
}
