//! The admin REST API, `/api/v1`.

pub mod accounts;
pub mod entra;
pub mod events;
pub mod imports;
pub mod integrations;
pub mod jobs;
pub mod json;
pub mod managers;
pub mod me;
pub mod oauth_clients;
pub mod page;
pub mod roles;
pub mod user_mail;
pub mod user_mfa;
pub mod users;

use skybridge_domain::account::AccountStatus;
use skybridge_domain::event::NewEvent;
use skybridge_domain::permissions::{Feature, Verb};
use skybridge_domain::policy::{AccountRef, AccountScope, authorize};
use skybridge_store::accounts::Lookup;
use skybridge_store::{Exec, Tx, events as event_store};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Skybridge Admin API", description = "Partners, customer accounts, users, roles, integrations and event history."),
    components(schemas(crate::error::Problem)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// All API routes with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(me::router())
        .merge(accounts::router())
        .merge(users::router())
        .merge(imports::router())
        .merge(user_mail::router())
        .merge(roles::router())
        .merge(managers::router())
        .merge(integrations::router())
        .merge(events::router())
        .merge(oauth_clients::router())
        .merge(user_mfa::router())
        .merge(entra::router())
        .merge(jobs::router())
}

/// Resolves an account path segment (UUID or 9-digit number) to what the policy needs.
pub async fn find_account(db: &mut impl Exec, raw: &str) -> ApiResult<AccountRef> {
    let lookup = if let Ok(id) = raw.parse() {
        Lookup::Id(id)
    } else if let Ok(n) = skybridge_domain::account::account_number("account", raw) {
        Lookup::Number(n)
    } else {
        return Err(ApiError::NotFound("account"));
    };
    skybridge_store::accounts::load_ref(db, lookup)
        .await?
        .ok_or(ApiError::NotFound("account"))
}

/// Finds the account and authorizes the caller on it.
pub async fn authorized(
    db: &mut impl Exec,
    caller: &Caller,
    account: &str,
    feature: Feature,
    verb: Verb,
) -> ApiResult<(AccountRef, AccountScope)> {
    let target = find_account(db, account).await?;
    let scope = authorize(&caller.principal, &target, feature, verb)?;
    Ok((target, scope))
}

/// Like [`authorized`] for actions the spec allows with either of two verbs (e.g. ADD or EDIT).
pub async fn authorized_any(
    db: &mut impl Exec,
    caller: &Caller,
    account: &str,
    feature: Feature,
    verbs: [Verb; 2],
) -> ApiResult<(AccountRef, AccountScope)> {
    let target = find_account(db, account).await?;
    match authorize(&caller.principal, &target, feature, verbs[0]) {
        Ok(scope) => Ok((target, scope)),
        Err(_) => {
            let scope = authorize(&caller.principal, &target, feature, verbs[1])?;
            Ok((target, scope))
        }
    }
}

/// Mutations are refused on a deactivated account until it is reactivated.
pub fn ensure_active(target: &AccountRef) -> ApiResult<()> {
    if target.status == AccountStatus::Deactivated {
        return Err(ApiError::Conflict(
            "the account is deactivated; reactivate it first".into(),
        ));
    }
    Ok(())
}

/// Writes the audit event of a change, in the change's transaction.
pub async fn audit(
    tx: &mut Tx,
    state: &AppState,
    caller: &Caller,
    event: NewEvent,
) -> ApiResult<()> {
    event_store::insert(tx, &event, &caller.display_name, state.now()).await?;
    Ok(())
}

/// Checks the typed confirmation word of a destructive action.
pub fn confirm(given: Option<&str>, word: &'static str) -> ApiResult<()> {
    if given.map(str::trim) != Some(word) {
        return Err(ApiError::bad(
            "confirm",
            format!("type {word:?} to confirm"),
        ));
    }
    Ok(())
}
