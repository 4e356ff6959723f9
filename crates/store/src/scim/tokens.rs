//! The per-account SCIM secret token. Only its SHA-256 is stored; generating again replaces it.

use skybridge_domain::policy::AccountScope;

use crate::{Exec, Result, Tx, on_conn};

/// Replaces the account's token (generating again invalidates the previous one at once).
pub async fn set(
    tx: &mut Tx,
    scope: &AccountScope,
    token_hash: &str,
    now: i64,
    by: &str,
) -> Result<()> {
    let (account, hash, by) = (
        scope.account_id().to_string(),
        token_hash.to_string(),
        by.to_string(),
    );
    on_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO scim_tokens (account_id, token_hash, created_at, created_by) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (account_id) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at, \
         created_by = excluded.created_by"
    )
    .bind(account.clone())
    .bind(hash.clone())
    .bind(now)
    .bind(by.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn delete(tx: &mut Tx, scope: &AccountScope) -> Result<bool> {
    let account = scope.account_id().to_string();
    let n = on_conn!(tx, |c| sqlx::query(
        "DELETE FROM scim_tokens WHERE account_id = $1"
    )
    .bind(account.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// The stored token hash of an active account that still has the integration, for authenticating a request.
pub async fn active_hash(db: &mut impl Exec, scope: &AccountScope) -> Result<Option<String>> {
    let account = scope.account_id().to_string();
    Ok(on_conn!(db, |c| {
        sqlx::query_scalar(
        "SELECT t.token_hash FROM scim_tokens t JOIN accounts a ON a.id = t.account_id \
         WHERE t.account_id = $1 AND a.status = 'active' \
         AND EXISTS (SELECT 1 FROM integrations i WHERE i.account_id = t.account_id AND i.key = 'entra_id_sync')"
    )
    .bind(account.clone())
    .fetch_optional(&mut *c)
    .await
    })?)
}
