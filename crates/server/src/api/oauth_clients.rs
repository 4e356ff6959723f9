//! OAuth client registration: per account (its users only) or partner-wide (a Partner Account's
//! applications, open to the users of the partner and of all its customer accounts). A confidential client's
//! secret is shown once and stored as a hash.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use skybridge_domain::account::AccountKind;
use skybridge_domain::event::{Action, NewEvent};
use skybridge_domain::oauth_client::{self, AUTHORIZATION_CODE, REFRESH_TOKEN, Registration};
use skybridge_domain::permissions::{Feature, Verb};
use skybridge_domain::policy::{AccountScope, authorize};
use skybridge_store::oauth::clients::{self as store, ClientRow};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::json::Body;
use super::{audit, authorized, ensure_active};
use crate::auth::{Caller, hash_token, new_secret};
use crate::clock::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::oidc::client_auth::SECRET_PREFIX;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_account_clients, create_account_client))
        .routes(routes!(get_account_client, delete_account_client))
        .routes(routes!(list_partner_clients, create_partner_client))
        .routes(routes!(get_partner_client, delete_partner_client))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    pub name: String,
    /// `confidential` (has a secret: a server-side application) or `public` (a browser or native app,
    /// which must use PKCE).
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Default: authorization_code and refresh_token.
    pub grant_types: Option<Vec<String>>,
    /// RS256 (default) or ES256.
    pub id_token_signed_response_alg: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ClientOut {
    pub client_id: String,
    /// The owning account.
    pub account_id: String,
    /// Open to the users of the owning Partner Account and of all its customer accounts.
    pub partner_wide: bool,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub id_token_signed_response_alg: String,
    pub created_at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ClientCreated {
    #[serde(flatten)]
    pub client: ClientOut,
    /// The secret of a confidential client; shown only now.
    pub client_secret: Option<String>,
}

fn out(r: ClientRow) -> ApiResult<ClientOut> {
    Ok(ClientOut {
        redirect_uris: r.redirect_uris()?,
        post_logout_redirect_uris: r.post_logout_redirect_uris()?,
        grant_types: r.grant_types()?,
        client_id: r.id,
        account_id: r.account_id,
        partner_wide: r.partner_wide,
        name: r.name,
        kind: if r.confidential {
            "confidential"
        } else {
            "public"
        }
        .to_string(),
        id_token_signed_response_alg: r.id_token_alg,
        created_at: rfc3339(r.created_at),
    })
}

/// Validates and stores a registration of the account in `owner`.
async fn register(
    state: &AppState,
    caller: &Caller,
    owner: &AccountScope,
    partner_wide: bool,
    input: NewClient,
) -> ApiResult<ClientCreated> {
    let confidential = match input.kind.as_str() {
        "confidential" => true,
        "public" => false,
        _ => return Err(ApiError::bad("type", "type must be confidential or public")),
    };
    let reg = Registration {
        name: input.name.trim().to_string(),
        confidential,
        redirect_uris: input.redirect_uris,
        post_logout_redirect_uris: input.post_logout_redirect_uris,
        grant_types: input
            .grant_types
            .unwrap_or_else(|| vec![AUTHORIZATION_CODE.into(), REFRESH_TOKEN.into()]),
        id_token_alg: input
            .id_token_signed_response_alg
            .unwrap_or_else(|| "RS256".into()),
    };
    oauth_client::validate(&reg, partner_wide)?;
    let secret = confidential.then(|| format!("{SECRET_PREFIX}{}", new_secret()));
    let json = |v: &Vec<String>| serde_json::to_string(v).map_err(anyhow::Error::from);
    let row = ClientRow {
        id: format!("sbc_{}", uuid::Uuid::new_v4().simple()),
        account_id: owner.account_id().to_string(),
        partner_wide,
        name: reg.name.clone(),
        confidential,
        secret_hash: secret.as_deref().map(hash_token),
        redirect_uris: json(&reg.redirect_uris)?,
        post_logout_redirect_uris: json(&reg.post_logout_redirect_uris)?,
        grant_types: json(&reg.grant_types)?,
        id_token_alg: reg.id_token_alg.clone(),
        delegation: reg.delegation(),
        created_at: state.now(),
        account_active: true,
    };
    let mut tx = state.store.begin().await?;
    store::insert(&mut tx, owner, &row).await?;
    audit(
        &mut tx,
        state,
        caller,
        NewEvent::admin(
            owner.account_id(),
            caller.actor(),
            Action::Create,
            "OAuth Client",
            &row.id,
        )
        .detail("name", row.name.clone())
        .detail(
            "type",
            if confidential {
                "confidential"
            } else {
                "public"
            },
        )
        .detail("grant_types", reg.grant_types.clone())
        .detail("partner_wide", partner_wide),
    )
    .await?;
    tx.commit().await?;
    Ok(ClientCreated {
        client: out(row)?,
        client_secret: secret,
    })
}

async fn remove(
    state: &AppState,
    caller: &Caller,
    owner: &AccountScope,
    partner_wide: bool,
    client_id: &str,
) -> ApiResult<StatusCode> {
    let mut tx = state.store.begin().await?;
    if !store::delete(&mut tx, owner, partner_wide, client_id).await? {
        return Err(ApiError::NotFound("OAuth client"));
    }
    state.clients.forget(client_id);
    audit(
        &mut tx,
        state,
        caller,
        NewEvent::admin(
            owner.account_id(),
            caller.actor(),
            Action::Delete,
            "OAuth Client",
            client_id,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List the OAuth clients of an account.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/oauth-clients", tag = "oauth clients",
    params(("account" = String, Path, description = "Account id or number")),
    responses((status = 200, body = Vec<ClientOut>), (status = 404, body = crate::error::Problem)))]
async fn list_account_clients(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
) -> ApiResult<Json<Vec<ClientOut>>> {
    let mut db = state.store.handle().await?;
    let (_, scope) = authorized(
        &mut db,
        &caller,
        &account,
        Feature::Integrations,
        Verb::View,
    )
    .await?;
    let rows = store::list(&mut db, &scope, false).await?;
    Ok(Json(rows.into_iter().map(out).collect::<ApiResult<_>>()?))
}

/// Register an OAuth client for an account's users. A confidential client's secret is in the response, once.
#[utoipa::path(post, path = "/api/v1/accounts/{account}/oauth-clients", tag = "oauth clients",
    params(("account" = String, Path, description = "Account id or number")), request_body = NewClient,
    responses((status = 201, body = ClientCreated), (status = 400, body = crate::error::Problem)))]
