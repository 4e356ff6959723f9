//! `skybridge-bench`: starts the release `skybridge` server on a fresh SQLite directory or PostgreSQL
//! database, seeds a large data set straight into the store, drives the HTTP API with a bounded-concurrency
//! load loop, and reports start-up time, memory, throughput and latency against the performance targets.
//! See docs/performance.md.

mod console;
mod data;
mod identity;
mod import;
mod load;
mod report;
mod scim;
mod server;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, ValueEnum};
use reqwest::StatusCode;
use serde::Serialize;
use sqlx::Connection;

use crate::data::{Plan, SEARCH_TERMS};
use crate::load::Stats;
use crate::report::{Export, Report};
use crate::server::Server;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Suite {
    /// The admin API on a large data set: start-up, memory, lists, event history, export, user creation.
    Admin,
    /// Sign-in flows against raw argon2id, refresh and client-credentials grants.
    Identity,
    /// Entra ID's initial SCIM provisioning cycle replayed on one account: filter + create, update,
    /// deprovision (the server's SCIM rate limit off).
    Scim,
    /// The console's pages as a signed-in partner administrator sees them, on the seeded data set (use
    /// `--accounts 1 --users-per-account 100000` for one account of 100,000 users).
    Console,
    /// Bulk import of users: an .xlsx of each `--import-rows` size uploaded (parsed, checked, staged) and
    /// committed (a job creating the users), with the server's RSS.
    Import,
}

