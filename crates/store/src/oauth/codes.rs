//! Authorization codes: single-use, short-lived, stored as SHA-256.

use crate::{Result, Tx, on_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CodeRow {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub account_id: String,
    pub session_hash: Option<String>,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub amr: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub grant_id: Option<String>,
}

pub async fn insert(tx: &mut Tx, r: &CodeRow) -> Result<()> {
    let r = r.clone();
    on_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO oauth_codes (code_hash, client_id, user_id, account_id, session_hash, redirect_uri, scope, \
         nonce, code_challenge, auth_time, amr, expires_at, used_at, grant_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, NULL)"
    )
    .bind(r.code_hash.clone())
    .bind(r.client_id.clone())
    .bind(r.user_id.clone())
    .bind(r.account_id.clone())
    .bind(r.session_hash.clone())
    .bind(r.redirect_uri.clone())
    .bind(r.scope.clone())
    .bind(r.nonce.clone())
    .bind(r.code_challenge.clone())
    .bind(r.auth_time)
    .bind(r.amr.clone())
    .bind(r.expires_at)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// The code, locked for redemption within the transaction.
pub async fn take(tx: &mut Tx, code_hash: &str) -> Result<Option<CodeRow>> {
    let h = code_hash.to_string();
    let lock = match tx {
        Tx::Postgres(_) => " FOR UPDATE",
        Tx::Sqlite(..) => "",
    };
    let sql = format!(
        "SELECT code_hash, client_id, user_id, account_id, session_hash, redirect_uri, scope, nonce, \
         code_challenge, auth_time, amr, expires_at, used_at, grant_id FROM oauth_codes WHERE code_hash = $1{lock}"
    );
    Ok(on_conn!(tx, |c| sqlx::query_as::<_, CodeRow>(
        sqlx::AssertSqlSafe(sql.clone())
    )
    .bind(h.clone())
    .fetch_optional(&mut *c)
    .await)?)
}

/// Marks the code redeemed for `grant_id`.
pub async fn mark_used(tx: &mut Tx, code_hash: &str, now: i64, grant_id: &str) -> Result<()> {
    let (h, g) = (code_hash.to_string(), grant_id.to_string());
    on_conn!(tx, |c| sqlx::query(
        "UPDATE oauth_codes SET used_at = $2, grant_id = $3 WHERE code_hash = $1"
    )
    .bind(h.clone())
    .bind(now)
    .bind(g.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Removes codes long past expiry (kept a while after use so that a replay can still be recognised).
pub async fn purge(tx: &mut Tx, before: i64) -> Result<u64> {
    Ok(on_conn!(tx, |c| sqlx::query(
        "DELETE FROM oauth_codes WHERE expires_at < $1"
    )
    .bind(before)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?)
}
