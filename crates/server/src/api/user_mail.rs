//! Welcome and password-reset mail for users, and passwords set by an administrator.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use skybridge_domain::UserId;
use skybridge_domain::event::{Action, NewEvent};
use skybridge_domain::permissions::{Feature, Verb};
use skybridge_domain::policy::AccountScope;
use skybridge_identity::password::check_policy;
use skybridge_store::links::Purpose;
use skybridge_store::outbox;
use skybridge_store::users::{self as store, UserFilter, UserRow};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::json::Body;
use super::users::resolve_role;
use super::{audit, authorized, ensure_active};
use crate::auth::Caller;
use crate::clock::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::mail::{Recipient, enqueue_link_mail};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send_welcome))
        .routes(routes!(send_welcome_bulk))
        .routes(routes!(send_reset))
        .routes(routes!(set_password))
        .routes(routes!(list_mail))
}

pub(crate) fn parse_user(raw: &str) -> ApiResult<UserId> {
    raw.parse().map_err(|_| ApiError::NotFound("user"))
}

/// Welcome mail needs Users ADD or EDIT (spec: the cross-row rule of the Users row); `holds` already makes
/// both depend on VIEW.
fn check_welcome_right(caller: &Caller) -> ApiResult<()> {
    let p = &caller.principal;
    if !(p.holds(Feature::Users, Verb::Add) || p.holds(Feature::Users, Verb::Edit)) {
        return Err(ApiError::Forbidden(
            "sending welcome mail needs users.add or users.edit".into(),
        ));
    }
    Ok(())
}

