//! Browser sessions: only the SHA-256 of the session cookie is stored, with idle and absolute expiry.

use skybridge_domain::policy::AccountScope;
use skybridge_domain::{AccountId, UserId};

use crate::{Exec, Result, StoreError, Tx, on_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id_hash: String,
    pub user_id: String,
    pub account_id: String,
    pub csrf: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    /// Authentication methods, space-separated (RFC 8176): `pwd`, `otp`.
    pub amr: String,
}

impl SessionRow {
    pub fn user(&self) -> Result<UserId> {
        self.user_id.parse().map_err(StoreError::corrupt)
    }

    pub fn account(&self) -> Result<AccountId> {
        self.account_id.parse().map_err(StoreError::corrupt)
    }
}

pub async fn insert(tx: &mut Tx, scope: &AccountScope, s: &SessionRow) -> Result<()> {
    let s = s.clone();
    let account = scope.account_id().to_string();
    on_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, account_id, csrf, created_at, last_seen_at, expires_at, amr) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    )
    .bind(s.id_hash.clone())
    .bind(s.user_id.clone())
    .bind(account.clone())
    .bind(s.csrf.clone())
    .bind(s.created_at)
    .bind(s.last_seen_at)
    .bind(s.expires_at)
    .bind(s.amr.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// A live session: not past its absolute expiry, and seen within `idle` microseconds.
pub async fn find(
    db: &mut impl Exec,
    id_hash: &str,
    now: i64,
    idle: i64,
) -> Result<Option<SessionRow>> {
    let id = id_hash.to_string();
    Ok(on_conn!(db, |c| {
        sqlx::query_as::<_, SessionRow>(
        "SELECT id_hash, user_id, account_id, csrf, created_at, last_seen_at, expires_at, amr FROM sessions \
         WHERE id_hash = $1 AND expires_at > $2 AND last_seen_at > $3"
    )
    .bind(id.clone())
    .bind(now)
    .bind(now - idle)
    .fetch_optional(&mut *c)
    .await
    })?)
}

/// Opens a session and records the sign-in in one write (one statement on PostgreSQL, one queued
/// transaction on SQLite), clearing the failures counted against `reset_key`: the password step's whole
/// write. The event must carry no tags.
pub async fn open(
    store: &crate::Store,
    session: &SessionRow,
    event: &crate::events::EventValues,
    reset_key: Option<&str>,
) -> Result<()> {
    let (s, e) = (session.clone(), event.clone());
    let reset = reset_key.unwrap_or("").to_string();
    const SESSION: &str = "INSERT INTO sessions (id_hash, user_id, account_id, csrf, created_at, last_seen_at, \
         expires_at, amr) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    let event_sql = format!(
        "INSERT INTO events ({}) VALUES ($10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)",
        crate::events::INSERT_COLUMNS
    );
    match store {
        crate::Store::Postgres(pool) => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "WITH s AS ({SESSION}), t AS (DELETE FROM login_throttle WHERE key = $9) {event_sql}"
            )))
            .bind(s.id_hash)
            .bind(s.user_id)
            .bind(s.account_id)
            .bind(s.csrf)
            .bind(s.created_at)
            .bind(s.last_seen_at)
            .bind(s.expires_at)
            .bind(s.amr)
            .bind(reset)
            .bind(e.id)
            .bind(e.account_id)
            .bind(e.occurred_at)
            .bind(e.actor_kind)
            .bind(e.actor_id)
            .bind(e.actor_name)
            .bind(e.action)
            .bind(e.event_type)
            .bind(e.asset)
            .bind(e.asset_id)
            .bind(e.properties_changed)
            .bind(e.core_details)
            .bind(e.extra_details)
            .bind(e.tags)
            .execute(pool)
            .await?;
            Ok(())
        }
        crate::Store::Sqlite(..) => store
            .sqlite_write(move |tx| {
                tx.prepare_cached(SESSION)?.execute(rusqlite::params![
                    s.id_hash,
                    s.user_id,
                    s.account_id,
                    s.csrf,
                    s.created_at,
                    s.last_seen_at,
                    s.expires_at,
                    s.amr
                ])?;
                if !reset.is_empty() {
                    tx.prepare_cached("DELETE FROM login_throttle WHERE key = $1")?
                        .execute(rusqlite::params![reset])?;
                }
                // Numbered from $10 for PostgreSQL's single statement; SQLite numbers by appearance.
                tx.prepare_cached(&event_sql)?.execute(rusqlite::params![
                    e.id,
                    e.account_id,
                    e.occurred_at,
                    e.actor_kind,
                    e.actor_id,
                    e.actor_name,
                    e.action,
                    e.event_type,
                    e.asset,
                    e.asset_id,
                    e.properties_changed,
                    e.core_details,
                    e.extra_details,
                    e.tags
                ])?;
                Ok(())
            })
            .await
            .unwrap_or(Ok(())),
    }
}