/// Load generator for the Skybridge server: start-up, memory, API latency and CSV export on a large data set.
#[derive(Debug, Parser)]
#[command(name = "skybridge-bench", version)]
struct Args {
    /// Store to run the server on.
    #[arg(long, value_enum)]
    backend: Backend,
    /// What to measure.
    #[arg(long, value_enum, default_value = "admin")]
    suite: Suite,
    /// Identity suite: complete sign-in flows measured.
    #[arg(long, default_value_t = 300)]
    signin_requests: usize,
    /// Identity suite: sign-in flows in flight at once.
    #[arg(long, default_value_t = 4)]
    signin_concurrency: usize,
    /// Identity suite: the ID-token algorithm the sign-in client registers (RS256 or ES256).
    #[arg(long, default_value = "RS256")]
    signin_id_token_alg: String,
    /// Identity suite: base URL of another OpenID provider to run the client-credentials load against too.
    #[arg(long, requires_all = ["compare_client_id", "compare_client_secret"])]
    compare_url: Option<String>,
    #[arg(long)]
    compare_client_id: Option<String>,
    #[arg(long)]
    compare_client_secret: Option<String>,
    /// SCIM suite: users taken through the initial cycle (10% of them deprovisioned).
    #[arg(long, default_value_t = 100_000)]
    scim_users: usize,
    /// Import suite: the sizes of the files imported, in rows, each into a fresh account.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,50000")]
    import_rows: Vec<usize>,
    /// SCIM suite: users per growth step of the initial cycle, each reported with its throughput.
    #[arg(long, default_value_t = 10_000)]
    scim_step: usize,
    /// SCIM suite: on a PostgreSQL server with autovacuum off, do not run autovacuum's checks from the bench.
    #[arg(long)]
    scim_no_autovacuum_standin: bool,
    /// Customer accounts to seed under the Partner Account.
    #[arg(long, default_value_t = 1000)]
    accounts: usize,
    /// Users seeded in each customer account.
    #[arg(long, default_value_t = 100)]
    users_per_account: usize,
    /// Events seeded in the big account (the first customer account), which the event page and the
    /// export are measured on.
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Events seeded in each of the other customer accounts.
    #[arg(long, default_value_t = 10)]
    events_per_other_account: usize,
    /// Measured requests per scenario (after a short unmeasured warm-up).
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Requests in flight at once [SCIM suite: users in flight, default 16].
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Upper bound on each scenario's duration, in seconds [SCIM suite: each phase's, default 3600].
    #[arg(long, default_value_t = 120)]
    scenario_timeout: u64,
    /// The server binary [default: `skybridge` next to this binary, i.e. target/release/skybridge].
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// A PostgreSQL database to connect to for creating (and afterwards dropping) a fresh
    /// `bench_<random>` database.
    #[arg(
        long,
        env = "SKYBRIDGE_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    postgres_url: String,
    /// Print the results as JSON on stdout (the table then goes to stderr).
    #[arg(long)]
    json: bool,
    /// Keep the seeded data (SQLite directory or PostgreSQL database) for inspection instead of deleting it.
    #[arg(long)]
    keep: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    // reqwest is built without a default TLS provider; the bench only speaks plain HTTP, but the client
    // builder wants one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let matches = Args::command().get_matches();
    let mut args = match Args::from_arg_matches(&matches) {
        Ok(a) => a,
        Err(e) => e.exit(),
    };
    if args.suite == Suite::Scim {
        // The SCIM scenario's own defaults: 16 connections, and phases of 100,000 users take minutes.
        if matches.value_source("concurrency") == Some(ValueSource::DefaultValue) {
            args.concurrency = 16;
        }
        if matches.value_source("scenario_timeout") == Some(ValueSource::DefaultValue) {
            args.scenario_timeout = 3600;
        }
    }
    match bench(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn progress(msg: impl std::fmt::Display) {
    eprintln!("[bench] {msg}");
}

/// A fresh database on the PostgreSQL server, dropped at the end.
struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PgDatabase {
    async fn create(admin_url: &str) -> anyhow::Result<PgDatabase> {
        let name = format!("bench_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let mut url = reqwest::Url::parse(admin_url).context("--postgres-url")?;
        url.set_path(&format!("/{name}"));
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .with_context(|| format!("connecting to {admin_url}"))?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(PgDatabase {
            admin_url: admin_url.to_string(),
            name,
            url: url.to_string(),
        })
    }

    async fn drop_database(&self) -> anyhow::Result<()> {
        let mut conn = sqlx::PgConnection::connect(&self.admin_url).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut conn)
        .await?;
        conn.close().await?;
        Ok(())
    }
}

async fn bench(args: Args) -> anyhow::Result<()> {
    let bin = match &args.server_bin {
        Some(b) => b.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("no directory of the bench binary")?
            .join("skybridge"),
    };
    if !bin.is_file() {
        bail!(
            "server binary {} not found; build it with `cargo build --release -p skybridge-server` \
             or pass --server-bin",
            bin.display()
        );
    }
    let data_dir =
        std::env::temp_dir().join(format!("skybridge-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&data_dir)?;
    let pg = match args.backend {
        Backend::Postgres => match PgDatabase::create(&args.postgres_url).await {
            Ok(db) => Some(db),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&data_dir);
                return Err(e);
            }
        },
        Backend::Sqlite => None,
    };
    if let Some(db) = &pg {
        progress(format!("created database {}", db.name));
    }

    let result = measure(&args, &bin, &data_dir, pg.as_ref().map(|d| d.url.as_str())).await;

    match (&pg, args.keep) {
        (Some(db), true) => progress(format!("kept database {}", db.url)),
        (Some(db), false) => match db.drop_database().await {
            Ok(()) => progress(format!("dropped database {}", db.name)),
            Err(e) => progress(format!("could not drop database {}: {e:#}", db.name)),
        },
        (None, true) => progress(format!("kept {}", data_dir.join("skybridge.db").display())),
        (None, false) => {}
    }
    // The data directory holds the SQLite store; on PostgreSQL it is unused.
    if !(args.keep && pg.is_none())
        && let Err(e) = std::fs::remove_dir_all(&data_dir)
    {
        progress(format!("could not remove {}: {e}", data_dir.display()));
    }

    let mut failure = None;
    let (table, json) = match result? {
        Outcome::Admin(report) => {
            let report = *report;
            let targets = report::checks(&report);
            (
                report::table(&report),
                serde_json::json!({ "report": report, "targets": targets }),
            )
        }
        Outcome::Identity(report) => (
            identity::table(&report),
            serde_json::json!({ "report": report }),
        ),
        Outcome::Console(report) => {
            failure = report.failure();
            (
                console::table(&report),
                serde_json::json!({ "report": report }),
            )
        }
        Outcome::Import(report) => {
            failure = report.failure();
            (
                import::table(&report),
                serde_json::json!({ "report": report }),
            )
        }
        Outcome::Scim(report) => {
            failure = report.failure();
            (
                scim::table(&report),
                serde_json::json!({ "report": report }),
            )
        }
    };
    if args.json {
        eprintln!("{table}");
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        println!("{table}");
    }
    if let Some(f) = failure {
        bail!(f);
    }
    Ok(())
}

async fn measure(
    args: &Args,
    bin: &Path,
    data_dir: &Path,
    database_url: Option<&str>,
) -> anyhow::Result<Outcome> {
    let ready_client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(1))
        .timeout(Duration::from_secs(2))
        .build()?;
    progress(format!("starting {}", bin.display()));
    let config = match args.suite {
        // The benchmark measures throughput: the per-account SCIM rate limit would cap it.
        Suite::Scim => Some(scim::SERVER_CONFIG),
        Suite::Admin | Suite::Identity | Suite::Console | Suite::Import => None,
    };
    let mut server = Server::start(bin, data_dir, database_url, config, &ready_client).await?;
    let idle_rss = server.rss()?;
    progress(format!(
        "ready in {:.1} ms, idle RSS {:.1} MiB (pid {})",
        server.start_to_ready.as_secs_f64() * 1000.0,
        mib(idle_rss),
        server.pid
    ));
    let result = match args.suite {
        Suite::Admin => drive(args, &mut server, data_dir, database_url, idle_rss)
            .await
            .map(|r| Outcome::Admin(Box::new(r))),
        Suite::Identity => identity_suite(args, &server, data_dir, database_url)
            .await
            .map(|r| Outcome::Identity(Box::new(r))),
        Suite::Console => console_suite(args, &mut server, data_dir, database_url)
            .await
            .map(|r| Outcome::Console(Box::new(r))),
        Suite::Import => {
            let backend = format!("{:?}", args.backend).to_lowercase();
            import::run(&backend, &server, &args.import_rows)
                .await
                .map(|r| Outcome::Import(Box::new(r)))
        }
        Suite::Scim => {
            let options = scim::Options {
                users: args.scim_users,
                concurrency: args.concurrency,
                limit: Duration::from_secs(args.scenario_timeout),
                postgres_url: database_url.map(str::to_string),
                autovacuum_standin: !args.scim_no_autovacuum_standin,
                step: args.scim_step,
            };
            let backend = format!("{:?}", args.backend).to_lowercase();
            scim::run(&backend, &mut server, &options)
                .await
                .map(|r| Outcome::Scim(Box::new(r)))
        }
    };
    let stopped = server.stop().await;
    let report = result?;
    stopped.context("stopping the server")?;
    Ok(report)
}

