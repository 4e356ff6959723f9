use std::str::FromStr;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgConnection, PgPool, Postgres, Sqlite, SqliteConnection, SqlitePool, Transaction};

use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;

use crate::Result;
use crate::statistics::Epoch;
pub use crate::writer::Writers;

/// How long a request waits for a PostgreSQL connection before it fails as unavailable (503, Retry-After).
/// While the database is unreachable the pool keeps retrying the connect until this runs out, so it is what a
/// request costs during an outage; a healthy pool hands out connections in microseconds, and a request that
/// waited this long for one behind busy ones is better answered "retry" than held on to.
pub const PG_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The connection pool of either backend.
#[derive(Debug, Clone)]
pub enum Store {
    /// With the queue of writers: SQLite has one writer at a time, and writers that find the lock taken
    /// wait in its busy handler, which sleeps and retries (1, 2, 5, 10 … 100 ms). Queueing them here instead
    /// hands the lock over the moment it is free.
    Sqlite(SqlitePool, Arc<Writers>),
    Postgres(PgPool),
}

/// A borrowed connection of either backend; queries are written once and run on whichever this is.
pub enum Conn<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

/// Anything queries can run on: a pooled connection ([`Handle`]) or a transaction ([`Tx`]).
pub trait Exec: Send {
    fn conn(&mut self) -> Conn<'_>;
}

/// Runs the same query code on whichever backend `$db` is.
#[macro_export]
macro_rules! on_conn {
    ($db:expr, |$c:ident| $body:expr) => {
        match $crate::Exec::conn($db) {
            $crate::Conn::Sqlite($c) => $body,
            $crate::Conn::Postgres($c) => $body,
        }
    };
}

/// A connection checked out of the pool, for reads.
pub enum Handle {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

impl Exec for Handle {
    fn conn(&mut self) -> Conn<'_> {
        match self {
            Handle::Sqlite(c) => Conn::Sqlite(c),
            Handle::Postgres(c) => Conn::Postgres(c),
        }
    }
}

/// A transaction; every mutation and its audit event go through one.
pub enum Tx {
    /// The permit is the writer's place at the front of the queue, released when the transaction ends.
    Sqlite(Transaction<'static, Sqlite>, OwnedSemaphorePermit),
    Postgres(Transaction<'static, Postgres>),
}

impl Exec for Tx {
    fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Sqlite(t, _) => Conn::Sqlite(t),
            Tx::Postgres(t) => Conn::Postgres(t),
        }
    }
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(t, _permit) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }
}

/// A PostgreSQL connection could not be had (or could not start a transaction): whatever the cause — refused,
/// timed out, a peer that does not speak the protocol, the database restarting — the request may succeed once
/// the database is back, so it is told apart from a failing statement.
fn unavailable(e: sqlx::Error) -> crate::StoreError {
    crate::StoreError::Unavailable(e)
}

/// `localhost`, a 127.0.0.0/8 or `::1` address, or a Unix socket directory.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.starts_with('/')
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Store {
    /// Opens (creating if needed) the database at `url`: `sqlite://path` or `postgres://…`.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut opts = PgConnectOptions::from_str(url)?;
            // On loopback TLS protects nothing (the bytes never leave the host) and costs both ends CPU on
            // every statement; libpq's default "prefer" would negotiate it anyway. An explicit sslmode wins.
            if !url.to_ascii_lowercase().contains("sslmode=") && is_loopback(opts.get_host()) {
                opts = opts.ssl_mode(sqlx::postgres::PgSslMode::Disable);
            }
            Self::connect_postgres(opts, max_connections).await
        } else {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                // WAL lets readers run while one writer commits; NORMAL is durable across application
                // crashes, which is what an embedded single-node deployment needs.
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                // Rows cross from SQLite's worker thread to the async task through this channel; a deeper buffer
                // lets long scans (event export) run ahead instead of ping-ponging between threads per row.
                .row_buffer_size(1024);
            let epoch = Arc::new(Epoch::new());
            let retire = epoch.clone();
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections)
                .min_connections(1)
                // A connection keeps the planner statistics it loaded when it opened: one opened before the
                // last refresh is closed instead of handed out, and its replacement loads the current ones.
                .before_acquire(move |_, meta| {
                    let fresh = !retire.predates_refresh(meta.age);
                    Box::pin(async move { Ok(fresh) })
                })
                .connect_with(opts)
                .await?;
            let path = pool.connect_options().get_filename().to_path_buf();
            Ok(Store::Sqlite(pool, Arc::new(Writers::new(path, epoch))))
        }
    }

    pub async fn connect_postgres(opts: PgConnectOptions, max_connections: u32) -> Result<Store> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(PG_ACQUIRE_TIMEOUT)
            .connect_with(opts)
            .await?;
        Ok(Store::Postgres(pool))
    }

    pub fn backend(&self) -> Backend {
        match self {
            Store::Sqlite(..) => Backend::Sqlite,
            Store::Postgres(_) => Backend::Postgres,
        }
    }

    /// The most connections the pool opens.
    pub fn pool_size(&self) -> u32 {
        match self {
            Store::Sqlite(p, _) => p.options().get_max_connections(),
            Store::Postgres(p) => p.options().get_max_connections(),
        }
    }

    /// Applies the migrations of this backend.
    pub async fn migrate(&self) -> Result<()> {
        match self {
            Store::Sqlite(p, _) => sqlx::migrate!("migrations/sqlite").run(p).await?,
            Store::Postgres(p) => sqlx::migrate!("migrations/postgres").run(p).await?,
        }
        Ok(())
    }

    /// A pooled connection for reads.
    pub async fn handle(&self) -> Result<Handle> {
        Ok(match self {
            Store::Sqlite(p, _) => Handle::Sqlite(p.acquire().await?),
            Store::Postgres(p) => Handle::Postgres(p.acquire().await.map_err(unavailable)?),
        })
    }

    /// Starts a write transaction. On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`), so that
    /// a transaction that reads then writes cannot fail half-way on a lock upgrade.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match self {
            Store::Sqlite(p, writers) => {
                let permit = writers.permit().await?;
                Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?, permit)
            }
            Store::Postgres(p) => Tx::Postgres(p.begin().await.map_err(unavailable)?),
        })
    }

    /// SQLite only: runs `f` on the writer connection as part of the next group commit (see [`Writers`]), in
    /// one blocking call. For hot paths whose statements would otherwise each cost a thread hand-off; use
    /// `prepare_cached` in `f`, the connection keeps its statements prepared. `None` on PostgreSQL.
    pub async fn sqlite_write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Option<Result<T>> {
        let Store::Sqlite(_, writers) = self else {
            return None;
        };
        Some(writers.write(f).await)
    }

    /// Round-trips a trivial query; used by `/readyz`.
    pub async fn ping(&self) -> Result<()> {
        let mut h = self.handle().await?;
        on_conn!(&mut h, |c| sqlx::query("SELECT 1")
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    pub async fn close(&self) {
        match self {
            Store::Sqlite(p, writers) => {
                writers.close();
                p.close().await
            }
            Store::Postgres(p) => p.close().await,
        }
    }
}

#[cfg(test)]
mod loopback_tests {
    use super::is_loopback;

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
            "/var/run/postgresql",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["db.example.com", "10.0.0.5", "192.168.1.1", "::2"] {
            assert!(!is_loopback(h), "{h}");
        }
    }
}
