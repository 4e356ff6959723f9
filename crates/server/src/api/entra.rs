//! Entra ID Sync in the admin API: generating the SCIM Tenant URL and secret token, and the phone-number
//! conflict search that unblocks a sync stopped by a number already in use.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use skybridge_domain::account::AccountKind;
use skybridge_domain::event::{Action, NewEvent};
use skybridge_domain::integration::IntegrationError;
use skybridge_domain::permissions::{Feature, Verb};
use skybridge_domain::policy::{AccountScope, authorize};
use skybridge_store::Tx;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::json::Params;
use super::{audit, authorized, authorized_any, ensure_active};
use crate::auth::{Caller, hash_token, new_secret};
use crate::clock::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The catalog key of the integration.
pub const KEY: &str = "entra_id_sync";
/// Prefix of SCIM secret tokens, so a leaked one is recognisable.
pub const TOKEN_PREFIX: &str = "sbscim_";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(generate_keys))
        .routes(routes!(phone_conflicts))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScimKeys {
    /// The base URL Entra ID calls: `{public_url}/scim/v2/{account_id}`.
    pub tenant_url: String,
    /// The bearer token Entra ID sends. Shown once; generating again invalidates it at once.
    pub secret_token: String,
    pub generated_at: String,
}

/// A new token for the account and the hash to store. 256 random bits after the prefix.
pub fn new_scim_token() -> (String, String) {
    let token = format!("{TOKEN_PREFIX}{}", new_secret());
    let hash = hash_token(&token);
    (token, hash)
}

/// Replaces the account's SCIM token (the integration must be present) and records it; the caller commits.
pub async fn rotate(
    tx: &mut Tx,
    state: &AppState,
    scope: &AccountScope,
    by: &str,
) -> ApiResult<ScimKeys> {
    let present = skybridge_store::integrations::list(tx, scope)
        .await?
        .into_iter()
        .any(|r| r.key == KEY);
    if !present {
        return Err(ApiError::NotFound("integration"));
    }
    let (token, hash) = new_scim_token();
    let now = state.now();
    skybridge_store::scim::tokens::set(tx, scope, &hash, now, by).await?;
    Ok(ScimKeys {
        tenant_url: format!(
            "{}{}/{}",
            state.config.public_url(),
            crate::scim::PREFIX,
            scope.account_id()
        ),
        secret_token: token,
        generated_at: rfc3339(now),
    })
}

/// Generate the Tenant URL and secret token Entra ID provisions with ("Generate keys").
#[utoipa::path(post, path = "/api/v1/accounts/{account}/integrations/entra_id_sync/keys", tag = "integrations",
    params(("account" = String, Path, description = "Account UUID or number")),
    responses((status = 201, body = ScimKeys), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn generate_keys(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
) -> ApiResult<(StatusCode, Json<ScimKeys>)> {
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
    // The token creates, changes and deletes users and can grant the Account Admin role through SCIM: only
    // someone who may do all of that by hand may mint it.
    for (feature, verb) in [
        (Feature::Users, Verb::Add),
        (Feature::Users, Verb::Edit),
        (Feature::Users, Verb::Delete),
        (Feature::Roles, Verb::Assign),
    ] {
        authorize(&caller.principal, &target, feature, verb)?;
    }
    if target.kind == AccountKind::Partner {
        return Err(ApiError::rule(
            None,
            IntegrationError::PartnerAccount.to_string(),
        ));
    }
    let keys = rotate(&mut tx, &state, &scope, &caller.display_name).await?;
    audit(
        &mut tx,
        &state,
        &caller,
        NewEvent::admin(target.id, caller.actor(), Action::Edit, "Integration", KEY)
            .changed(["secret_token"])
            .detail("integration", "Entra ID Sync")
            .tag("integration"),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(keys)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ConflictQuery {
    /// The phone number, E.164 (`+16135922122`).
    pub phone: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PhoneHolder {
    pub id: String,
    /// The SCIM userName, or the e-mail of a user not provisioned by SCIM.
    pub user_name: String,
    /// `active` or `inactive`.
    pub status: String,
    pub name: String,
    pub phone: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PhoneConflicts {
    pub items: Vec<PhoneHolder>,
}

/// Phone Number Conflict Search: the active and inactive users of the account holding a number.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/users/phone-conflicts", tag = "users",
    params(("account" = String, Path, description = "Account UUID or number"), ConflictQuery),
    responses((status = 200, body = PhoneConflicts), (status = 400, body = crate::error::Problem)))]
pub(crate) async fn phone_conflicts(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
    Params(q): Params<ConflictQuery>,
) -> ApiResult<Json<PhoneConflicts>> {
    let raw = q
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::bad("phone", "This field is required"))?;
    // Numbers are kept in E.164. Spacing and punctuation are dropped, and a leading `+` that arrived unencoded
    // in the query (and so as a space, trimmed away) is put back.
    let mut phone: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .collect();
    if !phone.starts_with('+') {
        phone.insert(0, '+');
    }
    if !skybridge_scim::resource::is_e164(&phone) {
        return Err(ApiError::bad(
            "phone",
            "must be an E.164 number such as +16135922122",
        ));
    }
    let mut db = state.store.handle().await?;
    let (_, scope) = authorized(&mut db, &caller, &account, Feature::Users, Verb::View).await?;
    let holders = skybridge_store::scim::users::phone_holders(&mut db, &scope, &phone).await?;
    Ok(Json(PhoneConflicts {
        items: holders
            .into_iter()
            .map(|h| PhoneHolder {
                id: h.user.id.clone(),
                user_name: h.user_name.clone().unwrap_or_else(|| h.user.email.clone()),
                status: if h.user.active { "active" } else { "inactive" }.into(),
                name: h.user.display_name.clone(),
                phone: phone.clone(),
            })
            .collect(),
    }))
}
