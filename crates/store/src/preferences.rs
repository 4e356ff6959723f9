//! Per-user console preferences: small JSON values by key, in the user's own account.

use skybridge_domain::UserId;
use skybridge_domain::policy::AccountScope;

use crate::{Exec, Result, Tx, on_conn};

pub async fn get(
    db: &mut impl Exec,
    scope: &AccountScope,
    user: UserId,
    key: &str,
) -> Result<Option<String>> {
    let (account, user, key) = (
        scope.account_id().to_string(),
        user.to_string(),
        key.to_string(),
    );
    Ok(on_conn!(db, |c| sqlx::query_scalar(
        "SELECT value FROM console_preferences WHERE account_id = $1 AND user_id = $2 AND key = $3"
    )
    .bind(account.clone())
    .bind(user.clone())
    .bind(key.clone())
    .fetch_optional(&mut *c)
    .await)?)
}

pub async fn put(
    tx: &mut Tx,
    scope: &AccountScope,
    user: UserId,
    key: &str,
    value: &str,
    now: i64,
) -> Result<()> {
    let (account, user, key, value) = (
        scope.account_id().to_string(),
        user.to_string(),
        key.to_string(),
        value.to_string(),
    );
    on_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO console_preferences (user_id, account_id, key, value, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
    )
    .bind(user.clone())
    .bind(account.clone())
    .bind(key.clone())
    .bind(value.clone())
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}
