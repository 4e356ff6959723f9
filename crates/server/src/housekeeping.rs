//! Deletes what has expired — browser sessions, second-factor challenges, authorization codes, grants with
//! their refresh tokens, revocations, jobs finished a month ago — so that the tables stay the size of what is
//! live. Every node may run it; the deletes are idempotent.

use std::sync::Arc;
use std::time::Duration;

use skybridge_store::Store;
use skybridge_store::oauth::{codes, grants};
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::web::login::IDLE_MICROS;

const EVERY: Duration = Duration::from_secs(600);
/// How often the planner statistics are checked against the tables' sizes: a fresh install grown by SCIM at
/// thousands of users a second doubles its tables every few seconds at first.
const STATISTICS_EVERY: Duration = Duration::from_secs(2);
/// Used and expired authorization codes are kept this long, so that a late replay is still recognised
/// (and revokes what the code bought).
const CODE_GRACE_MICROS: i64 = 3600 * 1_000_000;
/// Finished jobs are kept this long for `GET /api/v1/accounts/{a}/jobs`; their outcome stays in the creator's
/// notifications and the audit events of what they did.
const JOB_KEEP_MICROS: i64 = 30 * 86_400 * 1_000_000;
/// The longest window a throttle counts in (password-reset requests); older unlocked counters are moot.
const THROTTLE_KEEP_MICROS: i64 = crate::web::links::FORGOT_WINDOW_MICROS;

/// One sweep; returns the rows deleted.
pub async fn sweep(store: &Store, now: i64) -> skybridge_store::Result<u64> {
    let mut tx = store.begin().await?;
    let mut n = skybridge_store::sessions::purge(&mut tx, now, now - IDLE_MICROS).await?;
    n += skybridge_store::mfa::purge_challenges(&mut tx, now).await?;
    n += codes::purge(&mut tx, now - CODE_GRACE_MICROS).await?;
    n += grants::purge(&mut tx, now).await?;
    n += skybridge_store::imports::purge(&mut tx, now).await?;
    n += skybridge_store::jobs::purge(&mut tx, now - JOB_KEEP_MICROS).await?;
    n += skybridge_store::sessions::throttle::purge(&mut tx, now, now - THROTTLE_KEEP_MICROS)
        .await?;
    tx.commit().await?;
    Ok(n)
}

pub async fn run(store: Store, clock: Arc<dyn Clock>, shutdown: CancellationToken) {
    loop {
        match sweep(&store, clock.now_micros()).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(rows = n, "housekeeping removed expired rows"),
            Err(e) => tracing::warn!(error = %e, "housekeeping failed"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(EVERY) => {}
        }
    }
}

/// Keeps the planner statistics in line with the tables as they grow (see `skybridge_store::statistics`). The
/// first pass runs as the server starts serving, not before: on a big store that has none yet it analyzes
/// tables for seconds, and statistics an older version took of nearly empty tables are dropped at once anyway.
pub async fn follow_statistics(store: Store, shutdown: CancellationToken) {
    loop {
        match skybridge_store::statistics::refresh(&store).await {
            Ok(r) if !r.is_empty() => {
                tracing::info!(analyzed = ?r.analyzed, cleared = ?r.cleared, "planner statistics refreshed")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "refreshing planner statistics failed"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(STATISTICS_EVERY) => {}
        }
    }
}
