/// Store failures. Constraint violations are told apart so callers can answer 409 instead of 500.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// No connection could be had: the database is down, unreachable, or not answering as one.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    pub fn corrupt(what: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(what.to_string())
    }

    /// The database could not be reached (no connection within the acquire timeout, a connection lost
    /// mid-statement, the pool closing): the request may succeed later, unlike a failing statement.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Database(e) => sqlx_unavailable(e),
            _ => false,
        }
    }
}

fn sqlx_unavailable(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::WorkerCrashed
    )
}

/// Whether `err` or any error it was caused by is a [`StoreError`] (or `sqlx::Error`) saying the database is
/// unavailable; for callers that carry store errors inside their own (`anyhow`) errors.
pub fn is_unavailable(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if e.downcast_ref::<StoreError>()
            .is_some_and(StoreError::is_unavailable)
            || e.downcast_ref::<sqlx::Error>()
                .is_some_and(sqlx_unavailable)
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// Maps a unique-constraint violation to [`StoreError::Conflict`].
pub(crate) fn on_unique(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Database(e),
    }
}
