//! Token signing keys, private halves sealed under the deployment's secret key.

use crate::{Exec, Result, Tx, on_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyRow {
    pub kid: String,
    pub alg: String,
    pub private_sealed: String,
    pub created_at: i64,
    pub retire_at: i64,
    pub expires_at: i64,
}

pub async fn insert(tx: &mut Tx, k: &KeyRow) -> Result<()> {
    let k = k.clone();
    on_conn!(tx, |c| sqlx::query(
        "INSERT INTO signing_keys (kid, alg, private_sealed, created_at, retire_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)"
    )
    .bind(k.kid.clone())
    .bind(k.alg.clone())
    .bind(k.private_sealed.clone())
    .bind(k.created_at)
    .bind(k.retire_at)
    .bind(k.expires_at)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Keys still published at `now`, newest first.
pub async fn published(db: &mut impl Exec, now: i64) -> Result<Vec<KeyRow>> {
    Ok(on_conn!(db, |c| sqlx::query_as::<_, KeyRow>(
        "SELECT kid, alg, private_sealed, created_at, retire_at, expires_at FROM signing_keys \
         WHERE expires_at > $1 ORDER BY created_at DESC, kid"
    )
    .bind(now)
    .fetch_all(&mut *c)
    .await)?)
}

/// Drops keys nothing valid was signed with any more.
pub async fn purge(tx: &mut Tx, now: i64) -> Result<u64> {
    Ok(on_conn!(tx, |c| sqlx::query(
        "DELETE FROM signing_keys WHERE expires_at <= $1"
    )
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?)
}
