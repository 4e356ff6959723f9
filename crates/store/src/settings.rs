//! Installation-wide key/value settings (first-start marker and the like).

use crate::{Exec, Result, Tx, on_conn};

pub async fn get(db: &mut impl Exec, key: &str) -> Result<Option<String>> {
    let key = key.to_string();
    Ok(on_conn!(db, |c| sqlx::query_scalar(
        "SELECT value FROM settings WHERE key = $1"
    )
    .bind(key.clone())
    .fetch_optional(&mut *c)
    .await)?)
}

pub async fn put(tx: &mut Tx, key: &str, value: &str) -> Result<()> {
    let (key, value) = (key.to_string(), value.to_string());
    on_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
    )
    .bind(key.clone())
    .bind(value.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}
