//! Bearer-token authentication: resolves `Authorization: Bearer <token>` to a [`Caller`] whose
//! [`Principal`] the policy then judges. Tokens are random, shown once, stored as SHA-256.

use std::collections::HashSet;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use skybridge_domain::account::AccountStatus;
use skybridge_domain::event::Actor;
use skybridge_domain::permissions::{Base, PermissionSet};
use skybridge_domain::policy::{AccountScope, ManagerScope, Principal};
use skybridge_domain::user::RoleRef;
use skybridge_store::accounts::{self, AccountRow};
use skybridge_store::users::{self, UserRow};
use skybridge_store::{managers, roles, tokens};

use crate::error::ApiError;
use crate::state::AppState;

pub const TOKEN_PREFIX: &str = "sbt_";

/// 256 random bits, URL-safe.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    // ThreadRng is a CSPRNG (ChaCha12) seeded from the OS.
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A new API token and the hash to store.
pub fn new_token() -> (String, String) {
    let token = format!("{TOKEN_PREFIX}{}", new_secret());
    let hash = hash_token(&token);
    (token, hash)
}

pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub display_name: String,
    pub email: String,
    pub token_id: String,
}

impl Caller {
    pub fn actor(&self) -> Actor {
        Actor::User(self.principal.user_id)
    }

    /// The caller's own account, which it may always read its own records in.
    pub fn own_scope(&self) -> AccountScope {
        AccountScope::for_system(self.principal.home.id)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let now = state.now();
        let result = authenticate(parts, state, now).await;
        // Only failures are throttled: a valid token works from an address that others behind the same NAT
        // filled with bad ones.
        if let (Err(ApiError::Unauthorized(_)), Some(ip)) = (&result, ip) {
            if let Some(retry) = state.auth_failures.blocked(ip, now) {
                return Err(ApiError::TooManyRequests(retry));
            }
            state.auth_failures.record_failure(ip, now);
        }
        result
    }
}

async fn authenticate(parts: &Parts, state: &AppState, now: i64) -> Result<Caller, ApiError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("missing Authorization: Bearer token".into()))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() < 8192)
        .ok_or_else(|| ApiError::Unauthorized("malformed bearer token".into()))?;
    if token.starts_with(TOKEN_PREFIX) {
        api_token(state, token, now).await
    } else {
        access_token(state, token).await
    }
}

/// A personal access token of the admin API.
async fn api_token(state: &AppState, token: &str, now: i64) -> Result<Caller, ApiError> {
    if token.len() > 200 {
        return Err(ApiError::Unauthorized("malformed bearer token".into()));
    }
    let hash = hash_token(token);
    let mut db = state.store.handle().await?;
    let found = tokens::authenticate(&mut db, &hash).await?;
    let Some(found) = found else {
        return Err(ApiError::Unauthorized("invalid or revoked token".into()));
    };
    if found.token.expires_at.is_some_and(|exp| exp <= now) {
        return Err(ApiError::Unauthorized("token expired".into()));
    }
    let caller = caller_for(&mut db, found.account, found.user, found.token.id.clone()).await?;
    drop(db);
    if found
        .token
        .last_used_at
        .is_none_or(|t| t < now - 60_000_000)
    {
        // Recording use is bookkeeping; it must not slow or fail the request.
        let store = state.store.clone();
        let id = found.token.id.clone();
        tokio::spawn(async move {
            if let Ok(mut tx) = store.begin().await
                && tokens::touch(&mut tx, &id, now).await.is_ok()
            {
                let _ = tx.commit().await;
            }
        });
    }
    Ok(caller)
}

