//! The query plans of the hot paths on a store that grows from a fresh install, without a restart.
//!
//! A fresh install once took planner statistics when `users` had one row, and every connection kept them: the
//! uniqueness checks of each SCIM write then scanned all users, slower with every user added. This test starts
//! a fresh server, records every statement the hot paths run (sqlx logs each one; the SQLite writer's SCIM
//! statement is added by name), and checks their plans on every connection of the pool, and SQLite's writer
//! connection, at the first user and again after SCIM has grown the account past the statistics threshold.

use std::collections::BTreeSet;
use std::sync::{Mutex, OnceLock};

use skybridge_store::{Backend, Store};
use skybridge_testkit::reqwest::{self, redirect};
use skybridge_testkit::{ScimClient, TestApp, backend_tests, json, url_encode};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::{Layer, Registry};

use crate::scim_entra::{USER_SCHEMA, patch_op};

/// Every statement text sqlx ran in this process.
fn statements() -> &'static Mutex<BTreeSet<String>> {
    static SEEN: OnceLock<Mutex<BTreeSet<String>>> = OnceLock::new();
    SEEN.get_or_init(|| {
        struct Record;
        struct Text(Option<String>, Option<String>);
        impl Visit for Text {
            fn record_str(&mut self, field: &Field, value: &str) {
                match field.name() {
                    "db.statement" if !value.trim().is_empty() => {
                        self.0 = Some(value.trim().to_string())
                    }
                    "summary" => self.1 = Some(value.trim().to_string()),
                    _ => {}
                }
            }
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                if field.name() == "summary" {
                    self.1 = Some(format!("{value:?}").trim_matches('"').to_string());
                }
            }
        }
        impl<S: tracing::Subscriber> Layer<S> for Record {
            fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
                if event.metadata().target() != "sqlx::query" {
                    return;
                }
                let mut t = Text(None, None);
                event.record(&mut t);
                if let Some(sql) = t.0.or(t.1) {
                    statements().lock().unwrap().insert(sql);
                }
            }
        }
        let filter = tracing_subscriber::filter::Targets::new()
            .with_target("sqlx::query", tracing::Level::DEBUG);
        let subscriber = Registry::default().with(Record.with_filter(filter));
        // Each test runs in a process of its own under nextest; under `cargo test` the first one installs it.
        let _ = tracing::subscriber::set_global_default(subscriber);
        Mutex::new(BTreeSet::new())
    })
}

/// The statements worth a plan: reads and writes of data, not transaction control or pragmas.
fn recorded() -> Vec<String> {
    statements()
        .lock()
        .unwrap()
        .iter()
        .filter(|s| {
            let head = s.trim_start().to_ascii_uppercase();
            ["SELECT", "WITH", "UPDATE", "DELETE", "INSERT"]
                .iter()
                .any(|k| head.starts_with(k))
                && !head.contains("SQLITE_SCHEMA")
                && !head.contains("PG_CLASS")
                && !head.contains("SQLITE_STAT1")
                && !head.contains("_SQLX_MIGRATIONS")
        })
        .cloned()
        .collect()
}

