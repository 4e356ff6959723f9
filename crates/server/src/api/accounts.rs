//! Customer accounts: create, read, list, edit, deactivate, reactivate, delete; support contacts.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rand::Rng;
use serde::{Deserialize, Serialize};
use skybridge_domain::account::{
    ACCOUNT_NUMBER_RANGE, AccountKind, AccountStatus, Lifecycle, LifecycleError,
};
use skybridge_domain::event::{Action, NewEvent};
use skybridge_domain::permissions::{Feature, Verb};
use skybridge_domain::policy::{AccountRef, AccountScope, account_list_scope, authorize};
use skybridge_domain::validate::{self, ADDRESS_MAX, NAME_MAX, POSTAL_CODE_MAX, SHORT_TEXT_MAX};
use skybridge_domain::{AccountId, UserId};
use skybridge_store::accounts::{self as store, AccountFilter, AccountRow, ContactRow};
use skybridge_store::{Exec, StoreError, managers, users as user_store};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::json::{Body, Params, nullable};
use super::page::{self, Page};
use super::{audit, authorized, confirm, ensure_active};
use crate::auth::Caller;
use crate::clock::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_accounts, create_account))
        .routes(routes!(get_account, update_account, delete_account))
        .routes(routes!(deactivate_account))
        .routes(routes!(reactivate_account))
}