enum Outcome {
    Admin(Box<Report>),
    Identity(Box<identity::IdentityReport>),
    Scim(Box<scim::ScimReport>),
    Console(Box<console::ConsoleReport>),
    Import(Box<import::ImportReport>),
}

async fn identity_suite(
    args: &Args,
    server: &Server,
    data_dir: &Path,
    database_url: Option<&str>,
) -> anyhow::Result<identity::IdentityReport> {
    let store_url = match database_url {
        Some(url) => url.to_string(),
        None => format!("sqlite://{}", data_dir.join("skybridge.db").display()),
    };
    let store = skybridge_store::Store::connect(&store_url, 1).await?;
    let options = identity::Options {
        requests: args.requests,
        concurrency: args.concurrency,
        signin_requests: args.signin_requests,
        signin_concurrency: args.signin_concurrency,
        id_token_alg: args.signin_id_token_alg.clone(),
        limit: Duration::from_secs(args.scenario_timeout),
        compare: match (
            &args.compare_url,
            &args.compare_client_id,
            &args.compare_client_secret,
        ) {
            (Some(u), Some(i), Some(s)) => {
                Some((u.trim_end_matches('/').to_string(), i.clone(), s.clone()))
            }
            _ => None,
        },
    };
    let backend = format!("{:?}", args.backend).to_lowercase();
    let report = identity::run(&backend, server, &store, &options).await;
    store.close().await;
    report
}

