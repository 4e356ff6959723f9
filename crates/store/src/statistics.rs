//! Planner statistics that follow the data as it grows, on a server that is never restarted.
//!
//! A fresh install starts with one user and grows to a hundred thousand through SCIM in minutes. Statistics
//! taken of a nearly empty table tell the planner that a scan costs nothing, and it then scans what an index
//! would find, ever slower as the table grows. So [`refresh`], which the server runs every few seconds:
//!
//! - **SQLite**: a table under [`MIN_ROWS`] keeps no statistics, so the planner's defaults, which assume a big
//!   table and favour indexes, apply (right for small tables too). From [`MIN_ROWS`] on, the table is analyzed
//!   each time it has doubled since it last was. Every SQLite connection keeps the statistics it loaded when
//!   it opened, so a refresh also retires the pooled connections opened before it (closed at their next
//!   checkout, see [`Epoch`]) and makes the writer connection reload them.
//! - **PostgreSQL**: the planner scales a table's row estimate by its current size on disk, but not the
//!   distribution statistics, and autovacuum's analyze runs at most once a minute (or not at all where it is
//!   off). A table that has doubled in pages since its last analyze, or was never analyzed, is analyzed; the
//!   plans cached by prepared statements are invalidated by it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::{Result, Store, on_conn};

/// Below this many rows a SQLite table keeps no statistics.
pub const MIN_ROWS: i64 = 1000;
/// Below this many pages (8 kB each) a PostgreSQL table is left to autovacuum.
pub const MIN_PAGES: i64 = 16;

/// When SQLite's statistics last changed, so that connections opened before then are retired.
#[derive(Debug)]
pub(crate) struct Epoch {
    base: Instant,
    /// Nanoseconds after `base` of the last refresh, plus one; 0 before any.
    refreshed: AtomicU64,
    generation: AtomicU64,
}

impl Epoch {
    pub(crate) fn new() -> Self {
        Epoch {
            base: Instant::now(),
            refreshed: AtomicU64::new(0),
            generation: AtomicU64::new(0),
        }
    }