/// A support contact: a partner user (by id) or a bare e-mail address.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactIn {
    pub user_id: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ContactOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    pub name: String,
    /// ISO 3166-1 alpha-2 code.
    pub country: String,
    pub province: String,
    pub address: String,
    pub address2: Option<String>,
    pub city: String,
    pub postal_code: String,
    /// BCP 47 tag; defaults to en-US.
    pub default_language: Option<String>,
    pub business_type: Option<String>,
    /// One of the configured regions; defaults to the first. Cannot be changed later.
    pub cloud_location: Option<String>,
    /// At least one.
    pub support_contacts: Vec<ContactIn>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountPatch {
    pub name: Option<String>,
    pub country: Option<String>,
    pub province: Option<String>,
    pub address: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub address2: Option<Option<String>>,
    pub city: Option<String>,
    pub postal_code: Option<String>,
    pub default_language: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub business_type: Option<Option<String>>,
    pub bandwidth_optimization: Option<bool>,
    pub support_contacts: Option<Vec<ContactIn>>,
    /// Read-only; present only to be refused with a clear message.
    pub cloud_location: Option<serde_json::Value>,
    /// Read-only.
    pub sap_customer_number: Option<serde_json::Value>,
    /// Read-only.
    pub pbx_type: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Privileges {
    pub delegated_authentication: bool,
    pub allow_guest_access: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountOut {
    pub id: String,
    /// The 9-digit Account ID shown to people.
    pub number: i64,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<String>,
    pub name: String,
    pub country: String,
    pub province: String,
    pub address: String,
    pub address2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub default_language: String,
    pub business_type: Option<String>,
    pub sap_customer_number: Option<String>,
    pub cloud_location: String,
    pub pbx_type: Option<String>,
    pub status: String,
    pub privileges: Privileges,
    pub bandwidth_optimization: bool,
    pub support_contacts: Vec<ContactOut>,
    pub created_at: String,
    pub modified_at: String,
    pub modified_by: String,
}

fn out(row: AccountRow, contacts: Vec<ContactOut>) -> AccountOut {
    AccountOut {
        id: row.id,
        number: row.number,
        kind: row.kind,
        partner_id: row.partner_id,
        name: row.name,
        country: row.country,
        province: row.province,
        address: row.address,
        address2: row.address2,
        city: row.city,
        postal_code: row.postal_code,
        default_language: row.default_language,
        business_type: row.business_type,
        sap_customer_number: row.sap_customer_number,
        cloud_location: row.cloud_location,
        pbx_type: row.pbx_type,
        status: row.status,
        privileges: Privileges {
            delegated_authentication: row.delegated_authentication,
            allow_guest_access: row.allow_guest_access,
        },
        bandwidth_optimization: row.bandwidth_optimization,
        support_contacts: contacts,
        created_at: rfc3339(row.created_at),
        modified_at: rfc3339(row.modified_at),
        modified_by: row.modified_by,
    }
}

const MAX_CONTACTS: usize = 20;

/// Validates support contacts: partner users of the account's partner, or valid e-mail addresses.
async fn check_contacts(
    db: &mut impl Exec,
    partner: AccountId,
    given: &[ContactIn],
) -> ApiResult<Vec<ContactRow>> {
    if given.is_empty() {
        return Err(ApiError::rule(
            Some("support_contacts"),
            "at least one support contact is required",
        ));
    }
    if given.len() > MAX_CONTACTS {
        return Err(ApiError::bad(
            "support_contacts",
            format!("at most {MAX_CONTACTS} support contacts"),
        ));
    }
    let partner_scope = AccountScope::for_system(partner);
    let mut rows: Vec<ContactRow> = Vec::with_capacity(given.len());
    for (i, c) in given.iter().enumerate() {
        let field = format!("support_contacts[{i}]");
        let row = match (&c.user_id, &c.email) {
            (Some(uid), None) => {
                let id: UserId = uid
                    .parse()
                    .map_err(|_| ApiError::bad(&field, "user_id is not a user id"))?;
                if user_store::get(db, &partner_scope, id).await?.is_none() {
                    return Err(ApiError::rule(
                        Some(&field),
                        "user_id must be a user of the Partner Account",
                    ));
                }
                ContactRow {
                    position: i as i64,
                    user_id: Some(id.to_string()),
                    email: None,
                }
            }
            (None, Some(email)) => {
                let email = validate::email(&field, email)?;
                ContactRow {
                    position: i as i64,
                    user_id: None,
                    email: Some(email),
                }
            }
            _ => {
                return Err(ApiError::bad(
                    &field,
                    "give exactly one of user_id or email",
                ));
            }
        };
        let duplicate = rows.iter().any(|r| {
            (r.user_id.is_some() && r.user_id == row.user_id)
                || (r.email.is_some()
                    && r.email.as_deref().map(str::to_lowercase)
                        == row.email.as_deref().map(str::to_lowercase))
        });
        if duplicate {
            return Err(ApiError::bad(
                &field,
                "this support contact is listed twice",
            ));
        }
        rows.push(row);
    }
    Ok(rows)
}

async fn contacts_out(
    db: &mut impl Exec,
    scope: &AccountScope,
    partner: AccountId,
) -> ApiResult<Vec<ContactOut>> {
    let partner_scope = AccountScope::for_system(partner);
    let mut out = Vec::new();
    for c in store::contacts(db, scope).await? {
        match (c.user_id, c.email) {
            (Some(uid), _) => {
                let id: UserId = uid.parse().map_err(StoreError::corrupt)?;
                if let Some(u) = user_store::get(db, &partner_scope, id).await? {
                    out.push(ContactOut {
                        user_id: Some(uid),
                        name: Some(u.display_name),
                        email: u.email,
                    });
                }
            }
            (None, Some(email)) => out.push(ContactOut {
                user_id: None,
                name: None,
                email,
            }),
            (None, None) => {}
        }
    }
    Ok(out)
}

/// Loads an authorized account with its contacts, as the API shows it.
pub async fn load_out(
    db: &mut impl Exec,
    target: &AccountRef,
    scope: &AccountScope,
) -> ApiResult<AccountOut> {
    let row = store::get(db, scope)
        .await?
        .ok_or(ApiError::NotFound("account"))?;
    let contacts = contacts_out(db, scope, target.partner_root()).await?;
    Ok(out(row, contacts))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Substring of the account name, or an exact 9-digit account number.
    pub q: Option<String>,
    /// `active` (default: active and deactivated) or `deactivated`.
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// List the accounts the caller can reach.
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", params(ListQuery),
    responses((status = 200, body = Page<AccountOut>), (status = 400, body = crate::error::Problem)))]
pub(crate) async fn list_accounts(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<ListQuery>,
) -> ApiResult<Json<Page<AccountOut>>> {
    if !caller.principal.holds(Feature::Account, Verb::View) {
        return Err(ApiError::Forbidden(
            "your role does not allow account.view".into(),
        ));
    }
    let scope = account_list_scope(&caller.principal)?;
    let limit = page::limit(q.limit)?;
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some("active") => Some(AccountStatus::Active),
        Some("deactivated") => Some(AccountStatus::Deactivated),
        Some(other) => {
            return Err(ApiError::bad(
                "status",
                format!("unknown status {other:?}; use active or deactivated"),
            ));
        }
    };
    let after: Option<(String, String)> = page::decode(q.cursor.as_deref())?;
    let mut db = state.store.handle().await?;
    let rows = store::list(
        &mut db,
        &scope,
        &AccountFilter { status, q: q.q },
        after,
        limit + 1,
    )
    .await?;
    let more = rows.len() as i64 > limit;
    let mut items = Vec::with_capacity(rows.len());
    let mut next = None;
    for row in rows.into_iter().take(limit as usize) {
        next = Some((row.name.to_lowercase(), row.id.clone()));
        let target = row.account_ref()?;
        let scope = AccountScope::for_system(target.id);
        let contacts = contacts_out(&mut db, &scope, target.partner_root()).await?;
        items.push(out(row, contacts));
    }
    let next_cursor = if more {
        next.map(|k| page::encode(&k))
    } else {
        None
    };
    Ok(Json(Page { items, next_cursor }))
}