/// The URL the seeder writes through: the server's own, except that on PostgreSQL a local Unix socket is
/// used when there is one. sqlx does not set TCP_NODELAY, and its multi-row INSERTs (hundreds of kB per
/// Bind message) then stall on Nagle's algorithm and delayed ACKs over TCP: seeding ran ~5x slower, with
/// both PostgreSQL and the seeder idle most of the time. The server's own small queries are not affected.
fn seed_url(url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return url.to_string();
    };
    if !matches!(parsed.scheme(), "postgres" | "postgresql")
        || !matches!(parsed.host_str(), Some("127.0.0.1" | "localhost"))
    {
        return url.to_string();
    }
    let port = parsed.port().unwrap_or(5432);
    for dir in ["/var/run/postgresql", "/tmp"] {
        if Path::new(&format!("{dir}/.s.PGSQL.{port}")).exists() {
            parsed.query_pairs_mut().append_pair("host", dir);
            return parsed.to_string();
        }
    }
    url.to_string()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Fails unless the response has `expected` status; reads the whole body either way.
async fn expect(resp: reqwest::Response, expected: StatusCode) -> anyhow::Result<usize> {
    let status = resp.status();
    let body = resp.bytes().await?;
    if status != expected {
        bail!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        );
    }
    Ok(body.len())
}

/// Seeds the data set straight into the store the server runs on.
async fn seed_data(
    args: &Args,
    partner_id: &str,
    data_dir: &Path,
    database_url: Option<&str>,
) -> anyhow::Result<(data::Seeded, f64)> {
    // Seed straight into the store the server runs on.
    let store_url = match database_url {
        Some(url) => url.to_string(),
        None => format!("sqlite://{}", data_dir.join("skybridge.db").display()),
    };
    let plan = Plan {
        accounts: args.accounts,
        users_per_account: args.users_per_account,
        big_events: args.events,
        events_per_other_account: args.events_per_other_account,
    };
    progress(format!(
        "seeding {} accounts, {} users, {} + {} events",
        plan.accounts,
        plan.accounts * plan.users_per_account,
        plan.big_events,
        plan.accounts.saturating_sub(1) * plan.events_per_other_account
    ));
    let store = skybridge_store::Store::connect(&seed_url(&store_url), 2).await?;
    let seeded = data::seed(&store, partner_id, &plan).await?;
    let t = Instant::now();
    skybridge_store::seed::settle(&store).await?;
    // What the server does every few seconds: planner statistics for the tables that grew.
    skybridge_store::statistics::refresh(&store).await?;
    let settle_secs = t.elapsed().as_secs_f64();
    store.close().await;
    progress(format!(
        "seeded in {:.1} s (accounts {:.1} s, users {:.1} s, events {:.1} s), settled in {:.1} s",
        seeded.total_secs, seeded.accounts_secs, seeded.users_secs, seeded.events_secs, settle_secs
    ));
    Ok((seeded, settle_secs))
}

