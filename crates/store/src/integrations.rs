//! An account's integrations registry.

use skybridge_domain::policy::AccountScope;

use crate::{Exec, Result, Tx, on_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IntegrationRow {
    pub key: String,
    pub state: String,
    pub status_message: Option<String>,
    pub created_at: i64,
    pub modified_at: i64,
}

pub async fn list(db: &mut impl Exec, scope: &AccountScope) -> Result<Vec<IntegrationRow>> {
    let account = scope.account_id().to_string();
    Ok(on_conn!(db, |c| {
        sqlx::query_as::<_, IntegrationRow>(
        "SELECT key, state, status_message, created_at, modified_at FROM integrations WHERE account_id = $1 ORDER BY created_at, key"
    )
    .bind(account.clone())
    .fetch_all(&mut *c)
    .await
    })?)
}

pub async fn insert(tx: &mut Tx, scope: &AccountScope, row: &IntegrationRow) -> Result<()> {
    let account = scope.account_id().to_string();
    let r = row.clone();
    on_conn!(tx, |c| sqlx::query(
        "INSERT INTO integrations (account_id, key, state, status_message, created_at, modified_at) VALUES ($1, $2, $3, $4, $5, $6)"
    )
    .bind(account.clone())
    .bind(r.key.clone())
    .bind(r.state.clone())
    .bind(r.status_message.clone())
    .bind(r.created_at)
    .bind(r.modified_at)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))
    .map_err(crate::error::on_unique("this integration"))?;
    Ok(())
}

pub async fn update(tx: &mut Tx, scope: &AccountScope, row: &IntegrationRow) -> Result<bool> {
    let account = scope.account_id().to_string();
    let r = row.clone();
    let n = on_conn!(tx, |c| {
        sqlx::query(
        "UPDATE integrations SET state = $3, status_message = $4, modified_at = $5 WHERE account_id = $1 AND key = $2"
    )
    .bind(account.clone())
    .bind(r.key.clone())
    .bind(r.state.clone())
    .bind(r.status_message.clone())
    .bind(r.modified_at)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

pub async fn delete(tx: &mut Tx, scope: &AccountScope, key: &str) -> Result<bool> {
    let (account, key) = (scope.account_id().to_string(), key.to_string());
    let n = on_conn!(tx, |c| sqlx::query(
        "DELETE FROM integrations WHERE account_id = $1 AND key = $2"
    )
    .bind(account.clone())
    .bind(key.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}
