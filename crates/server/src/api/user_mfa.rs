//! A user's second factor as administrators see it: whether it is on, and resetting it for a user who
//! lost the device and the recovery codes.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use skybridge_domain::event::{Action, NewEvent};
use skybridge_domain::permissions::{Feature, Verb};
use skybridge_store::mfa;
use skybridge_store::users as user_store;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::user_mail::parse_user;
use super::users::resolve_role;
use super::{audit, authorized};
use crate::auth::Caller;
use crate::clock::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_mfa, reset_mfa))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MfaOut {
    pub enabled: bool,
    pub enabled_at: Option<String>,
    pub recovery_codes_left: usize,
}

/// Whether a user has two-step verification on.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/users/{user}/mfa", tag = "users",
    params(("account" = String, Path, description = "Account UUID or number"), ("user" = String, Path, description = "User id")),
    responses((status = 200, body = MfaOut), (status = 404, body = crate::error::Problem)))]
async fn get_mfa(
    State(state): State<AppState>,
    caller: Caller,
    Path((account, user)): Path<(String, String)>,
) -> ApiResult<Json<MfaOut>> {
    let id = parse_user(&user)?;
    let mut db = state.store.handle().await?;
    let (_, scope) = authorized(&mut db, &caller, &account, Feature::Users, Verb::View).await?;
    user_store::get(&mut db, &scope, id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let row = mfa::get(&mut db, &scope, id)
        .await?
        .filter(|r| r.enabled_at.is_some());
    Ok(Json(MfaOut {
        enabled: row.is_some(),
        enabled_at: row.as_ref().and_then(|r| r.enabled_at).map(rfc3339),
        recovery_codes_left: match &row {
            Some(r) => r.recovery_hashes()?.len(),
            None => 0,
        },
    }))
}

/// Turn off a user's two-step verification, so that the next sign-in needs only the password (the user
/// can then set it up again).
#[utoipa::path(delete, path = "/api/v1/accounts/{account}/users/{user}/mfa", tag = "users",
    params(("account" = String, Path, description = "Account UUID or number"), ("user" = String, Path, description = "User id")),
    responses((status = 204), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
async fn reset_mfa(
    State(state): State<AppState>,
    caller: Caller,
    Path((account, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let id = parse_user(&user)?;
    let mut db = state.store.handle().await?;
    let (target, scope) =
        authorized(&mut db, &caller, &account, Feature::Users, Verb::Edit).await?;
    let row = user_store::get(&mut db, &scope, id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    if let Err(ApiError::Forbidden(_)) = resolve_role(&mut db, &caller, &target, &row.role).await {
        return Err(ApiError::Forbidden(
            "you cannot reset the second factor of a user who holds more than you".into(),
        ));
    }
    drop(db);
    let mut tx = state.store.begin().await?;
    if !mfa::remove(&mut tx, &scope, id).await? {
        return Err(ApiError::NotFound("second factor"));
    }
    audit(
        &mut tx,
        &state,
        &caller,
        NewEvent::security(target.id, caller.actor(), Action::Edit, "MFA", id)
            .changed(["mfa"])
            .detail("mfa", "reset")
            .detail("fullname", row.display_name.clone()),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
