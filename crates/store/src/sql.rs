//! A small builder for queries whose shape depends on filters. It writes `$n` placeholders, which both
//! SQLite and PostgreSQL accept, and keeps the arguments to bind in order.

#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
    Bool(bool),
}

impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Text(s)
    }
}
impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Text(s.to_string())
    }
}
impl From<i64> for Arg {
    fn from(i: i64) -> Self {
        Arg::Int(i)
    }
}
impl From<bool> for Arg {
    fn from(b: bool) -> Self {
        Arg::Bool(b)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Sql {
            text: text.to_string(),
            args: Vec::new(),
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `arg`.
    pub fn arg(&mut self, arg: impl Into<Arg>) -> &mut Self {
        self.args.push(arg.into());
        self.text.push('$');
        self.text.push_str(&self.args.len().to_string());
        self
    }
}

/// Binds a [`Sql`]'s arguments onto a query built from its text.
macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for a in $args {
            q = match a {
                $crate::sql::Arg::Text(s) => q.bind(s),
                $crate::sql::Arg::Int(i) => q.bind(i),
                $crate::sql::Arg::Bool(b) => q.bind(b),
            };
        }
        q
    }};
}
pub(crate) use bind_args;

/// Runs a dynamic [`Sql`] with `query_as` and a fetch method on any backend.
macro_rules! fetch_dyn {
    ($db:expr, $sql:expr, $row:ty, $fetch:ident) => {{
        let sql: $crate::sql::Sql = $sql;
        $crate::on_conn!($db, |c| {
            let q = sqlx::query_as::<_, $row>(sqlx::AssertSqlSafe(sql.text.clone()));
            $crate::sql::bind_args!(q, sql.args.clone())
                .$fetch(&mut *c)
                .await
        })
    }};
}
pub(crate) use fetch_dyn;

/// Rows per multi-row statement of `columns` parameters each on `db`'s backend: few hundred parameters on
/// SQLite, whose binding of `$n` placeholders costs the square of their count (see
/// [`crate::seed::SQLITE_PARAMS_PER_STATEMENT`]); 500 rows on PostgreSQL.
pub(crate) fn rows_per_statement(db: &mut impl crate::Exec, columns: usize) -> usize {
    match db.conn() {
        crate::Conn::Postgres(_) => crate::seed::ROWS_PER_STATEMENT,
        crate::Conn::Sqlite(_) => {
            (crate::seed::SQLITE_PARAMS_PER_STATEMENT / columns.max(1)).max(1)
        }
    }
}
