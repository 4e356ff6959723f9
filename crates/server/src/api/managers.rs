//! Account Managers: partner administrators restricted to the customer accounts assigned to them.
//! Only unrestricted partner administrators manage them, never their own entry.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use skybridge_domain::UserId;
use skybridge_domain::account::AccountKind;
use skybridge_domain::event::{Action, NewEvent};
use skybridge_domain::permissions::{Base, Feature, Verb};
use skybridge_domain::policy::{AccountScope, authorize};
use skybridge_domain::user::RoleRef;
use skybridge_store::users::{self as user_store, UserFilter, UserRow};
use skybridge_store::{Exec, managers as store, roles as role_store};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::json::{Body, Params};
use super::users::{UserOut, out as user_out};
use super::{audit, authorized};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_managers))
        .routes(routes!(managed_accounts))
        .routes(routes!(accounts_overview))
        .routes(routes!(convert))
        .routes(routes!(upgrade))
        .routes(routes!(assign))
        .routes(routes!(unassign))
}

/// The Partner Account scope, for an unrestricted partner administrator.
fn admin_scope(caller: &Caller, verb: Verb) -> ApiResult<AccountScope> {
    if caller.principal.home.kind != AccountKind::Partner
        || !caller.principal.is_unrestricted_partner()
    {
        return Err(ApiError::Forbidden(
            "only unrestricted partner administrators manage Account Managers".into(),
        ));
    }
    Ok(authorize(
        &caller.principal,
        &caller.principal.home,
        Feature::Users,
        verb,
    )?)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ManagerOut {
    #[serde(flatten)]
    pub user: UserOut,
    /// How many customer accounts are assigned (Account Managers only).
    pub managed_accounts: usize,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `managers` (default) or `administrators`.
    pub kind: Option<String>,
    pub q: Option<String>,
}

async fn is_partner_admin(
    db: &mut impl Exec,
    scope: &AccountScope,
    u: &UserRow,
) -> ApiResult<bool> {
    Ok(match u.role.parse::<RoleRef>() {
        Ok(RoleRef::Builtin(Base::Partner)) => true,
        Ok(RoleRef::Custom(id)) => role_store::get(db, scope, id)
            .await?
            .is_some_and(|r| r.base == "partner"),
        _ => false,
    })
}

/// List Account Managers or Administrators of the Partner Account.
#[utoipa::path(get, path = "/api/v1/account-managers", tag = "account managers", params(ListQuery),
    responses((status = 200, body = Vec<ManagerOut>), (status = 403, body = crate::error::Problem)))]
pub(crate) async fn list_managers(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<ListQuery>,
) -> ApiResult<Json<Vec<ManagerOut>>> {
    let scope = admin_scope(&caller, Verb::View)?;
    let want_managers = match q.kind.as_deref() {
        None | Some("managers") => true,
        Some("administrators") => false,
        Some(other) => {
            return Err(ApiError::bad(
                "kind",
                format!("unknown kind {other:?}; use managers or administrators"),
            ));
        }
    };
    let mut db = state.store.handle().await?;
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let rows = user_store::list(
            &mut db,
            &scope,
            &UserFilter {
                q: q.q.clone(),
                ..UserFilter::default()
            },
            after.clone(),
            500,
        )
        .await?;
        let done = rows.len() < 500;
        after = rows
            .last()
            .map(|u| (u.display_name.to_lowercase(), u.id.clone()));
        for u in rows {
            if u.restricted_manager != want_managers
                || !is_partner_admin(&mut db, &scope, &u).await?
            {
                continue;
            }
            let count = if u.restricted_manager {
                store::managed_accounts(&mut db, &scope, u.user_id()?)
                    .await?
                    .len()
            } else {
                0
            };
            out.push(ManagerOut {
                user: user_out(u),
                managed_accounts: count,
            });
        }
        if done {
            break;
        }
    }
    Ok(Json(out))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ManagedAccount {
    pub id: String,
    pub name: String,
    pub number: i64,
}

/// The customer accounts assigned to one Account Manager.
#[utoipa::path(get, path = "/api/v1/account-managers/{user}/accounts", tag = "account managers", params(("user" = String, Path, description = "User id")),
    responses((status = 200, body = Vec<ManagedAccount>), (status = 404, body = crate::error::Problem)))]