/// An access token of the OpenID Connect provider, issued to a user (not to a client acting for itself).
async fn access_token(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    let verified = match crate::oidc::resource::verify_access(state, token).await {
        Ok(v) => v,
        Err(crate::oidc::resource::AccessError::Internal(e)) => return Err(ApiError::Internal(e)),
        Err(e) => return Err(ApiError::Unauthorized(e.to_string())),
    };
    let Some(grant) = verified.grant else {
        return Err(ApiError::Unauthorized(
            "the token belongs to a client, not a user".into(),
        ));
    };
    let scope = AccountScope::for_system(grant.account_id.parse().map_err(anyhow::Error::from)?);
    let mut db = state.store.handle().await?;
    let account = accounts::get(&mut db, &scope)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("account not found".into()))?;
    let user = users::get(
        &mut db,
        &scope,
        grant.user_id.parse().map_err(anyhow::Error::from)?,
    )
    .await?
    .ok_or_else(|| ApiError::Unauthorized("user not found".into()))?;
    caller_for(
        &mut db,
        account,
        user,
        format!("oidc:{}", verified.claims.jti),
    )
    .await
}

/// The caller a browser session stands for (the console), resolved like a token's.
pub(crate) async fn caller_for_session(
    state: &AppState,
    user: UserRow,
    session_id: &str,
) -> Result<Caller, ApiError> {
    let scope = AccountScope::for_system(user.account_id.parse().map_err(anyhow::Error::from)?);
    let mut db = state.store.handle().await?;
    let account = accounts::get(&mut db, &scope)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("account not found".into()))?;
    caller_for(&mut db, account, user, format!("session:{session_id}")).await
}

/// The caller a background job acts as: the user who created it, with the role it holds now. `Unauthorized`
/// when that user or its account no longer exists or is no longer active.
pub(crate) async fn caller_for_job(
    db: &mut impl skybridge_store::Exec,
    account: skybridge_domain::AccountId,
    user: skybridge_domain::UserId,
    job_id: &str,
) -> Result<Caller, ApiError> {
    let scope = AccountScope::for_system(account);
    let account = accounts::get(db, &scope)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("your account no longer exists".into()))?;
    let user = users::get(db, &scope, user)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("your user no longer exists".into()))?;
    caller_for(db, account, user, format!("job:{job_id}")).await
}

/// The caller a credential stands for: the user's effective role resolved, active account and user only.
async fn caller_for(
    db: &mut impl skybridge_store::Exec,
    account: AccountRow,
    user: UserRow,
    token_id: String,
) -> Result<Caller, ApiError> {
    let home = account.account_ref()?;
    if home.status != AccountStatus::Active {
        return Err(ApiError::Unauthorized(format!(
            "account is {}",
            home.status.as_str()
        )));
    }
    if !user.active {
        return Err(ApiError::Unauthorized("user is inactive".into()));
    }
    let own = AccountScope::for_system(home.id);
    let user_id = user.user_id()?;
    let (base, permissions, custom_role) = match user.role.parse::<RoleRef>() {
        Ok(RoleRef::Builtin(base)) => (base, PermissionSet::full(base), None),
        Ok(RoleRef::Custom(role_id)) => match roles::held_in(db, &own, role_id).await? {
            Some(role) => {
                let base: Base = role
                    .base
                    .parse()
                    .map_err(|_| anyhow::anyhow!("bad role base"))?;
                let perms = PermissionSet::from_names("permissions", &role.permission_names()?)
                    .map_err(|e| anyhow::anyhow!("stored role: {e}"))?;
                (base, perms, Some(role_id))
            }
            // The role was unassigned from the account or deleted: the user keeps no rights.
            None => (Base::User, PermissionSet::EMPTY, None),
        },
        Err(()) => {
            return Err(anyhow::anyhow!("stored role {:?} is unreadable", user.role).into());
        }
    };
    let manager = if base == Base::Partner && user.restricted_manager {
        let ids = managers::managed_accounts(db, &own, user_id).await?;
        ManagerScope::Restricted(ids.into_iter().collect::<HashSet<_>>())
    } else {
        ManagerScope::Unrestricted
    };
    Ok(Caller {
        principal: Principal {
            user_id,
            name: user.display_name.clone(),
            home,
            base,
            permissions,
            custom_role,
            manager,
        },
        display_name: user.display_name,
        email: user.email,
        token_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, ha) = new_token();
        let (b, hb) = new_token();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 43);
        assert_eq!(ha, hash_token(&a));
        assert_ne!(ha, hb);
        assert_eq!(ha.len(), 64);
    }
}
