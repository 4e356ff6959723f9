//! TOTP second factors (the seed sealed under the deployment's secret key, the last step accepted, the
//! keyed hashes of unused recovery codes) and pending second-factor challenges of the sign-in.

use skybridge_domain::UserId;
use skybridge_domain::policy::AccountScope;

use crate::{Exec, Result, StoreError, Tx, on_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MfaRow {
    pub user_id: String,
    pub account_id: String,
    pub seed_sealed: String,
    pub enabled_at: Option<i64>,
    pub last_step: Option<i64>,
    pub recovery_hashes: String,
}

impl MfaRow {
    pub fn recovery_hashes(&self) -> Result<Vec<String>> {
        serde_json::from_str(&self.recovery_hashes).map_err(StoreError::corrupt)
    }
}

pub async fn get(db: &mut impl Exec, scope: &AccountScope, user: UserId) -> Result<Option<MfaRow>> {
    let (account, user) = (scope.account_id().to_string(), user.to_string());
    Ok(on_conn!(db, |c| {
        sqlx::query_as::<_, MfaRow>(
        "SELECT user_id, account_id, seed_sealed, enabled_at, last_step, recovery_hashes FROM user_mfa \
         WHERE account_id = $1 AND user_id = $2"
    )
    .bind(account.clone())
    .bind(user.clone())
    .fetch_optional(&mut *c)
    .await
    })?)
}

/// Starts (or restarts) enrolment: a new seed, not yet enabled.
pub async fn begin(
    tx: &mut Tx,
    scope: &AccountScope,
    user: UserId,
    seed_sealed: &str,
    recovery_hashes: &[String],
) -> Result<()> {
    let (account, user, seed) = (
        scope.account_id().to_string(),
        user.to_string(),
        seed_sealed.to_string(),
    );
    let hashes = serde_json::to_string(recovery_hashes).map_err(StoreError::corrupt)?;
    on_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO user_mfa (user_id, account_id, seed_sealed, enabled_at, last_step, recovery_hashes) \
         SELECT $1, $2, $3, NULL, NULL, $4 WHERE EXISTS (SELECT 1 FROM users WHERE id = $1 AND account_id = $2) \
         ON CONFLICT (user_id) DO UPDATE SET seed_sealed = excluded.seed_sealed, enabled_at = NULL, \
         last_step = NULL, recovery_hashes = excluded.recovery_hashes"
    )
    .bind(user.clone())
    .bind(account.clone())
    .bind(seed.clone())
    .bind(hashes.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Records an accepted code's step, only if it is later than the last one (so a code works once, even
/// when two nodes check it at the same moment). Enables the factor on first use. Returns whether it won.
pub async fn accept_step(
    tx: &mut Tx,
    scope: &AccountScope,
    user: UserId,
    step: i64,
    now: i64,
) -> Result<bool> {
    let (account, user) = (scope.account_id().to_string(), user.to_string());
    let n = on_conn!(tx, |c| sqlx::query(
        "UPDATE user_mfa SET last_step = $3, enabled_at = COALESCE(enabled_at, $4) \
         WHERE account_id = $1 AND user_id = $2 AND (last_step IS NULL OR last_step < $3)"
    )
    .bind(account.clone())
    .bind(user.clone())
    .bind(step)
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Consumes a recovery code's hash. Returns whether it was there.
pub async fn use_recovery(
    tx: &mut Tx,
    scope: &AccountScope,
    user: UserId,
    hash: &str,
) -> Result<bool> {
    let Some(row) = get(tx, scope, user).await? else {
        return Ok(false);
    };
    let mut hashes = row.recovery_hashes()?;
    let before = hashes.len();
    hashes.retain(|h| h != hash);
    if hashes.len() == before {
        return Ok(false);
    }
    let (account, user) = (scope.account_id().to_string(), user.to_string());
    let json = serde_json::to_string(&hashes).map_err(StoreError::corrupt)?;
    // Compare-and-set on the old list, so one code cannot be spent twice concurrently.
    let n = on_conn!(tx, |c| {
        sqlx::query(
        "UPDATE user_mfa SET recovery_hashes = $3 WHERE account_id = $1 AND user_id = $2 AND recovery_hashes = $4"
    )
    .bind(account.clone())
    .bind(user.clone())
    .bind(json.clone())
    .bind(row.recovery_hashes.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

/// Removes a user's second factor (the user turned it off, or an administrator reset it).
pub async fn remove(tx: &mut Tx, scope: &AccountScope, user: UserId) -> Result<bool> {
    let (account, user) = (scope.account_id().to_string(), user.to_string());
    let n = on_conn!(tx, |c| sqlx::query(
        "DELETE FROM user_mfa WHERE account_id = $1 AND user_id = $2"
    )
    .bind(account.clone())
    .bind(user.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChallengeRow {
    pub id_hash: String,
    pub user_id: String,
    pub account_id: String,
    pub return_to: String,
    pub expires_at: i64,
    pub attempts: i64,
}

pub async fn insert_challenge(tx: &mut Tx, r: &ChallengeRow) -> Result<()> {
    let r = r.clone();
    on_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO mfa_challenges (id_hash, user_id, account_id, return_to, expires_at, attempts) \
         VALUES ($1, $2, $3, $4, $5, 0)"
    )
    .bind(r.id_hash.clone())
    .bind(r.user_id.clone())
    .bind(r.account_id.clone())
    .bind(r.return_to.clone())
    .bind(r.expires_at)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn challenge(
    db: &mut impl Exec,
    id_hash: &str,
    now: i64,
) -> Result<Option<ChallengeRow>> {
    let h = id_hash.to_string();
    Ok(on_conn!(db, |c| sqlx::query_as::<_, ChallengeRow>(
        "SELECT id_hash, user_id, account_id, return_to, expires_at, attempts FROM mfa_challenges \
         WHERE id_hash = $1 AND expires_at > $2"
    )
    .bind(h.clone())
    .bind(now)
    .fetch_optional(&mut *c)
    .await)?)
}

/// Counts a wrong code; returns the attempts so far.
pub async fn challenge_failed(tx: &mut Tx, id_hash: &str) -> Result<i64> {
    let h = id_hash.to_string();
    on_conn!(tx, |c| sqlx::query(
        "UPDATE mfa_challenges SET attempts = attempts + 1 WHERE id_hash = $1"
    )
    .bind(h.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    let n: Option<i64> = on_conn!(tx, |c| sqlx::query_scalar(
        "SELECT attempts FROM mfa_challenges WHERE id_hash = $1"
    )
    .bind(h.clone())
    .fetch_optional(&mut *c)
    .await)?;
    Ok(n.unwrap_or(i64::MAX))
}

pub async fn delete_challenge(tx: &mut Tx, id_hash: &str) -> Result<()> {
    let h = id_hash.to_string();
    on_conn!(tx, |c| sqlx::query(
        "DELETE FROM mfa_challenges WHERE id_hash = $1"
    )
    .bind(h.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Replaces the recovery codes (enrolment confirmed, or new codes asked for).
pub async fn set_recovery(
    tx: &mut Tx,
    scope: &AccountScope,
    user: UserId,
    hashes: &[String],
) -> Result<()> {
    let (account, user) = (scope.account_id().to_string(), user.to_string());
    let json = serde_json::to_string(hashes).map_err(StoreError::corrupt)?;
    on_conn!(tx, |c| sqlx::query(
        "UPDATE user_mfa SET recovery_hashes = $3 WHERE account_id = $1 AND user_id = $2"
    )
    .bind(account.clone())
    .bind(user.clone())
    .bind(json.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Deletes second-factor challenges that have expired.
pub async fn purge_challenges(tx: &mut Tx, now: i64) -> Result<u64> {
    Ok(on_conn!(tx, |c| sqlx::query(
        "DELETE FROM mfa_challenges WHERE expires_at <= $1"
    )
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?)
}
