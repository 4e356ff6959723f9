//! Account Managers: partner administrators restricted to assigned customer accounts.

use skybridge_domain::policy::AccountScope;
use skybridge_domain::{AccountId, UserId};

use crate::{Exec, Result, StoreError, Tx, on_conn};

/// The customer accounts assigned to a manager (a user of the Partner Account in `partner`).
pub async fn managed_accounts(
    db: &mut impl Exec,
    partner: &AccountScope,
    user: UserId,
) -> Result<Vec<AccountId>> {
    let (partner, user) = (partner.account_id().to_string(), user.to_string());
    let ids: Vec<String> = on_conn!(db, |c| sqlx::query_scalar(
        "SELECT m.account_id FROM manager_accounts m JOIN users u ON u.id = m.user_id \
         WHERE u.account_id = $1 AND m.user_id = $2 ORDER BY m.account_id"
    )
    .bind(partner.clone())
    .bind(user.clone())
    .fetch_all(&mut *c)
    .await)?;
    ids.into_iter()
        .map(|s| s.parse().map_err(StoreError::corrupt))
        .collect()
}

/// Assigns `account` to `user`; false if it already was.
pub async fn assign(tx: &mut Tx, user: UserId, account: &AccountScope, now: i64) -> Result<bool> {
    let (user, account) = (user.to_string(), account.account_id().to_string());
    let n = on_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO manager_accounts (user_id, account_id, assigned_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
    )
    .bind(user.clone())
    .bind(account.clone())
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

pub async fn unassign(tx: &mut Tx, user: UserId, account: &AccountScope) -> Result<bool> {
    let (user, account) = (user.to_string(), account.account_id().to_string());
    let n = on_conn!(tx, |c| sqlx::query(
        "DELETE FROM manager_accounts WHERE user_id = $1 AND account_id = $2"
    )
    .bind(user.clone())
    .bind(account.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Drops every assignment of a manager (on upgrade to Administrator).
pub async fn clear(tx: &mut Tx, user: UserId) -> Result<u64> {
    let user = user.to_string();
    Ok(on_conn!(tx, |c| sqlx::query(
        "DELETE FROM manager_accounts WHERE user_id = $1"
    )
    .bind(user.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?)
}

/// For each account of the partner: how many managers it has, keyed by account id.
pub async fn manager_counts(
    db: &mut impl Exec,
    partner: &AccountScope,
) -> Result<Vec<(String, i64)>> {
    let partner = partner.account_id().to_string();
    Ok(on_conn!(db, |c| {
        sqlx::query_as(
        "SELECT m.account_id, COUNT(*) FROM manager_accounts m JOIN accounts a ON a.id = m.account_id \
         WHERE a.partner_id = $1 GROUP BY m.account_id"
    )
    .bind(partner.clone())
    .fetch_all(&mut *c)
    .await
    })?)
}