async fn managed_accounts(
    State(state): State<AppState>,
    caller: Caller,
    Path(user): Path<String>,
) -> ApiResult<Json<Vec<ManagedAccount>>> {
    let scope = admin_scope(&caller, Verb::View)?;
    let id: UserId = user.parse().map_err(|_| ApiError::NotFound("user"))?;
    let mut db = state.store.handle().await?;
    user_store::get(&mut db, &scope, id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let mut out = Vec::new();
    for aid in store::managed_accounts(&mut db, &scope, id).await? {
        let a_scope = AccountScope::for_system(aid);
        if let Some(a) = skybridge_store::accounts::get(&mut db, &a_scope).await?
            && a.status != "deleted"
        {
            out.push(ManagedAccount {
                id: a.id,
                name: a.name,
                number: a.number,
            });
        }
    }
    Ok(Json(out))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    pub user_ids: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    pub user_ids: Vec<String>,
    /// Customer account ids or numbers.
    pub account_ids: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BulkResult {
    /// How many (user, account) pairs or users changed.
    pub changed: usize,
}

const MAX_SELECTION: usize = 500;

/// Loads the selected partner administrators, refusing the caller's own entry and anyone else.
async fn selected(
    db: &mut impl Exec,
    caller: &Caller,
    scope: &AccountScope,
    ids: &[String],
) -> ApiResult<Vec<UserRow>> {
    if ids.is_empty() {
        return Err(ApiError::bad("user_ids", "select at least one user"));
    }
    if ids.len() > MAX_SELECTION {
        return Err(ApiError::bad(
            "user_ids",
            format!("at most {MAX_SELECTION} users at once"),
        ));
    }
    let mut rows = Vec::with_capacity(ids.len());
    for (i, raw) in ids.iter().enumerate() {
        let field = format!("user_ids[{i}]");
        let id: UserId = raw
            .parse()
            .map_err(|_| ApiError::bad(&field, "not a user id"))?;
        if id == caller.principal.user_id {
            return Err(ApiError::rule(
                Some(&field),
                "you cannot change your own entry",
            ));
        }
        let u = user_store::get(db, scope, id)
            .await?
            .ok_or(ApiError::NotFound("user"))?;
        if !is_partner_admin(db, scope, &u).await? {
            return Err(ApiError::rule(
                Some(&field),
                "only partner administrators can be Account Managers",
            ));
        }
        if !rows.iter().any(|r: &UserRow| r.id == u.id) {
            rows.push(u);
        }
    }
    Ok(rows)
}

async fn set_restricted(
    state: &AppState,
    caller: &Caller,
    sel: &Selection,
    restricted: bool,
) -> ApiResult<BulkResult> {
    let scope = admin_scope(caller, Verb::Edit)?;
    let mut tx = state.store.begin().await?;
    let users = selected(&mut tx, caller, &scope, &sel.user_ids).await?;
    let mut changed = 0;
    for mut u in users {
        if u.restricted_manager == restricted {
            continue;
        }
        let id = u.user_id()?;
        u.restricted_manager = restricted;
        u.modified_at = state.now();
        u.modified_by = caller.display_name.clone();
        user_store::update(&mut tx, &scope, &u).await?;
        if !restricted {
            store::clear(&mut tx, id).await?;
        }
        audit(
            &mut tx,
            state,
            caller,
            NewEvent::admin(
                scope.account_id(),
                caller.actor(),
                Action::Edit,
                "Account Manager",
                id,
            )
            .changed(["account_manager"])
            .detail("fullname", u.display_name.clone())
            .detail("account_manager", restricted)
            .tag(if restricted { "convert" } else { "upgrade" }),
        )
        .await?;
        changed += 1;
    }
    tx.commit().await?;
    Ok(BulkResult { changed })
}

/// Convert Administrators to Account Managers (restricted to assigned accounts, initially none).
#[utoipa::path(post, path = "/api/v1/account-managers/convert", tag = "account managers", request_body = Selection,
    responses((status = 200, body = BulkResult), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn convert(
    State(state): State<AppState>,
    caller: Caller,
    Body(sel): Body<Selection>,
) -> ApiResult<Json<BulkResult>> {
    Ok(Json(set_restricted(&state, &caller, &sel, true).await?))
}

/// Upgrade Account Managers to unrestricted Administrators.
#[utoipa::path(post, path = "/api/v1/account-managers/upgrade", tag = "account managers", request_body = Selection,
    responses((status = 200, body = BulkResult), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn upgrade(
    State(state): State<AppState>,
    caller: Caller,
    Body(sel): Body<Selection>,
) -> ApiResult<Json<BulkResult>> {
    Ok(Json(set_restricted(&state, &caller, &sel, false).await?))
}

async fn assignment(
    state: &AppState,
    caller: &Caller,
    a: &Assignment,
    assign: bool,
) -> ApiResult<BulkResult> {
    let scope = admin_scope(caller, Verb::Edit)?;
    if a.account_ids.is_empty() {
        return Err(ApiError::bad("account_ids", "select at least one account"));
    }
    if a.account_ids.len() > MAX_SELECTION {
        return Err(ApiError::bad(
            "account_ids",
            format!("at most {MAX_SELECTION} accounts at once"),
        ));
    }
    let mut tx = state.store.begin().await?;
    let users = selected(&mut tx, caller, &scope, &a.user_ids).await?;
    if let Some(u) = users.iter().find(|u| !u.restricted_manager) {
        return Err(ApiError::rule(
            Some("user_ids"),
            format!(
                "{} is an Administrator; convert them to an Account Manager first",
                u.display_name
            ),
        ));
    }
    let mut targets = Vec::new();
    for raw in &a.account_ids {
        let (target, a_scope) =
            authorized(&mut tx, caller, raw, Feature::Accounts, Verb::View).await?;
        if target.kind != AccountKind::Customer {
            return Err(ApiError::rule(
                Some("account_ids"),
                "only customer accounts are assigned to Account Managers",
            ));
        }
        targets.push((target, a_scope));
    }
    let mut changed = 0;
    for u in &users {
        let id = u.user_id()?;
        for (target, a_scope) in &targets {
            let did = if assign {
                store::assign(&mut tx, id, a_scope, state.now()).await?
            } else {
                store::unassign(&mut tx, id, a_scope).await?
            };
            if did {
                changed += 1;
                audit(
                    &mut tx,
                    state,
                    caller,
                    NewEvent::admin(
                        target.id,
                        caller.actor(),
                        Action::Edit,
                        "Account Manager",
                        id,
                    )
                    .changed(["managed_accounts"])
                    .detail("fullname", u.display_name.clone())
                    .detail(
                        if assign { "assigned" } else { "unassigned" },
                        target.id.to_string(),
                    )
                    .tag(if assign { "assign" } else { "unassign" }),
                )
                .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(BulkResult { changed })
}

/// Assign customer accounts to one or several Account Managers.
#[utoipa::path(post, path = "/api/v1/account-managers/assign", tag = "account managers", request_body = Assignment,
    responses((status = 200, body = BulkResult), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn assign(
    State(state): State<AppState>,
    caller: Caller,
    Body(a): Body<Assignment>,
) -> ApiResult<Json<BulkResult>> {
    Ok(Json(assignment(&state, &caller, &a, true).await?))
}

/// Unassign customer accounts from one or several Account Managers.
#[utoipa::path(post, path = "/api/v1/account-managers/unassign", tag = "account managers", request_body = Assignment,
    responses((status = 200, body = BulkResult), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn unassign(
    State(state): State<AppState>,
    caller: Caller,
    Body(a): Body<Assignment>,
) -> ApiResult<Json<BulkResult>> {
    Ok(Json(assignment(&state, &caller, &a, false).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OverviewQuery {
    /// Comma-separated ids of the selected Account Managers.
    pub user_ids: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountOverview {
    pub id: String,
    pub name: String,
    pub number: i64,
    /// How many Account Managers the account has in all.
    pub total_managers: i64,
    /// Which of the selected managers have it.
    pub selected_managers: Vec<String>,
    /// all, some or none of the selected managers.
    pub assigned_to: String,
}

/// For a selection of Account Managers: every customer account with how many managers it has and which of
/// the selected ones manage it (the console's "assigned to all / some / none" tabs).
#[utoipa::path(get, path = "/api/v1/account-managers/accounts", tag = "account managers", params(OverviewQuery),
    responses((status = 200, body = Vec<AccountOverview>), (status = 400, body = crate::error::Problem)))]
pub(crate) async fn accounts_overview(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<OverviewQuery>,
) -> ApiResult<Json<Vec<AccountOverview>>> {
    let scope = admin_scope(&caller, Verb::View)?;
    let ids: Vec<String> = q
        .user_ids
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let mut db = state.store.handle().await?;
    let users = selected(&mut db, &caller, &scope, &ids).await?;
    let mut managed: Vec<(String, Vec<skybridge_domain::AccountId>)> = Vec::new();
    for u in &users {
        managed.push((
            u.id.clone(),
            store::managed_accounts(&mut db, &scope, u.user_id()?).await?,
        ));
    }
    let counts: std::collections::HashMap<String, i64> = store::manager_counts(&mut db, &scope)
        .await?
        .into_iter()
        .collect();
    let list_scope = skybridge_domain::policy::account_list_scope(&caller.principal)?;
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let rows = skybridge_store::accounts::list(
            &mut db,
            &list_scope,
            &Default::default(),
            after.clone(),
            500,
        )
        .await?;
        let done = rows.len() < 500;
        after = rows.last().map(|a| (a.name.to_lowercase(), a.id.clone()));
        for a in rows {
            let aid = a.account_id()?;
            let selected_managers: Vec<String> = managed
                .iter()
                .filter(|(_, accts)| accts.contains(&aid))
                .map(|(u, _)| u.clone())
                .collect();
            let assigned_to = match selected_managers.len() {
                0 => "none",
                n if n == managed.len() => "all",
                _ => "some",
            };
            out.push(AccountOverview {
                total_managers: counts.get(&a.id).copied().unwrap_or(0),
                id: a.id,
                name: a.name,
                number: a.number,
                selected_managers,
                assigned_to: assigned_to.into(),
            });
        }
        if done {
            break;
        }
    }
    Ok(Json(out))
}