/// Runs what a user of the hot paths does: SCIM writes and lookups, the admin API's user and event pages with
/// its bearer token, a bulk import committed by the job worker, a client-credentials grant and its
/// introspection, and the sign-in's e-mail and password steps.
async fn exercise(app: &TestApp, aid: &str, scim: &ScimClient, client: (&str, &str), round: u32) {
    let user_name = format!("hot{round}@contoso.com");
    let r = scim
        .post(
            "/Users",
            &json!({
                "schemas": [USER_SCHEMA], "userName": user_name, "externalId": format!("hot-{round}"),
                "name": { "givenName": "Hot", "familyName": format!("Path{round}") },
                "emails": [{ "type": "work", "value": user_name, "primary": true }],
                "phoneNumbers": [{ "type": "mobile", "value": format!("+1613555{:04}", round) }],
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let r = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(r.status, 200);
    for f in [
        format!("userName eq \"{user_name}\""),
        format!("externalId eq \"hot-{round}\""),
    ] {
        let r = scim.get(&format!("/Users?filter={}", url_encode(&f))).await;
        assert_eq!(r.body["totalResults"], 1, "{f}: {}", r.body);
    }
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            &patch_op(json!([{ "op": "Replace", "path": "title", "value": "Lead" }])),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    for path in [
        format!("/api/v1/accounts/{aid}/users?limit=50"),
        format!("/api/v1/accounts/{aid}/users?q=path{round}"),
        format!("/api/v1/accounts/{aid}/events?limit=50"),
    ] {
        let (status, body) = app.get(&app.token, &path).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    // The bulk import: a small sheet staged and committed by the job worker.
    let csv = format!(
        "FIRST NAME,LAST NAME,NAME,EMAIL,ROLE\nImp,One,Imp One,imp{round}a@contoso.com,User\n\
         Imp,Two,Imp Two,imp{round}b@contoso.com,User\n"
    );
    let resp = app
        .http
        .post(app.url(&format!(
            "/api/v1/accounts/{aid}/imports?file_name=users.csv"
        )))
        .bearer_auth(&app.token)
        .header("content-type", "application/octet-stream")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let import: serde_json::Value = resp.json().await.unwrap();
    let (status, job) = app
        .post(
            &app.token,
            &format!(
                "/api/v1/accounts/{aid}/imports/{}/commit",
                import["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(status, 202, "{job}");
    let (status, job) = app
        .get(
            &app.token,
            &format!("/api/v1/jobs/{}?wait=30", job["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(
        (status.as_u16(), job["state"].as_str()),
        (200, Some("succeeded")),
        "{job}"
    );
    // Token grants: client credentials, and the token's introspection.
    let (id, secret) = client;
    let resp = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let granted: serde_json::Value = resp.json().await.unwrap();
    let resp = app
        .http
        .post(app.url("/oauth2/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", granted["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // The sign-in: the e-mail step, then a password step (wrong: the candidates are read all the same).
    let browser = reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    let r = browser.get(app.url("/auth/login")).send().await.unwrap();
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("sb_csrf="))
        .map(|v| v.split(';').next().unwrap().to_string())
        .expect("csrf cookie");
    let html = r.text().await.unwrap();
    let marker = "name=\"csrf\" value=\"";
    let at = html.find(marker).expect("csrf field") + marker.len();
    let csrf = html[at..].split('"').next().unwrap().to_string();
    for fields in [
        vec![("step", "identify"), ("email", user_name.as_str())],
        vec![
            ("step", "password"),
            ("email", user_name.as_str()),
            ("account", ""),
            ("password", "not the password"),
        ],
    ] {
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend(fields);
        let r = browser
            .post(app.url("/auth/login"))
            .header("cookie", &cookie)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert!(r.status() == 200 || r.status() == 401, "{}", r.status());
    }
}

/// Tables that grow with the users of an account; a plan may never read one of them whole.
const GROWING: &[&str] = &[
    "users",
    "scim_users",
    "events",
    "event_tags",
    "sessions",
    "oauth_grants",
    "oauth_refresh_tokens",
    "api_tokens",
    "one_time_links",
    "user_mfa",
    "scim_group_members",
    "notifications",
    "mail_outbox",
];

/// The table a SQLite plan line `SCAN x` reads, resolving an alias through the statement's FROM/JOIN clauses.
fn scanned_table<'a>(sql: &'a str, alias: &'a str) -> &'a str {
    let words: Vec<&str> = sql
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .filter(|w| !w.is_empty())
        .collect();
    for w in words.windows(2) {
        if w[1] == alias && GROWING.contains(&w[0]) {
            return w[0];
        }
    }
    alias
}

/// Plans of `sql` that read a growing table whole: SQLite's `SCAN t` without an index, PostgreSQL's `Seq Scan`.
async fn full_scans(conn: &mut skybridge_store::Handle, sql: &str) -> Vec<String> {
    use skybridge_store::Conn;
    match skybridge_store::Exec::conn(conn) {
        Conn::Sqlite(c) => {
            let rows: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                    .fetch_all(&mut *c)
                    .await
                    .unwrap_or_else(|e| panic!("EXPLAIN {sql}: {e}"));
            rows.into_iter()
                .filter_map(|(.., detail)| {
                    let target = detail.strip_prefix("SCAN ")?;
                    if target.contains(" USING ") || target.starts_with("CONSTANT") {
                        return None;
                    }
                    let table = scanned_table(sql, target.trim());
                    GROWING.contains(&table).then_some(detail)
                })
                .collect()
        }
        // A generic plan cannot know a `LIMIT $n` and costs the page as a tenth of the table; PostgreSQL's
        // plan cache then keeps planning such statements with their values, so their generic plan says nothing.
        Conn::Postgres(_) if sql.contains("LIMIT $") => Vec::new(),
        Conn::Postgres(c) => {
            // The generic plan: what a prepared statement settles on after its first executions.
            let params = (1..=60)
                .rev()
                .find(|n| sql.contains(&format!("${n}")))
                .unwrap_or(0);
            sqlx::query("SET plan_cache_mode = force_generic_plan")
                .execute(&mut *c)
                .await
                .unwrap();
            // A parameter the statement never uses has no type to infer: declared text on a retry.
            let mut types = vec!["unknown"; params];
            loop {
                let declared = if params == 0 {
                    String::new()
                } else {
                    format!("({})", types.join(", "))
                };
                match sqlx::query(sqlx::AssertSqlSafe(format!(
                    "PREPARE hot{declared} AS {sql}"
                )))
                .execute(&mut *c)
                .await
                {
                    Ok(_) => break,
                    Err(e) => {
                        let msg = e.to_string();
                        let n: usize = msg
                            .split("could not determine data type of parameter $")
                            .nth(1)
                            .and_then(|r| r.split(|ch: char| !ch.is_ascii_digit()).next())
                            .and_then(|d| d.parse().ok())
                            .unwrap_or_else(|| panic!("PREPARE {sql}: {msg}"));
                        types[n - 1] = "text";
                    }
                }
            }
            let args = vec!["NULL"; params].join(", ");
            let execute = if params == 0 {
                "EXPLAIN EXECUTE hot".to_string()
            } else {
                format!("EXPLAIN EXECUTE hot({args})")
            };
            let lines: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(execute))
                .fetch_all(&mut *c)
                .await
                .unwrap_or_else(|e| panic!("EXPLAIN {sql}: {e}"));
            sqlx::query("DEALLOCATE hot")
                .execute(&mut *c)
                .await
                .unwrap();
            sqlx::query("RESET plan_cache_mode")
                .execute(&mut *c)
                .await
                .unwrap();
            lines
                .into_iter()
                .filter(|l| {
                    l.split("Seq Scan on ")
                        .nth(1)
                        .and_then(|rest| rest.split_whitespace().next())
                        .is_some_and(|t| GROWING.contains(&t))
                })
                .collect()
        }
    }
}

/// Checks every recorded statement on every connection of the pool at once (so none is left out), and on
/// SQLite the SCIM write's uniqueness check on the writer connection.
async fn assert_indexed(store: &Store, connections: usize, when: &str) {
    let mut statements = recorded();
    assert!(
        statements.len() > 20,
        "{when}: only {} statements recorded",
        statements.len()
    );
    if store.backend() == Backend::Sqlite {
        statements.push(skybridge_store::scim::save::CONFLICT_SQL.to_string());
    }
    let mut handles = Vec::new();
    for _ in 0..connections {
        handles.push(store.handle().await.unwrap());
    }
    let mut bad = BTreeSet::new();
    for h in &mut handles {
        for sql in &statements {
            for line in full_scans(h, sql).await {
                bad.insert(format!("{line}    in: {sql}"));
            }
        }
    }
    drop(handles);
    if store.backend() == Backend::Sqlite {
        let scans = store
            .sqlite_write(|tx| {
                let mut stmt = tx.prepare(&format!(
                    "EXPLAIN QUERY PLAN {}",
                    skybridge_store::scim::save::CONFLICT_SQL
                ))?;
                // Planned without values, as the write plans it before binding them.
                let mut rows = stmt.raw_query();
                let mut details = Vec::new();
                while let Some(r) = rows.next()? {
                    details.push(r.get::<_, String>(3)?);
                }
                Ok(details)
            })
            .await
            .unwrap()
            .unwrap();
        for line in scans {
            if line.starts_with("SCAN ") && !line.contains(" USING ") && !line.contains("CONSTANT")
            {
                bad.insert(format!("writer connection: {line}"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{when}: full scans of growing tables:\n{}",
        bad.into_iter().collect::<Vec<_>>().join("\n")
    );
}

async fn hot_paths_use_their_indexes_as_a_fresh_store_grows(app: TestApp) {
    statements();
    let connections = app.store.pool_size() as usize;
    let (aid, scim) = app.scim_account("Contoso").await;
    let (status, registered) = app
        .post(
            &app.token,
            &format!("/api/v1/accounts/{aid}/oauth-clients"),
            &json!({ "name": "Reporting", "type": "confidential", "grant_types": ["client_credentials"] }),
        )
        .await;
    assert_eq!(status, 201, "{registered}");
    let client = (
        registered["client_id"].as_str().unwrap(),
        registered["client_secret"].as_str().unwrap(),
    );
    exercise(&app, &aid, &scim, client, 1).await;
    assert_indexed(&app.store, connections, "a fresh install").await;

    // An install upgraded from a version that analyzed its nearly empty tables at first start: those statistics
    // are dropped, and no connection keeps planning with them.
    if app.store.backend() == Backend::Sqlite {
        let mut tx = app.store.begin().await.unwrap();
        if let skybridge_store::Conn::Sqlite(c) = skybridge_store::Exec::conn(&mut tx) {
            sqlx::query("ANALYZE").execute(&mut *c).await.unwrap();
        }
        tx.commit().await.unwrap();
        let refreshed = skybridge_store::statistics::refresh(&app.store)
            .await
            .unwrap();
        assert!(
            refreshed.cleared.iter().any(|t| t == "users"),
            "the one-row statistics of users are dropped: {refreshed:?}"
        );
        assert_eq!(
            samples(&app.store).await,
            0,
            "the index samples are dropped"
        );
        exercise(&app, &aid, &scim, client, 3).await;
        assert_indexed(&app.store, connections, "statistics of one row dropped").await;
    }

    // Grow the account through SCIM past the point where statistics are taken, eight writers at a time.
    let total = skybridge_store::statistics::MIN_ROWS as usize * 3;
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..8 {
        let scim = scim.clone();
        writers.spawn(async move {
            for i in (w..total).step_by(8) {
                let name = format!("grown{i}@contoso.com");
                let r = scim
                    .post(
                        "/Users",
                        &json!({
                            "schemas": [USER_SCHEMA], "userName": name, "externalId": format!("grown-{i}"),
                            "name": { "givenName": "Grown", "familyName": format!("User{i}") },
                            "emails": [{ "type": "work", "value": name, "primary": true }],
                            "phoneNumbers": [{ "type": "mobile", "value": format!("+1415555{i:04}") }],
                        }),
                    )
                    .await;
                assert_eq!(r.status, 201, "{}", r.body);
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.unwrap();
    }
    // What the server does every few seconds; called here so the test need not wait for its timer.
    let refreshed = skybridge_store::statistics::refresh(&app.store)
        .await
        .unwrap();
    assert!(
        refreshed.analyzed.iter().any(|t| t == "users"),
        "users was analyzed once it grew: {refreshed:?}"
    );
    if app.store.backend() == Backend::Sqlite {
        assert_eq!(
            samples(&app.store).await,
            0,
            "ANALYZE's index samples are dropped"
        );
    }
    exercise(&app, &aid, &scim, client, 2).await;
    assert_indexed(&app.store, connections, "after growing to 3,000 users").await;
    // Nothing more to do until the tables double again.
    let again = skybridge_store::statistics::refresh(&app.store)
        .await
        .unwrap();
    assert!(
        !again.analyzed.iter().any(|t| t == "users"),
        "statistics are not retaken until the table doubles: {again:?}"
    );
}

backend_tests!(hot_paths_use_their_indexes_as_a_fresh_store_grows);

/// SQLite: rows of index samples (`sqlite_stat4`), with which every statement comparing an indexed column to a
/// parameter is planned again at each run.
async fn samples(store: &skybridge_store::Store) -> i64 {
    let mut h = store.handle().await.unwrap();
    let skybridge_store::Conn::Sqlite(c) = skybridge_store::Exec::conn(&mut h) else {
        return 0;
    };
    sqlx::query_scalar("SELECT count(*) FROM sqlite_stat4")
        .fetch_one(&mut *c)
        .await
        .unwrap()
}