    fn since_base(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    pub(crate) fn bump(&self) {
        self.refreshed
            .store(self.since_base().saturating_add(1), Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Whether a connection of this age opened before the last refresh (and so plans with older figures).
    pub(crate) fn predates_refresh(&self, age: Duration) -> bool {
        let refreshed = self.refreshed.load(Ordering::SeqCst);
        if refreshed == 0 {
            return false;
        }
        let age = u64::try_from(age.as_nanos()).unwrap_or(u64::MAX);
        self.since_base().saturating_sub(age) < refreshed
    }
}

/// What one [`refresh`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Refreshed {
    /// Tables analyzed.
    pub analyzed: Vec<String>,
    /// Tables whose statistics were dropped because they are small (SQLite).
    pub cleared: Vec<String>,
    /// SQLite: the index samples an older version kept were dropped.
    pub samples_dropped: bool,
}

impl Refreshed {
    pub fn is_empty(&self) -> bool {
        self.analyzed.is_empty() && self.cleared.is_empty() && !self.samples_dropped
    }
}

/// What to do with one SQLite table, given its row count when last analyzed and a way to count it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Keep,
    Analyze,
    Clear,
}

/// Whether a SQLite table must be counted exactly: `upper` (its largest rowid) bounds its row count from above
/// and is cheap, so only a table that may have crossed a threshold is counted.
fn needs_count(analyzed_rows: Option<i64>, upper: i64) -> bool {
    match analyzed_rows {
        None => upper >= MIN_ROWS,
        Some(then) => then < MIN_ROWS || upper >= then.saturating_mul(2),
    }
}

/// What to do with a SQLite table of `rows` rows that had `analyzed_rows` when last analyzed.
fn sqlite_verdict(analyzed_rows: Option<i64>, rows: i64) -> Verdict {
    match analyzed_rows {
        None if rows >= MIN_ROWS => Verdict::Analyze,
        None => Verdict::Keep,
        Some(_) if rows < MIN_ROWS => Verdict::Clear,
        Some(then) if rows >= then.saturating_mul(2) => Verdict::Analyze,
        Some(_) => Verdict::Keep,
    }
}

fn pg_stale(analyzed_pages: i64, reltuples: f64, pages: i64) -> bool {
    pages >= MIN_PAGES && (reltuples < 0.0 || analyzed_pages <= 0 || pages >= analyzed_pages * 2)
}

fn quoted(table: &str) -> String {
    format!("\"{}\"", table.replace('"', "\"\""))
}

/// Brings the planner's statistics in line with the tables' sizes (see the module's notes). Cheap when nothing
/// changed: a catalog query and, on SQLite, one `max(rowid)` per table.
pub async fn refresh(store: &Store) -> Result<Refreshed> {
    match store {
        Store::Sqlite(_, writers) => {
            let out = refresh_sqlite(store).await?;
            if !out.is_empty() {
                writers.epoch.bump();
            }
            Ok(out)
        }
        Store::Postgres(_) => refresh_postgres(store).await,
    }
}

async fn refresh_sqlite(store: &Store) -> Result<Refreshed> {
    let mut h = store.handle().await?;
    // Ordinary tables only: not SQLite's own, the migrations', virtual tables or their shadow tables.
    let tables: Vec<(String, bool)> = on_conn!(&mut h, |c| {
        sqlx::query_as(
        "SELECT name, wr FROM pragma_table_list WHERE schema = 'main' AND type = 'table' \
         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_sqlx%' ESCAPE '\\' ORDER BY name"
    )
    .fetch_all(&mut *c)
    .await
    })?;
    let has_stats: bool = on_conn!(&mut h, |c| sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat1')"
    )
    .fetch_one(&mut *c)
    .await)?;
    let analyzed: Vec<(String, i64)> = if has_stats {
        on_conn!(&mut h, |c| sqlx::query_as(
            "SELECT tbl, max(CAST(stat AS INTEGER)) FROM sqlite_stat1 GROUP BY tbl"
        )
        .fetch_all(&mut *c)
        .await)?
    } else {
        Vec::new()
    };
    // Statistics of an older version that kept samples (see below) are dropped once.
    let has_samples: bool = on_conn!(&mut h, |c| sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat4')"
    )
    .fetch_one(&mut *c)
    .await)?;
    let stale_samples = has_samples
        && on_conn!(&mut h, |c| sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM sqlite_stat4)"
        )
        .fetch_one(&mut *c)
        .await)?;
    let mut out = Refreshed::default();
    for (table, without_rowid) in tables {
        let then = analyzed.iter().find(|(t, _)| *t == table).map(|(_, n)| *n);
        // The largest rowid bounds the row count from above at the cost of one index step; a table without
        // rowids is counted.
        let bound = if without_rowid {
            "count(*)"
        } else {
            "coalesce(max(rowid), 0)"
        };
        let upper: i64 = on_conn!(&mut h, |c| sqlx::query_scalar(sqlx::AssertSqlSafe(
            format!("SELECT {bound} FROM {}", quoted(&table))
        ))
        .fetch_one(&mut *c)
        .await)?;
        if !needs_count(then, upper) {
            continue;
        }
        let rows: i64 = on_conn!(&mut h, |c| sqlx::query_scalar(sqlx::AssertSqlSafe(
            format!("SELECT count(*) FROM {}", quoted(&table))
        ))
        .fetch_one(&mut *c)
        .await)?;
        match sqlite_verdict(then, rows) {
            Verdict::Keep => {}
            Verdict::Analyze => out.analyzed.push(table),
            Verdict::Clear => out.cleared.push(table),
        }
    }
    drop(h);
    if out.is_empty() && !stale_samples {
        return Ok(out);
    }
    out.samples_dropped = stale_samples;
    // In the writers' queue, like any write: ANALYZE writes sqlite_stat1.
    let mut tx = store.begin().await?;
    for table in &out.cleared {
        on_conn!(&mut tx, |c| sqlx::query(
            "DELETE FROM sqlite_stat1 WHERE tbl = $1"
        )
        .bind(table.clone())
        .execute(&mut *c)
        .await
        .map(|_| ()))?;
    }
    for table in &out.analyzed {
        on_conn!(&mut tx, |c| sqlx::query(sqlx::AssertSqlSafe(format!(
            "ANALYZE {}",
            quoted(table)
        )))
        .execute(&mut *c)
        .await
        .map(|_| ()))?;
    }
    // ANALYZE also keeps samples of each index's values (sqlite_stat4, compiled in). With them, a prepared
    // statement whose WHERE compares an indexed column with a parameter is planned again each time it runs
    // with new values: 11 % of the server's time under SCIM load went to re-preparing. The per-index averages of
    // sqlite_stat1 plan the hot paths as well (the plans test checks them).
    if has_samples || !out.analyzed.is_empty() {
        on_conn!(&mut tx, |c| sqlx::query("DELETE FROM sqlite_stat4")
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
    }
    tx.commit().await?;
    tracing::debug!(analyzed = ?out.analyzed, cleared = ?out.cleared, "planner statistics refreshed");
    Ok(out)
}