/// A live session with its user, when the user and the account are active: one query for every signed-in
/// page and every authorization.
pub async fn find_live(
    db: &mut impl Exec,
    id_hash: &str,
    now: i64,
    idle: i64,
) -> Result<Option<(SessionRow, crate::users::UserRow)>> {
    #[derive(sqlx::FromRow)]
    struct Live {
        #[sqlx(flatten)]
        user: crate::users::UserRow,
        s_csrf: String,
        s_created_at: i64,
        s_last_seen_at: i64,
        s_expires_at: i64,
        s_amr: String,
    }
    let id = id_hash.to_string();
    let sql = format!(
        "SELECT {cols}, s.csrf AS s_csrf, s.created_at AS s_created_at, s.last_seen_at AS s_last_seen_at, \
         s.expires_at AS s_expires_at, s.amr AS s_amr FROM sessions s JOIN users u ON u.id = s.user_id \
         JOIN accounts a ON a.id = s.account_id WHERE s.id_hash = $1 AND s.expires_at > $2 \
         AND s.last_seen_at > $3 AND u.active AND a.status = 'active'",
        cols = crate::users::columns_of("u")
    );
    let row: Option<Live> = on_conn!(db, |c| sqlx::query_as::<_, Live>(sqlx::AssertSqlSafe(
        sql.clone()
    ))
    .bind(id.clone())
    .bind(now)
    .bind(now - idle)
    .fetch_optional(&mut *c)
    .await)?;
    Ok(row.map(|l| {
        let session = SessionRow {
            id_hash: id_hash.to_string(),
            user_id: l.user.id.clone(),
            account_id: l.user.account_id.clone(),
            csrf: l.s_csrf,
            created_at: l.s_created_at,
            last_seen_at: l.s_last_seen_at,
            expires_at: l.s_expires_at,
            amr: l.s_amr,
        };
        (session, l.user)
    }))
}