async fn console_suite(
    args: &Args,
    server: &mut Server,
    data_dir: &Path,
    database_url: Option<&str>,
) -> anyhow::Result<console::ConsoleReport> {
    // The sign-in answers redirects that carry the session cookie: follow none of them.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(args.concurrency.max(1) * 2)
        .build()?;
    let me: serde_json::Value = http
        .get(server.url("/api/v1/me"))
        .bearer_auth(&server.token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let partner_id = me["account_id"]
        .as_str()
        .context("GET /api/v1/me has no account_id")?
        .to_string();
    let (seeded, _) = seed_data(args, &partner_id, data_dir, database_url).await?;
    server.check_alive()?;
    let backend = format!("{:?}", args.backend).to_lowercase();
    let options = console::Options {
        requests: args.requests,
        concurrency: args.concurrency,
        limit: Duration::from_secs(args.scenario_timeout),
    };
    console::run(
        &backend,
        server,
        &http,
        &seeded.big_account_id,
        args.users_per_account as u64,
        &options,
    )
    .await
}

async fn drive(
    args: &Args,
    server: &mut Server,
    data_dir: &Path,
    database_url: Option<&str>,
    idle_rss: u64,
) -> anyhow::Result<Report> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .pool_max_idle_per_host(args.concurrency.max(1) * 2)
        .build()?;
    let token = server.token.clone();

    // The Partner Account the first start created: the seeded customers' partner.
    let me: serde_json::Value = http
        .get(server.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let partner_id = me["account_id"]
        .as_str()
        .context("GET /api/v1/me has no account_id")?
        .to_string();

    let (seeded, settle_secs) = seed_data(args, &partner_id, data_dir, database_url).await?;
    server.check_alive()?;
    let rss_after_seed = server.rss()?;

    let accounts = Arc::new(seeded.account_ids.clone());
    let big = seeded.big_account_id.clone();
    let base = server.base.clone();
    let warmup = (args.requests / 20).clamp(1, 100);
    let limit = Duration::from_secs(args.scenario_timeout);
    let mut scenarios: Vec<Stats> = Vec::new();

    // Sanity: the measured pages are not empty.
    let sample: serde_json::Value = http
        .get(format!(
            "{base}/api/v1/accounts/{big}/events?asset=User&action=Edit&limit=50"
        ))
        .bearer_auth(&token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let event_page_items = sample["items"].as_array().map_or(0, Vec::len);
    let sample: serde_json::Value = http
        .get(format!(
            "{base}/api/v1/accounts/{}/users?q={}&limit=50",
            accounts[0], SEARCH_TERMS[0]
        ))
        .bearer_auth(&token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let user_page_items = sample["items"].as_array().map_or(0, Vec::len);
    progress(format!(
        "event page has {event_page_items} items, user search page {user_page_items}"
    ));

    // 1. User list page with a search term, over many accounts and terms.
    progress("scenario: user list search");
    {
        let (http, token, base, accounts) =
            (http.clone(), token.clone(), base.clone(), accounts.clone());
        scenarios.push(
            load::run(
                "user list ?q= (limit 50)",
                args.requests,
                warmup,
                args.concurrency,
                limit,
                move |i| {
                    let account = &accounts[(i * 7919) % accounts.len()];
                    let term = SEARCH_TERMS[i % SEARCH_TERMS.len()];
                    let req = http
                        .get(format!(
                            "{base}/api/v1/accounts/{account}/users?q={term}&limit=50"
                        ))
                        .bearer_auth(&token);
                    async move { expect(req.send().await?, StatusCode::OK).await.map(|_| ()) }
                },
            )
            .await,
        );
    }
    server.check_alive()?;

    // 2. Event history page with two filters on the big account.
    progress("scenario: event page");
    {
        let (http, token, url) = (
            http.clone(),
            token.clone(),
            format!("{base}/api/v1/accounts/{big}/events?asset=User&action=Edit&limit=50"),
        );
        scenarios.push(
            load::run(
                "event page asset+action (limit 50)",
                args.requests,
                warmup,
                args.concurrency,
                limit,
                move |_| {
                    let req = http.get(&url).bearer_auth(&token);
                    async move { expect(req.send().await?, StatusCode::OK).await.map(|_| ()) }
                },
            )
            .await,
        );
    }
    server.check_alive()?;

    // 3. Full CSV export of the big account.
    progress(format!(
        "scenario: CSV export of {} events",
        seeded.big_account_events
    ));
    let export = export(&http, server, &big, seeded.big_account_events).await?;
    progress(format!(
        "exported {} rows, {:.1} MiB in {:.2} s; RSS {:.1} -> peak {:.1} MiB",
        export.rows,
        mib(export.bytes),
        export.secs,
        export.rss_before_mib,
        export.rss_peak_mib
    ));
    server.check_alive()?;

    // 4. User creation through the API, in the other accounts, with unique e-mails.
    progress("scenario: create user");
    {
        let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
        let (http, token, base, accounts) =
            (http.clone(), token.clone(), base.clone(), accounts.clone());
        scenarios.push(
            load::run(
                "create user (POST)",
                args.requests,
                warmup,
                args.concurrency,
                limit,
                move |i| {
                    let others = accounts.len().saturating_sub(1).max(1);
                    let account = &accounts[(1 + i % others).min(accounts.len() - 1)];
                    let body = serde_json::json!({
                        "first_name": "Load",
                        "last_name": format!("Tester {i}"),
                        "email": format!("load.{run_id}.{i}@bench-load.example.com"),
                        "extension": format!("{}", 5000 + i % 4000),
                    });
                    let req = http
                        .post(format!("{base}/api/v1/accounts/{account}/users"))
                        .bearer_auth(&token)
                        .json(&body);
                    async move {
                        expect(req.send().await?, StatusCode::CREATED)
                            .await
                            .map(|_| ())
                    }
                },
            )
            .await,
        );
    }
    server.check_alive()?;
    let final_rss = server.rss()?;
    let hwm = server.hwm()?;

    Ok(Report {
        backend: format!("{:?}", args.backend).to_lowercase(),
        machine: report::machine(),
        requests_per_scenario: args.requests,
        warmup_per_scenario: warmup,
        concurrency: args.concurrency,
        start_to_ready_ms: server.start_to_ready.as_secs_f64() * 1000.0,
        idle_rss_mib: mib(idle_rss),
        rss_after_seed_mib: mib(rss_after_seed),
        final_rss_mib: mib(final_rss),
        peak_rss_mib: mib(hwm),
        seeded,
        settle_secs,
        event_page_items,
        user_page_items,
        scenarios,
        export,
    })
}

/// Streams the full CSV export of `account`, counting bytes and rows, while sampling the server's RSS
/// every 10 ms.
async fn export(
    http: &reqwest::Client,
    server: &Server,
    account: &str,
    expected_rows: u64,
) -> anyhow::Result<Export> {
    let pid = server.pid;
    let before = server.rss()?;
    let sampler = server::Sampler::start(pid, before, Duration::from_millis(10));
    let cpu_before = (
        server::cpu_secs(pid)?,
        server::cpu_secs(std::process::id())?,
    );
    let started = Instant::now();
    let result = async {
        let mut resp = http
            .get(server.url(&format!("/api/v1/accounts/{account}/events/export.csv")))
            .bearer_auth(&server.token)
            .send()
            .await?;
        if resp.status() != StatusCode::OK {
            bail!("export: HTTP {}", resp.status());
        }
        let first_byte = started.elapsed();
        let (mut bytes, mut lines) = (0u64, 0u64);
        while let Some(chunk) = resp.chunk().await? {
            bytes += chunk.len() as u64;
            lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        }
        Ok((first_byte, bytes, lines))
    }
    .await;
    let secs = started.elapsed().as_secs_f64();
    let (peak, samples) = sampler.finish().await;
    let (first_byte, bytes, lines) = result?;
    let after = server.rss()?;
    let cpu_after = (
        server::cpu_secs(pid)?,
        server::cpu_secs(std::process::id())?,
    );
    let rows = lines.saturating_sub(1);
    if rows != expected_rows {
        progress(format!(
            "warning: export has {rows} rows, expected {expected_rows}"
        ));
    }
    Ok(Export {
        rows,
        bytes,
        secs,
        first_byte_ms: first_byte.as_secs_f64() * 1000.0,
        rows_per_sec: rows as f64 / secs.max(1e-9),
        rss_before_mib: mib(before),
        rss_peak_mib: mib(peak),
        rss_after_mib: mib(after),
        rss_growth_mib: mib(peak.saturating_sub(before)),
        rss_samples: samples,
        server_cpu_secs: cpu_after.0 - cpu_before.0,
        bench_cpu_secs: cpu_after.1 - cpu_before.1,
    })
}
