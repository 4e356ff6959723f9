//! Per-user notifications: the outcome of a job or bulk action, with the error text when it failed.

use skybridge_domain::UserId;
use skybridge_domain::policy::AccountScope;

use crate::{Exec, Result, Tx, on_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationRow {
    pub id: String,
    pub account_id: String,
    pub user_id: String,
    /// `success` or `error`.
    pub status: String,
    pub title: String,
    pub detail: Option<String>,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

/// How many notifications a user keeps; older ones are dropped as new ones arrive.
pub const KEEP: i64 = 100;

pub async fn insert(tx: &mut Tx, scope: &AccountScope, n: &NotificationRow) -> Result<()> {
    let n = n.clone();
    let account = scope.account_id().to_string();
    on_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO notifications (id, account_id, user_id, status, title, detail, created_at, read_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)"
    )
    .bind(n.id.clone())
    .bind(account.clone())
    .bind(n.user_id.clone())
    .bind(n.status.clone())
    .bind(n.title.clone())
    .bind(n.detail.clone())
    .bind(n.created_at)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    let user = n.user_id.clone();
    on_conn!(tx, |c| {
        sqlx::query(
        "DELETE FROM notifications WHERE user_id = $1 AND id NOT IN \
         (SELECT id FROM notifications WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2)"
    )
    .bind(user.clone())
    .bind(KEEP)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// A user's notifications, newest first.
pub async fn list(
    db: &mut impl Exec,
    scope: &AccountScope,
    user: UserId,
) -> Result<Vec<NotificationRow>> {
    let (account, user) = (scope.account_id().to_string(), user.to_string());
    Ok(on_conn!(db, |c| {
        sqlx::query_as::<_, NotificationRow>(
        "SELECT id, account_id, user_id, status, title, detail, created_at, read_at FROM notifications \
         WHERE account_id = $1 AND user_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3"
    )
    .bind(account.clone())
    .bind(user.clone())
    .bind(KEEP)
    .fetch_all(&mut *c)
    .await
    })?)
}

pub async fn unread(db: &mut impl Exec, scope: &AccountScope, user: UserId) -> Result<i64> {
    let (account, user) = (scope.account_id().to_string(), user.to_string());
    Ok(on_conn!(db, |c| {
        sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM notifications WHERE account_id = $1 AND user_id = $2 AND read_at IS NULL"
    )
    .bind(account.clone())
    .bind(user.clone())
    .fetch_one(&mut *c)
    .await
    })?)
}

pub async fn mark_read(tx: &mut Tx, scope: &AccountScope, user: UserId, now: i64) -> Result<()> {
    let (account, user) = (scope.account_id().to_string(), user.to_string());
    on_conn!(tx, |c| {
        sqlx::query(
        "UPDATE notifications SET read_at = $3 WHERE account_id = $1 AND user_id = $2 AND read_at IS NULL"
    )
    .bind(account.clone())
    .bind(user.clone())
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Deletes one of the user's notifications; false when it is not theirs or already gone.
pub async fn delete(tx: &mut Tx, scope: &AccountScope, user: UserId, id: &str) -> Result<bool> {
    let (account, user, id) = (
        scope.account_id().to_string(),
        user.to_string(),
        id.to_string(),
    );
    let n = on_conn!(tx, |c| sqlx::query(
        "DELETE FROM notifications WHERE account_id = $1 AND user_id = $2 AND id = $3"
    )
    .bind(account.clone())
    .bind(user.clone())
    .bind(id.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}