/// Create a customer account under the caller's Partner Account.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = NewAccount,
    responses((status = 201, body = AccountOut), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub(crate) async fn create_account(
    State(state): State<AppState>,
    caller: Caller,
    Body(input): Body<NewAccount>,
) -> ApiResult<(StatusCode, Json<AccountOut>)> {
    let home = caller.principal.home.clone();
    if home.kind != AccountKind::Partner {
        return Err(ApiError::Forbidden(
            "only partner staff create customer accounts".into(),
        ));
    }
    authorize(&caller.principal, &home, Feature::Accounts, Verb::Add)?;
    let name = validate::required_text("name", &input.name, NAME_MAX)?;
    let country = validate::country("country", &input.country)?;
    let province = validate::required_text("province", &input.province, SHORT_TEXT_MAX)?;
    let address = validate::required_text("address", &input.address, ADDRESS_MAX)?;
    let address2 = validate::optional_text("address2", input.address2.as_deref(), ADDRESS_MAX)?;
    let city = validate::required_text("city", &input.city, SHORT_TEXT_MAX)?;
    let postal_code = validate::required_text("postal_code", &input.postal_code, POSTAL_CODE_MAX)?;
    let default_language = match &input.default_language {
        Some(l) => validate::language("default_language", l)?,
        None => "en-US".to_string(),
    };
    let business_type = validate::optional_text(
        "business_type",
        input.business_type.as_deref(),
        SHORT_TEXT_MAX,
    )?;
    let locations = &state.config.cloud_locations;
    let cloud_location = match &input.cloud_location {
        Some(l) => locations
            .iter()
            .find(|x| x.eq_ignore_ascii_case(l.trim()))
            .cloned()
            .ok_or_else(|| {
                ApiError::bad(
                    "cloud_location",
                    format!(
                        "unknown cloud location; choose one of: {}",
                        locations.join(", ")
                    ),
                )
            })?,
        None => locations.first().cloned().unwrap_or_default(),
    };
    let mut tx = state.store.begin().await?;
    let contacts = check_contacts(&mut tx, home.id, &input.support_contacts).await?;
    let now = state.now();
    let id = AccountId::new();
    let mut number = 0;
    for _ in 0..8 {
        let candidate = rand::rng().random_range(ACCOUNT_NUMBER_RANGE);
        if !store::number_taken(&mut tx, candidate).await? {
            number = candidate;
            break;
        }
    }
    if number == 0 {
        return Err(anyhow::anyhow!("could not draw a free account number").into());
    }
    let row = AccountRow {
        id: id.to_string(),
        number,
        kind: AccountKind::Customer.as_str().into(),
        partner_id: Some(home.id.to_string()),
        name,
        country,
        province,
        address,
        address2,
        city,
        postal_code,
        default_language,
        business_type,
        sap_customer_number: None,
        cloud_location,
        pbx_type: None,
        status: AccountStatus::Active.as_str().into(),
        delegated_authentication: false,
        allow_guest_access: false,
        bandwidth_optimization: false,
        chat_allow_edit_delete: true,
        created_at: now,
        modified_at: now,
        modified_by: caller.display_name.clone(),
    };
    store::insert(&mut tx, &row).await?;
    let scope = AccountScope::for_system(id);
    store::replace_contacts(&mut tx, &scope, &contacts).await?;
    // An Account Manager who creates an account manages it; otherwise it would vanish from their view.
    if !caller.principal.is_unrestricted_partner() {
        managers::assign(&mut tx, caller.principal.user_id, &scope, now).await?;
    }
    audit(
        &mut tx,
        &state,
        &caller,
        NewEvent::admin(id, caller.actor(), Action::Create, "Account", id)
            .changed([
                "name",
                "country",
                "province",
                "address",
                "city",
                "postal_code",
                "support_contacts",
            ])
            .detail("accountnumber", number)
            .detail("name", row.name.clone())
            .tag("account"),
    )
    .await?;
    let target = AccountRef {
        id,
        kind: AccountKind::Customer,
        partner_id: Some(home.id),
        status: AccountStatus::Active,
    };
    let out = load_out(&mut tx, &target, &scope).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// Read an account (by UUID or 9-digit number).
#[utoipa::path(get, path = "/api/v1/accounts/{account}", tag = "accounts",
    params(("account" = String, Path, description = "Account UUID or 9-digit number")),
    responses((status = 200, body = AccountOut), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn get_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
) -> ApiResult<Json<AccountOut>> {
    let mut db = state.store.handle().await?;
    let (target, scope) =
        authorized(&mut db, &caller, &account, Feature::Account, Verb::View).await?;
    Ok(Json(load_out(&mut db, &target, &scope).await?))
}

/// Edit account information and support contacts.
#[utoipa::path(patch, path = "/api/v1/accounts/{account}", tag = "accounts", request_body = AccountPatch,
    params(("account" = String, Path, description = "Account UUID or 9-digit number")),
    responses((status = 200, body = AccountOut), (status = 400, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn update_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
    Body(p): Body<AccountPatch>,
) -> ApiResult<Json<AccountOut>> {
    for (field, present) in [
        ("cloud_location", p.cloud_location.is_some()),
        ("sap_customer_number", p.sap_customer_number.is_some()),
        ("pbx_type", p.pbx_type.is_some()),
    ] {
        if present {
            return Err(ApiError::rule(Some(field), format!("{field} is read-only")));
        }
    }
    let mut tx = state.store.begin().await?;
    let (target, scope) =
        authorized(&mut tx, &caller, &account, Feature::Account, Verb::Edit).await?;
    ensure_active(&target)?;
    let mut row = store::get(&mut tx, &scope)
        .await?
        .ok_or(ApiError::NotFound("account"))?;
    let mut changed: Vec<&str> = Vec::new();
    macro_rules! set {
        ($field:ident, $value:expr) => {{
            let v = $value;
            if row.$field != v {
                row.$field = v;
                changed.push(stringify!($field));
            }
        }};
    }
    if let Some(v) = &p.name {
        set!(name, validate::required_text("name", v, NAME_MAX)?);
    }
    if let Some(v) = &p.country {
        set!(country, validate::country("country", v)?);
    }
    if let Some(v) = &p.province {
        set!(
            province,
            validate::required_text("province", v, SHORT_TEXT_MAX)?
        );
    }
    if let Some(v) = &p.address {
        set!(address, validate::required_text("address", v, ADDRESS_MAX)?);
    }
    if let Some(v) = &p.address2 {
        set!(
            address2,
            validate::optional_text("address2", v.as_deref(), ADDRESS_MAX)?
        );
    }
    if let Some(v) = &p.city {
        set!(city, validate::required_text("city", v, SHORT_TEXT_MAX)?);
    }
    if let Some(v) = &p.postal_code {
        set!(
            postal_code,
            validate::required_text("postal_code", v, POSTAL_CODE_MAX)?
        );
    }
    if let Some(v) = &p.default_language {
        set!(default_language, validate::language("default_language", v)?);
    }
    if let Some(v) = &p.business_type {
        set!(
            business_type,
            validate::optional_text("business_type", v.as_deref(), SHORT_TEXT_MAX)?
        );
    }
    if let Some(v) = p.bandwidth_optimization {
        set!(bandwidth_optimization, v);
    }
    if let Some(given) = &p.support_contacts {
        let contacts = check_contacts(&mut tx, target.partner_root(), given).await?;
        let before = store::contacts(&mut tx, &scope).await?;
        let same = before.len() == contacts.len()
            && before
                .iter()
                .zip(&contacts)
                .all(|(a, b)| a.user_id == b.user_id && a.email == b.email);
        if !same {
            store::replace_contacts(&mut tx, &scope, &contacts).await?;
            changed.push("support_contacts");
        }
    }
    if !changed.is_empty() {
        row.modified_at = state.now();
        row.modified_by = caller.display_name.clone();
        store::update(&mut tx, &scope, &row).await?;
        audit(
            &mut tx,
            &state,
            &caller,
            NewEvent::admin(
                target.id,
                caller.actor(),
                Action::Edit,
                "Account",
                target.id,
            )
            .changed(changed.iter().copied())
            .detail("accountnumber", row.number)
            .tag("account"),
        )
        .await?;
    }
    let out = load_out(&mut tx, &target, &scope).await?;
    tx.commit().await?;
    Ok(Json(out))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    /// The word the console asks for: `deactivate`, `reactivate` or `delete`.
    pub confirm: String,
}

async fn lifecycle(
    state: &AppState,
    caller: &Caller,
    account: &str,
    action: Lifecycle,
    confirmation: &str,
) -> ApiResult<AccountOut> {
    let verb = if action == Lifecycle::Delete {
        Verb::Delete
    } else {
        Verb::Edit
    };
    let mut tx = state.store.begin().await?;
    let (target, scope) = authorized(&mut tx, caller, account, Feature::Accounts, verb).await?;
    let mut row = store::get(&mut tx, &scope)
        .await?
        .ok_or(ApiError::NotFound("account"))?;
    let next = action
        .apply(target.kind, target.status, confirmation)
        .map_err(|e| match e {
            LifecycleError::Confirmation(word) => {
                ApiError::bad("confirm", format!("type {word:?} to confirm"))
            }
            other => ApiError::Conflict(other.to_string()),
        })?;
    row.status = next.as_str().to_string();
    row.modified_at = state.now();
    row.modified_by = caller.display_name.clone();
    store::update(&mut tx, &scope, &row).await?;
    if next != skybridge_domain::account::AccountStatus::Active {
        // Its users are signed out and the tokens the provider issued to them end now, not at next use.
        skybridge_store::sessions::delete_for_account(&mut tx, &scope).await?;
        skybridge_store::oauth::grants::revoke_for_account(&mut tx, &scope, state.now()).await?;
        // Its clients stop working; drop what this node remembers of them.
        state.clients.clear();
    }
    let event_action = if action == Lifecycle::Delete {
        Action::Delete
    } else {
        Action::Edit
    };
    audit(
        &mut tx,
        state,
        caller,
        NewEvent::admin(
            target.id,
            caller.actor(),
            event_action,
            "Account",
            target.id,
        )
        .changed(["status"])
        .detail("accountnumber", row.number)
        .detail("status", next.as_str())
        .tag("account")
        .tag(action.confirmation_word()),
    )
    .await?;
    let contacts = contacts_out(&mut tx, &scope, target.partner_root()).await?;
    tx.commit().await?;
    Ok(out(row, contacts))
}

/// Deactivate a customer account: its users can no longer act, its tokens stop working.
#[utoipa::path(post, path = "/api/v1/accounts/{account}/deactivate", tag = "accounts", request_body = Confirmation,
    params(("account" = String, Path, description = "Account UUID or 9-digit number")),
    responses((status = 200, body = AccountOut), (status = 400, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub(crate) async fn deactivate_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
    Body(c): Body<Confirmation>,
) -> ApiResult<Json<AccountOut>> {
    Ok(Json(
        lifecycle(&state, &caller, &account, Lifecycle::Deactivate, &c.confirm).await?,
    ))
}

/// Reactivate a deactivated customer account.
#[utoipa::path(post, path = "/api/v1/accounts/{account}/reactivate", tag = "accounts", request_body = Confirmation,
    params(("account" = String, Path, description = "Account UUID or 9-digit number")),
    responses((status = 200, body = AccountOut), (status = 400, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub(crate) async fn reactivate_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
    Body(c): Body<Confirmation>,
) -> ApiResult<Json<AccountOut>> {
    Ok(Json(
        lifecycle(&state, &caller, &account, Lifecycle::Reactivate, &c.confirm).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// Must be `delete`.
    pub confirm: Option<String>,
}

/// Delete a customer account (the Partner Account cannot be deleted).
#[utoipa::path(delete, path = "/api/v1/accounts/{account}", tag = "accounts", params(("account" = String, Path, description = "Account UUID or 9-digit number"), DeleteQuery),
    responses((status = 204), (status = 400, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub(crate) async fn delete_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
    Params(q): Params<DeleteQuery>,
) -> ApiResult<StatusCode> {
    confirm(q.confirm.as_deref(), "delete")?;
    lifecycle(&state, &caller, &account, Lifecycle::Delete, "delete").await?;
    Ok(StatusCode::NO_CONTENT)
}