async fn refresh_postgres(store: &Store) -> Result<Refreshed> {
    let mut h = store.handle().await?;
    let tables: Vec<(String, i64, f64, i64)> = on_conn!(&mut h, |c| sqlx::query_as(
        "SELECT c.relname::text, c.relpages::bigint, c.reltuples::float8, \
         (pg_relation_size(c.oid) / current_setting('block_size')::bigint)::bigint \
         FROM pg_class c WHERE c.relkind = 'r' \
         AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) \
         ORDER BY c.relname"
    )
    .fetch_all(&mut *c)
    .await)?;
    drop(h);
    let stale: Vec<String> = tables
        .into_iter()
        .filter(|(_, analyzed_pages, reltuples, pages)| {
            pg_stale(*analyzed_pages, *reltuples, *pages)
        })
        .map(|(name, ..)| name)
        .collect();
    let mut out = Refreshed::default();
    if stale.is_empty() {
        return Ok(out);
    }
    let mut tx = store.begin().await?;
    // One node at a time: two ANALYZEs of one table at once can fail on the catalog row they both update.
    let ours: bool = on_conn!(&mut tx, |c| sqlx::query_scalar(
        "SELECT pg_try_advisory_xact_lock(hashtext('skybridge.statistics'))"
    )
    .fetch_one(&mut *c)
    .await)?;
    if !ours {
        return Ok(out);
    }
    for table in stale {
        on_conn!(&mut tx, |c| sqlx::query(sqlx::AssertSqlSafe(format!(
            "ANALYZE {}",
            quoted(&table)
        )))
        .execute(&mut *c)
        .await
        .map(|_| ()))?;
        out.analyzed.push(table);
    }
    tx.commit().await?;
    tracing::debug!(analyzed = ?out.analyzed, "planner statistics refreshed");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_tables_keep_no_statistics() {
        assert!(!needs_count(None, 999));
        assert_eq!(sqlite_verdict(None, 999), Verdict::Keep);
        // A statistic of one row (a fresh install's first ANALYZE) is dropped, not kept.
        assert!(needs_count(Some(1), 1));
        assert_eq!(sqlite_verdict(Some(1), 5), Verdict::Clear);
    }

    #[test]
    fn big_tables_are_analyzed_at_each_doubling() {
        assert!(needs_count(None, 1500));
        assert_eq!(sqlite_verdict(None, 1200), Verdict::Analyze);
        // Rowids run ahead of the count after deletes: the exact count decides.
        assert_eq!(sqlite_verdict(None, 800), Verdict::Keep);
        assert!(!needs_count(Some(1000), 1999));
        assert!(needs_count(Some(1000), 2000));
        assert_eq!(sqlite_verdict(Some(1000), 2000), Verdict::Analyze);
        assert_eq!(sqlite_verdict(Some(1000), 1500), Verdict::Keep);
        assert_eq!(sqlite_verdict(Some(40_000), 100_000), Verdict::Analyze);
        assert_eq!(sqlite_verdict(Some(4000), 900), Verdict::Clear);
    }

    #[test]
    fn postgres_tables_are_analyzed_when_their_pages_double() {
        assert!(!pg_stale(0, -1.0, 3), "small: autovacuum's");
        assert!(pg_stale(0, -1.0, 16), "never analyzed");
        assert!(pg_stale(1, 1.0, 16), "analyzed when tiny");
        assert!(!pg_stale(16, 900.0, 31));
        assert!(pg_stale(16, 900.0, 32));
    }

    #[test]
    fn connections_opened_before_a_refresh_are_retired() {
        let e = Epoch::new();
        assert!(
            !e.predates_refresh(Duration::from_secs(3600)),
            "no refresh yet"
        );
        e.bump();
        assert!(e.predates_refresh(Duration::from_secs(3600)));
        assert!(!e.predates_refresh(Duration::ZERO), "opened now");
        assert_eq!(e.generation(), 1);
    }
}