/// Records activity, at most once a minute per session.
pub async fn touch(tx: &mut Tx, id_hash: &str, now: i64) -> Result<()> {
    let id = id_hash.to_string();
    on_conn!(tx, |c| sqlx::query(
        "UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1 AND last_seen_at < $3"
    )
    .bind(id.clone())
    .bind(now)
    .bind(now - 60_000_000)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn delete(tx: &mut Tx, id_hash: &str) -> Result<bool> {
    let id = id_hash.to_string();
    let n = on_conn!(tx, |c| sqlx::query(
        "DELETE FROM sessions WHERE id_hash = $1"
    )
    .bind(id.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Signs a user out everywhere.
pub async fn delete_for_user(tx: &mut Tx, scope: &AccountScope, user: UserId) -> Result<u64> {
    let (account, user) = (scope.account_id().to_string(), user.to_string());
    Ok(on_conn!(tx, |c| sqlx::query(
        "DELETE FROM sessions WHERE account_id = $1 AND user_id = $2"
    )
    .bind(account.clone())
    .bind(user.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?)
}

/// Deletes sessions past their absolute expiry or idle since `idle_before`.
pub async fn purge(tx: &mut Tx, now: i64, idle_before: i64) -> Result<u64> {
    Ok(on_conn!(tx, |c| sqlx::query(
        "DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2"
    )
    .bind(now)
    .bind(idle_before)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?)
}

/// Signs out every user of an account (it was deactivated).
pub async fn delete_for_account(tx: &mut Tx, scope: &AccountScope) -> Result<u64> {
    let account = scope.account_id().to_string();
    Ok(on_conn!(tx, |c| sqlx::query(
        "DELETE FROM sessions WHERE account_id = $1"
    )
    .bind(account.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?)
}

/// Failed sign-ins per key (a user's e-mail or a client address) within a window, and the lock they earned.
/// Kept in the store so that every node sees the same counts.
pub mod throttle {
    use crate::{Exec, Result, Tx, on_conn};

    /// The later of the locks on `keys` (when any is locked now), and whether the first key has failures on
    /// record: one query for the password step.
    pub async fn check(
        db: &mut impl Exec,
        keys: [&str; 2],
        now: i64,
    ) -> Result<(Option<i64>, bool)> {
        let (a, b) = (keys[0].to_string(), keys[1].to_string());
        let rows: Vec<(String, i64)> = on_conn!(db, |c| sqlx::query_as(
            "SELECT key, locked_until FROM login_throttle WHERE key IN ($1, $2)"
        )
        .bind(a.clone())
        .bind(b.clone())
        .fetch_all(&mut *c)
        .await)?;
        let locked = rows
            .iter()
            .map(|(_, until)| *until)
            .filter(|until| *until > now)
            .max();
        Ok((locked, rows.iter().any(|(k, _)| *k == a)))
    }

    /// When the key may try again, if it is locked now.
    pub async fn locked_until(db: &mut impl Exec, key: &str, now: i64) -> Result<Option<i64>> {
        let key = key.to_string();
        let until: Option<i64> = on_conn!(db, |c| sqlx::query_scalar(
            "SELECT locked_until FROM login_throttle WHERE key = $1 AND locked_until > $2"
        )
        .bind(key.clone())
        .bind(now)
        .fetch_optional(&mut *c)
        .await)?;
        Ok(until)
    }

    /// Counts a failure; returns the failures in the current window. `lock_for(failures)` says how long the
    /// key is then locked (0 for not at all). The count is one atomic upsert, so concurrent failures (a burst
    /// of guesses) are all counted; the row stays locked by it until the transaction ends.
    pub async fn record_failure(
        tx: &mut Tx,
        key: &str,
        now: i64,
        window: i64,
        lock_for: impl Fn(i64) -> i64,
    ) -> Result<i64> {
        let failures = count(tx, key, now, window).await?;
        let until = now + lock_for(failures);
        let key = key.to_string();
        on_conn!(tx, |c| sqlx::query(
            "UPDATE login_throttle SET locked_until = $2 WHERE key = $1"
        )
        .bind(key.clone())
        .bind(until)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(failures)
    }

    /// Counts an event that is limited whether or not it failed (a password-reset request); returns the
    /// events in the current window. One statement: the key is never locked, the caller decides.
    pub async fn hit(tx: &mut Tx, key: &str, now: i64, window: i64) -> Result<i64> {
        count(tx, key, now, window).await
    }

    /// One more for `key` in the window that began at most `window` before `now` (a new window otherwise).
    async fn count(tx: &mut Tx, key: &str, now: i64, window: i64) -> Result<i64> {
        let key = key.to_string();
        Ok(on_conn!(tx, |c| {
            sqlx::query_scalar(
            "INSERT INTO login_throttle (key, failures, window_start, locked_until) VALUES ($1, 1, $2, 0) \
             ON CONFLICT (key) DO UPDATE SET \
             failures = CASE WHEN login_throttle.window_start > $3 THEN login_throttle.failures + 1 ELSE 1 END, \
             window_start = CASE WHEN login_throttle.window_start > $3 THEN login_throttle.window_start ELSE $2 END \
             RETURNING failures"
        )
        .bind(key.clone())
        .bind(now)
        .bind(now - window)
        .fetch_one(&mut *c)
        .await
        })?)
    }

    /// Forgets counters whose window began before `started_before` and that hold no lock.
    pub async fn purge(tx: &mut Tx, now: i64, started_before: i64) -> Result<u64> {
        Ok(on_conn!(tx, |c| sqlx::query(
            "DELETE FROM login_throttle WHERE window_start < $1 AND locked_until <= $2"
        )
        .bind(started_before)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?)
    }

    pub async fn reset(tx: &mut Tx, key: &str) -> Result<()> {
        let key = key.to_string();
        on_conn!(tx, |c| sqlx::query(
            "DELETE FROM login_throttle WHERE key = $1"
        )
        .bind(key.clone())
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
