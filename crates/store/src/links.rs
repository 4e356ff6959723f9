//! One-time links (welcome and password reset): only the SHA-256 of the token is stored; a link works once
//! and until it expires.

use skybridge_domain::UserId;
use skybridge_domain::policy::AccountScope;

use crate::{Exec, Result, StoreError, Tx, on_conn};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Welcome,
    Reset,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Welcome => "welcome",
            Purpose::Reset => "reset",
        }
    }
}

pub async fn insert(
    tx: &mut Tx,
    scope: &AccountScope,
    user: UserId,
    purpose: Purpose,
    token_hash: &str,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    let (hash, user, account) = (
        token_hash.to_string(),
        user.to_string(),
        scope.account_id().to_string(),
    );
    // A new link of a purpose replaces the unused ones: only the latest mail works.
    on_conn!(tx, |c| sqlx::query(
        "DELETE FROM one_time_links WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL"
    )
    .bind(user.clone())
    .bind(purpose.as_str())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    on_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO one_time_links (token_hash, user_id, account_id, purpose, created_at, expires_at, used_at) \
         SELECT $1, $2, $3, $4, $5, $6, NULL WHERE EXISTS (SELECT 1 FROM users WHERE id = $2 AND account_id = $3)"
    )
    .bind(hash.clone())
    .bind(user.clone())
    .bind(account.clone())
    .bind(purpose.as_str())
    .bind(now)
    .bind(expires_at)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// A link that is still usable: (user id, account id, purpose).
#[derive(Debug, Clone)]
pub struct LiveLink {
    pub user_id: UserId,
    pub account_id: skybridge_domain::AccountId,
    pub purpose: String,
}

/// Looks a link up without using it (to show the page it leads to).
pub async fn peek(db: &mut impl Exec, token_hash: &str, now: i64) -> Result<Option<LiveLink>> {
    let hash = token_hash.to_string();
    let row: Option<(String, String, String)> = on_conn!(db, |c| {
        sqlx::query_as(
        "SELECT user_id, account_id, purpose FROM one_time_links WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2"
    )
    .bind(hash.clone())
    .bind(now)
    .fetch_optional(&mut *c)
    .await
    })?;
    row.map(|(u, a, p)| {
        Ok(LiveLink {
            user_id: u.parse().map_err(StoreError::corrupt)?,
            account_id: a.parse().map_err(StoreError::corrupt)?,
            purpose: p,
        })
    })
    .transpose()
}

/// Uses a link: succeeds once, atomically, while it has not expired.
pub async fn consume(tx: &mut Tx, token_hash: &str, now: i64) -> Result<Option<LiveLink>> {
    let hash = token_hash.to_string();
    let live = peek(tx, token_hash, now).await?;
    if live.is_none() {
        return Ok(None);
    }
    let n = on_conn!(tx, |c| {
        sqlx::query(
        "UPDATE one_time_links SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2"
    )
    .bind(hash.clone())
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(if n == 1 { live } else { None })
}
