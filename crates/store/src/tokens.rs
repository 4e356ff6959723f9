//! API tokens (personal access tokens). Only the SHA-256 of a token is stored.

use skybridge_domain::policy::AccountScope;
use skybridge_domain::{TokenId, UserId};

use crate::accounts::AccountRow;
use crate::users::UserRow;
use crate::{Exec, Result, Tx, on_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: String,
    pub user_id: String,
    pub account_id: String,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
}

pub async fn insert(
    tx: &mut Tx,
    scope: &AccountScope,
    t: &TokenRow,
    token_hash: &str,
) -> Result<()> {
    let t = t.clone();
    let (account, hash) = (scope.account_id().to_string(), token_hash.to_string());
    on_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO api_tokens (id, user_id, account_id, name, token_hash, prefix, created_at, last_used_at, expires_at) \
         SELECT $1, $2, $3, $4, $5, $6, $7, NULL, $8 WHERE EXISTS (SELECT 1 FROM users WHERE id = $2 AND account_id = $3)"
    )
    .bind(t.id.clone())
    .bind(t.user_id.clone())
    .bind(account.clone())
    .bind(t.name.clone())
    .bind(hash.clone())
    .bind(t.prefix.clone())
    .bind(t.created_at)
    .bind(t.expires_at)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn list(db: &mut impl Exec, scope: &AccountScope, user: UserId) -> Result<Vec<TokenRow>> {
    let (account, user) = (scope.account_id().to_string(), user.to_string());
    Ok(on_conn!(db, |c| {
        sqlx::query_as::<_, TokenRow>(
        "SELECT id, user_id, account_id, name, prefix, created_at, last_used_at, expires_at FROM api_tokens \
         WHERE account_id = $1 AND user_id = $2 ORDER BY created_at, id"
    )
    .bind(account.clone())
    .bind(user.clone())
    .fetch_all(&mut *c)
    .await
    })?)
}

pub async fn delete(tx: &mut Tx, scope: &AccountScope, user: UserId, id: TokenId) -> Result<bool> {
    let (account, user, id) = (
        scope.account_id().to_string(),
        user.to_string(),
        id.to_string(),
    );
    let n = on_conn!(tx, |c| sqlx::query(
        "DELETE FROM api_tokens WHERE account_id = $1 AND user_id = $2 AND id = $3"
    )
    .bind(account.clone())
    .bind(user.clone())
    .bind(id.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Deletes every API token of a user.
pub async fn delete_for_user(tx: &mut Tx, scope: &AccountScope, user: UserId) -> Result<u64> {
    let (account, user) = (scope.account_id().to_string(), user.to_string());
    Ok(on_conn!(tx, |c| sqlx::query(
        "DELETE FROM api_tokens WHERE account_id = $1 AND user_id = $2"
    )
    .bind(account.clone())
    .bind(user.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?)
}

/// What authentication needs for a bearer token: the token, its user and the user's account.
pub struct Authenticated {
    pub token: TokenRow,
    pub user: UserRow,
    pub account: AccountRow,
}

/// Resolves a token by its hash. This is the authentication path: the hash is the credential, so the
/// lookup is not account-scoped, and it returns only the token holder's own records.
pub async fn authenticate(db: &mut impl Exec, token_hash: &str) -> Result<Option<Authenticated>> {
    let hash = token_hash.to_string();
    let token: Option<TokenRow> = on_conn!(db, |c| {
        sqlx::query_as::<_, TokenRow>(
        "SELECT id, user_id, account_id, name, prefix, created_at, last_used_at, expires_at FROM api_tokens WHERE token_hash = $1"
    )
    .bind(hash.clone())
    .fetch_optional(&mut *c)
    .await
    })?;
    let Some(token) = token else { return Ok(None) };
    let scope = AccountScope::for_system(
        token
            .account_id
            .parse()
            .map_err(crate::StoreError::corrupt)?,
    );
    let Some(account) = crate::accounts::get(db, &scope).await? else {
        return Ok(None);
    };
    let user_id: UserId = token.user_id.parse().map_err(crate::StoreError::corrupt)?;
    let Some(user) = crate::users::get(db, &scope, user_id).await? else {
        return Ok(None);
    };
    Ok(Some(Authenticated {
        token,
        user,
        account,
    }))
}

/// Records use, at most once a minute per token, so authentication stays a read on the hot path.
pub async fn touch(tx: &mut Tx, id: &str, now: i64) -> Result<()> {
    let id = id.to_string();
    on_conn!(tx, |c| {
        sqlx::query(
        "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)"
    )
    .bind(id.clone())
    .bind(now)
    .bind(now - 60_000_000)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}