async fn create_account_client(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
    Body(input): Body<NewClient>,
) -> ApiResult<(StatusCode, Json<ClientCreated>)> {
    let (target, scope) = {
        let mut db = state.store.handle().await?;
        authorized(&mut db, &caller, &account, Feature::Integrations, Verb::Add).await?
    };
    ensure_active(&target)?;
    let created = register(&state, &caller, &scope, false, input).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// One OAuth client of an account.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/oauth-clients/{client_id}", tag = "oauth clients",
    params(("account" = String, Path), ("client_id" = String, Path)),
    responses((status = 200, body = ClientOut), (status = 404, body = crate::error::Problem)))]
async fn get_account_client(
    State(state): State<AppState>,
    caller: Caller,
    Path((account, client_id)): Path<(String, String)>,
) -> ApiResult<Json<ClientOut>> {
    let mut db = state.store.handle().await?;
    let (_, scope) = authorized(
        &mut db,
        &caller,
        &account,
        Feature::Integrations,
        Verb::View,
    )
    .await?;
    let row = store::get(&mut db, &scope, false, &client_id)
        .await?
        .ok_or(ApiError::NotFound("OAuth client"))?;
    Ok(Json(out(row)?))
}

/// Delete an OAuth client of an account; its grants and refresh tokens end.
#[utoipa::path(delete, path = "/api/v1/accounts/{account}/oauth-clients/{client_id}", tag = "oauth clients",
    params(("account" = String, Path), ("client_id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)))]
async fn delete_account_client(
    State(state): State<AppState>,
    caller: Caller,
    Path((account, client_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let scope = {
        let mut db = state.store.handle().await?;
        authorized(
            &mut db,
            &caller,
            &account,
            Feature::Integrations,
            Verb::Delete,
        )
        .await?
        .1
    };
    remove(&state, &caller, &scope, false, &client_id).await
}

/// Partner-wide clients are the Partner Account's: its unrestricted administrators manage them (an Account
/// Manager's reach ends at its assigned accounts).
fn partner_scope(caller: &Caller, verb: Verb) -> ApiResult<AccountScope> {
    let p = &caller.principal;
    if p.home.kind != AccountKind::Partner || !p.is_unrestricted_partner() {
        return Err(ApiError::Forbidden(
            "partner-wide OAuth clients are managed by the Partner Account's administrators".into(),
        ));
    }
    Ok(authorize(p, &p.home, Feature::Integrations, verb)?)
}

/// List the partner-wide OAuth clients of the caller's Partner Account.
#[utoipa::path(get, path = "/api/v1/oauth-clients", tag = "oauth clients",
    responses((status = 200, body = Vec<ClientOut>), (status = 403, body = crate::error::Problem)))]
async fn list_partner_clients(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<ClientOut>>> {
    let scope = partner_scope(&caller, Verb::View)?;
    let rows = store::list(&mut state.store.handle().await?, &scope, true).await?;
    Ok(Json(rows.into_iter().map(out).collect::<ApiResult<_>>()?))
}

/// Register a partner-wide OAuth client, which users of the partner and of all its customer accounts may
/// sign in to.
#[utoipa::path(post, path = "/api/v1/oauth-clients", tag = "oauth clients", request_body = NewClient,
    responses((status = 201, body = ClientCreated), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
async fn create_partner_client(
    State(state): State<AppState>,
    caller: Caller,
    Body(input): Body<NewClient>,
) -> ApiResult<(StatusCode, Json<ClientCreated>)> {
    let scope = partner_scope(&caller, Verb::Add)?;
    let created = register(&state, &caller, &scope, true, input).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// One partner-wide OAuth client.
#[utoipa::path(get, path = "/api/v1/oauth-clients/{client_id}", tag = "oauth clients",
    params(("client_id" = String, Path)),
    responses((status = 200, body = ClientOut), (status = 404, body = crate::error::Problem)))]
async fn get_partner_client(
    State(state): State<AppState>,
    caller: Caller,
    Path(client_id): Path<String>,
) -> ApiResult<Json<ClientOut>> {
    let scope = partner_scope(&caller, Verb::View)?;
    let row = store::get(&mut state.store.handle().await?, &scope, true, &client_id)
        .await?
        .ok_or(ApiError::NotFound("OAuth client"))?;
    Ok(Json(out(row)?))
}

/// Delete a partner-wide OAuth client.
#[utoipa::path(delete, path = "/api/v1/oauth-clients/{client_id}", tag = "oauth clients",
    params(("client_id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)))]
async fn delete_partner_client(
    State(state): State<AppState>,
    caller: Caller,
    Path(client_id): Path<String>,
) -> ApiResult<StatusCode> {
    let scope = partner_scope(&caller, Verb::Delete)?;
    remove(&state, &caller, &scope, true, &client_id).await
}
