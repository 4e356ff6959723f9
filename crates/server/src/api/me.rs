//! The caller itself: who am I, and my personal access tokens.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use skybridge_domain::event::{Action, NewEvent};
use skybridge_domain::policy::{AccountScope, ManagerScope};
use skybridge_domain::validate::{self, SHORT_TEXT_MAX};
use skybridge_domain::{TokenId, UserId};
use skybridge_store::Tx;
use skybridge_store::tokens::{self as store, TokenRow};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit;
use super::json::Body;
use crate::auth::{Caller, new_token};
use crate::clock::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(whoami))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Me {
    pub user_id: String,
    pub display_name: String,
    pub email: String,
    pub account_id: String,
    pub account_kind: String,
    /// The base of the caller's role: partner, account_admin or user.
    pub base_role: String,
    pub custom_role: Option<String>,
    /// Grants as feature.verb.
    pub permissions: Vec<String>,
    /// For partner staff: the accounts an Account Manager is restricted to; absent when unrestricted.
    pub managed_accounts: Option<Vec<String>>,
}

/// Who the token belongs to, and what it may do.
#[utoipa::path(get, path = "/api/v1/me", tag = "me", responses((status = 200, body = Me), (status = 401, body = crate::error::Problem)))]
async fn whoami(caller: Caller) -> Json<Me> {
    let p = &caller.principal;
    let managed_accounts = match &p.manager {
        ManagerScope::Unrestricted => None,
        ManagerScope::Restricted(set) => {
            let mut v: Vec<String> = set.iter().map(ToString::to_string).collect();
            v.sort();
            Some(v)
        }
    };
    Json(Me {
        user_id: p.user_id.to_string(),
        display_name: caller.display_name.clone(),
        email: caller.email.clone(),
        account_id: p.home.id.to_string(),
        account_kind: p.home.kind.as_str().to_string(),
        base_role: p.base.as_str().to_string(),
        custom_role: p.custom_role.map(|r| r.to_string()),
        permissions: p.permissions.to_names(),
        managed_accounts,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What the token is for, e.g. "provisioning script".
    pub name: String,
    /// Lifetime in days (1–3650); no expiry when absent.
    pub expires_in_days: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenOut {
    pub id: String,
    pub user_id: String,
    pub name: String,
    /// The first characters of the token, to recognise it.
    pub prefix: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub expires_at: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenCreated {
    #[serde(flatten)]
    pub info: TokenOut,
    /// The secret; shown only now.
    pub token: String,
}

pub fn token_out(t: TokenRow) -> TokenOut {
    TokenOut {
        id: t.id,
        user_id: t.user_id,
        name: t.name,
        prefix: t.prefix,
        created_at: rfc3339(t.created_at),
        last_used_at: t.last_used_at.map(rfc3339),
        expires_at: t.expires_at.map(rfc3339),
    }
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Creates a token for `user` in `scope`, with its audit event.
pub async fn issue_token(
    tx: &mut Tx,
    state: &AppState,
    caller: &Caller,
    scope: &AccountScope,
    user: UserId,
    input: &NewToken,
) -> ApiResult<TokenCreated> {
    let name = validate::required_text("name", &input.name, SHORT_TEXT_MAX)?;
    let expires_at = match input.expires_in_days {
        None => None,
        Some(d) if (1..=3650).contains(&d) => Some(state.now() + d * MICROS_PER_DAY),
        Some(_) => {
            return Err(ApiError::bad(
                "expires_in_days",
                "expires_in_days must be between 1 and 3650",
            ));
        }
    };
    let (token, hash) = new_token();
    let id = TokenId::new();
    let row = TokenRow {
        id: id.to_string(),
        user_id: user.to_string(),
        account_id: scope.account_id().to_string(),
        name,
        prefix: token.chars().take(12).collect(),
        created_at: state.now(),
        last_used_at: None,
        expires_at,
    };
    store::insert(tx, scope, &row, &hash).await?;
    audit(
        tx,
        state,
        caller,
        NewEvent::admin(
            scope.account_id(),
            caller.actor(),
            Action::Create,
            "API Token",
            id,
        )
        .detail("name", row.name.clone())
        .detail("user_id", user.to_string())
        .tag("token"),
    )
    .await?;
    Ok(TokenCreated {
        info: token_out(row),
        token,
    })
}

/// List my API tokens.
#[utoipa::path(get, path = "/api/v1/me/tokens", tag = "tokens", responses((status = 200, body = Vec<TokenOut>)))]
async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<TokenOut>>> {
    let mut db = state.store.handle().await?;
    let rows = store::list(&mut db, &caller.own_scope(), caller.principal.user_id).await?;
    Ok(Json(rows.into_iter().map(token_out).collect()))
}

/// Create an API token for myself. The secret is in the response, once.
#[utoipa::path(post, path = "/api/v1/me/tokens", tag = "tokens", request_body = NewToken,
    responses((status = 201, body = TokenCreated), (status = 400, body = crate::error::Problem)))]
async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    Body(input): Body<NewToken>,
) -> ApiResult<(StatusCode, Json<TokenCreated>)> {
    let mut tx = state.store.begin().await?;
    let created = issue_token(
        &mut tx,
        &state,
        &caller,
        &caller.own_scope(),
        caller.principal.user_id,
        &input,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Revoke one of my API tokens.
#[utoipa::path(delete, path = "/api/v1/me/tokens/{token}", tag = "tokens",
    params(("token" = String, Path, description = "Token id")),
    responses((status = 204), (status = 404, body = crate::error::Problem)))]
async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(token): Path<String>,
) -> ApiResult<StatusCode> {
    let id: TokenId = token.parse().map_err(|_| ApiError::NotFound("token"))?;
    let mut tx = state.store.begin().await?;
    let scope = caller.own_scope();
    if !store::delete(&mut tx, &scope, caller.principal.user_id, id).await? {
        return Err(ApiError::NotFound("token"));
    }
    audit(
        &mut tx,
        &state,
        &caller,
        NewEvent::admin(
            scope.account_id(),
            caller.actor(),
            Action::Delete,
            "API Token",
            id,
        )
        .tag("token"),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