async fn queue(
    tx: &mut skybridge_store::Tx,
    state: &AppState,
    caller: &Caller,
    scope: &AccountScope,
    user: &UserRow,
    purpose: Purpose,
) -> ApiResult<String> {
    let id = user.user_id()?;
    let to = Recipient {
        account_id: scope.account_id(),
        user_id: id,
        name: &user.display_name,
        email: &user.email,
    };
    let mail_id = enqueue_link_mail(tx, &state.config, state.now(), purpose, &to).await?;
    audit(
        tx,
        state,
        caller,
        NewEvent::admin(scope.account_id(), caller.actor(), Action::Edit, "User", id)
            .changed([format!("{}_mail", purpose.as_str())])
            .detail("fullname", user.display_name.clone())
            .detail("email", user.email.clone())
            .tag(format!("{}_mail", purpose.as_str())),
    )
    .await?;
    Ok(mail_id)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Queued {
    /// Outbox ids of the mail queued.
    pub mail_ids: Vec<String>,
}

/// Resend the welcome mail to one user (a new link; earlier ones stop working).
#[utoipa::path(post, path = "/api/v1/accounts/{account}/users/{user}/welcome", tag = "users",
    params(("account" = String, Path, description = "Account UUID or number"), ("user" = String, Path, description = "User id")),
    responses((status = 202, body = Queued), (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub(crate) async fn send_welcome(
    State(state): State<AppState>,
    caller: Caller,
    Path((account, user)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<Queued>)> {
    let id = parse_user(&user)?;
    let mut tx = state.store.begin().await?;
    let (target, scope) =
        authorized(&mut tx, &caller, &account, Feature::Users, Verb::View).await?;
    check_welcome_right(&caller)?;
    ensure_active(&target)?;
    let row = store::get(&mut tx, &scope, id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let mail_id = welcome_in(&mut tx, &state, &caller, &scope, &row).await?;
    tx.commit().await?;
    state.mail.wake();
    Ok((
        StatusCode::ACCEPTED,
        Json(Queued {
            mail_ids: vec![mail_id],
        }),
    ))
}

/// Queues the welcome mail of `row` in `tx`, with its audit event; a registered user gets a reset instead.
/// The caller may send welcome mail in the account ([`check_welcome_right`]). Shared by the API and the bulk
/// welcome job; a refusal writes nothing.
pub(crate) async fn welcome_in(
    tx: &mut skybridge_store::Tx,
    state: &AppState,
    caller: &Caller,
    scope: &AccountScope,
    row: &UserRow,
) -> ApiResult<String> {
    if row.registered {
        return Err(ApiError::Conflict(
            "the user is already registered; send a password reset instead".into(),
        ));
    }
    queue(tx, state, caller, scope, row, Purpose::Welcome).await
}

/// Queues a password-reset mail for `row` in `tx`, with its audit event. The caller has Users EDIT in the
/// account. Shared by the API and the bulk reset job.
pub(crate) async fn reset_in(
    tx: &mut skybridge_store::Tx,
    state: &AppState,
    caller: &Caller,
    scope: &AccountScope,
    row: &UserRow,
) -> ApiResult<String> {
    queue(tx, state, caller, scope, row, Purpose::Reset).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WelcomeSelection {
    /// The selected users; or
    pub user_ids: Option<Vec<String>>,
    /// every unregistered user of the account.
    pub all: Option<bool>,
}

const MAX_WELCOME: usize = 10_000;

/// Send the welcome mail to selected users, or to every unregistered user of the account.
#[utoipa::path(post, path = "/api/v1/accounts/{account}/users/welcome", tag = "users", request_body = WelcomeSelection,
    params(("account" = String, Path, description = "Account UUID or number")),
    responses((status = 202, body = Queued), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub(crate) async fn send_welcome_bulk(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
    Body(sel): Body<WelcomeSelection>,
) -> ApiResult<(StatusCode, Json<Queued>)> {
    let mut tx = state.store.begin().await?;
    let (target, scope) =
        authorized(&mut tx, &caller, &account, Feature::Users, Verb::View).await?;
    check_welcome_right(&caller)?;
    ensure_active(&target)?;
    let users: Vec<UserRow> = match (sel.user_ids, sel.all) {
        (Some(ids), None | Some(false)) => {
            if ids.is_empty() || ids.len() > MAX_WELCOME {
                return Err(ApiError::bad(
                    "user_ids",
                    format!("select 1 to {MAX_WELCOME} users"),
                ));
            }
            let mut rows = Vec::with_capacity(ids.len());
            for (i, raw) in ids.iter().enumerate() {
                let id: UserId = raw
                    .parse()
                    .map_err(|_| ApiError::bad(format!("user_ids[{i}]"), "not a user id"))?;
                let row = store::get(&mut tx, &scope, id)
                    .await?
                    .ok_or(ApiError::NotFound("user"))?;
                if !row.registered {
                    rows.push(row);
                }
            }
            rows
        }
        (None, Some(true)) => {
            let filter = UserFilter {
                property: Some(skybridge_domain::user::PropertyFilter::Unregistered),
                ..UserFilter::default()
            };
            let mut rows = Vec::new();
            let mut after = None;
            loop {
                let page = store::list(&mut tx, &scope, &filter, after.clone(), 500).await?;
                let done = page.len() < 500;
                after = page
                    .last()
                    .map(|u| (u.display_name.to_lowercase(), u.id.clone()));
                rows.extend(page);
                if done || rows.len() > MAX_WELCOME {
                    break;
                }
            }
            rows
        }
        _ => {
            return Err(ApiError::bad(
                "user_ids",
                "give either user_ids or \"all\": true",
            ));
        }
    };
    let mut mail_ids = Vec::with_capacity(users.len());
    for u in &users {
        mail_ids.push(queue(&mut tx, &state, &caller, &scope, u, Purpose::Welcome).await?);
    }
    tx.commit().await?;
    state.mail.wake();
    Ok((StatusCode::ACCEPTED, Json(Queued { mail_ids })))
}

/// Send a password-reset mail to a user.
#[utoipa::path(post, path = "/api/v1/accounts/{account}/users/{user}/reset-password", tag = "users",
    params(("account" = String, Path, description = "Account UUID or number"), ("user" = String, Path, description = "User id")),
    responses((status = 202, body = Queued), (status = 403, body = crate::error::Problem)))]
pub(crate) async fn send_reset(
    State(state): State<AppState>,
    caller: Caller,
    Path((account, user)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<Queued>)> {
    let id = parse_user(&user)?;
    let mut tx = state.store.begin().await?;
    let (target, scope) =
        authorized(&mut tx, &caller, &account, Feature::Users, Verb::Edit).await?;
    ensure_active(&target)?;
    let row = store::get(&mut tx, &scope, id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let mail_id = reset_in(&mut tx, &state, &caller, &scope, &row).await?;
    tx.commit().await?;
    state.mail.wake();
    Ok((
        StatusCode::ACCEPTED,
        Json(Queued {
            mail_ids: vec![mail_id],
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    pub password: String,
}

/// Set a user's password (operator recovery; `skybridge admin users set-password`).
#[utoipa::path(put, path = "/api/v1/accounts/{account}/users/{user}/password", tag = "users", request_body = NewPassword,
    params(("account" = String, Path, description = "Account UUID or number"), ("user" = String, Path, description = "User id")),
    responses((status = 204), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
async fn set_password(
    State(state): State<AppState>,
    caller: Caller,
    Path((account, user)): Path<(String, String)>,
    Body(input): Body<NewPassword>,
) -> ApiResult<StatusCode> {
    let id = parse_user(&user)?;
    let mut db = state.store.handle().await?;
    let (target, scope) =
        authorized(&mut db, &caller, &account, Feature::Users, Verb::Edit).await?;
    let row = store::get(&mut db, &scope, id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    if let Err(ApiError::Forbidden(_)) =
        resolve_role(&mut db, &caller, &target, &row.role.clone()).await
    {
        return Err(ApiError::Forbidden(
            "you cannot set the password of a user who holds more than you".into(),
        ));
    }
    drop(db);
    check_policy(&input.password, &row.email)
        .map_err(|e| ApiError::bad("password", e.to_string()))?;
    let hash = state
        .hasher
        .hash(&input.password)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let mut tx = state.store.begin().await?;
    ensure_active(&target)?;
    store::set_password(&mut tx, &scope, id, &hash, state.now()).await?;
    // A password set by an administrator replaces whatever the user (or an intruder) knew: sign out.
    skybridge_store::sessions::delete_for_user(&mut tx, &scope, id).await?;
    skybridge_store::oauth::grants::revoke_for_user(&mut tx, &scope, id, state.now()).await?;
    audit(
        &mut tx,
        &state,
        &caller,
        NewEvent::admin(target.id, caller.actor(), Action::Edit, "User", id)
            .changed(["password"])
            .detail("fullname", row.display_name.clone())
            .tag("password"),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MailOut {
    pub id: String,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    /// pending, sent or failed.
    pub status: String,
    pub attempts: i64,
    /// The last delivery error ("Failed to send …" once given up).
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
}

/// The account's recent mail and its delivery state.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/mail", tag = "users",
    params(("account" = String, Path, description = "Account UUID or number")),
    responses((status = 200, body = Vec<MailOut>)))]
async fn list_mail(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
) -> ApiResult<Json<Vec<MailOut>>> {
    let mut db = state.store.handle().await?;
    let (_, scope) = authorized(&mut db, &caller, &account, Feature::Users, Verb::View).await?;
    let rows = outbox::list(&mut db, &scope, 200).await?;
    Ok(Json(
        rows.into_iter()
            .map(|m| MailOut {
                id: m.id,
                kind: m.kind,
                recipient: m.recipient,
                subject: m.subject,
                status: m.status,
                attempts: m.attempts,
                last_error: m.last_error,
                created_at: rfc3339(m.created_at),
                sent_at: m.sent_at.map(rfc3339),
            })
            .collect(),
    ))
}
