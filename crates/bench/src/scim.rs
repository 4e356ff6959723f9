//! The SCIM suite: Microsoft Entra ID's initial provisioning cycle replayed against one customer account's
//! SCIM endpoint, as fast as the server takes it (its per-account rate limit switched off).
//!
//! Three phases, each measured on its own and all together:
//! 1. **initial cycle**: for every user, `GET /Users?filter=userName eq "…"` (a miss) then `POST /Users` with
//!    an Entra-shaped body — a user's two requests one after the other, `concurrency` users in flight;
//! 2. **update cycle**: for every user, a `PATCH` in Entra's default dialect replacing `title` and
//!    `name.familyName`;
//! 3. **deprovision**: for every tenth user, `PATCH` `active` to `"False"` (a string, as Entra sends it).
//!
//! Every request's latency is recorded; any other status than the expected one is an error, and the run
//! fails when there is one. The server's RSS is read at the start, at every tenth of the users created,
//! after each phase, and every 50 ms in between for its maximum.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::load::{self, Stats};
use crate::report::Machine;
use crate::server::{self, Sampler, Server};

/// The server configuration of the suite: the per-account SCIM rate limit off (0 = unlimited).
pub const SERVER_CONFIG: &str = "scim_requests_per_second = 0\n";

const SCIM_JSON: &str = "application/scim+json";
const DOMAIN: &str = "contoso.example";
/// The issue's targets.
const TARGET_RPS: f64 = 2000.0;
const TARGET_P99_MS: f64 = 25.0;
/// The seed documents' onboarding pace: about 60 minutes for 500 users.
const SEED_USERS_PER_MIN: f64 = 500.0 / 60.0;
/// Entra's provisioning service's pace per tenant.
const ENTRA_RPS_PER_TENANT: f64 = 25.0;
/// "Flat": over the second half of the initial cycle and everything after it, the RSS grows by at most this
/// fraction of what it was half-way, or this many MiB, whichever is larger.
const FLAT_FRACTION: f64 = 0.10;
const FLAT_MIB: f64 = 8.0;
/// Unmeasured filter requests before the first phase: the connections are opened, the code paths warm.
const WARMUP: usize = 200;
const UNSET: u32 = u32::MAX;

const GIVEN: [&str; 16] = [
    "Adele",
    "Alex",
    "Allan",
    "Brian",
    "Christie",
    "Debra",
    "Diego",
    "Emily",
    "Enrico",
    "Grady",
    "Henrietta",
    "Isaiah",
    "Johanna",
    "Lee",
    "Lidia",
    "Megan",
];
const FAMILY: [&str; 16] = [
    "Vance",
    "Wilber",
    "Deyoung",
    "Johnson",
    "Cline",
    "Berger",
    "Siciliani",
    "Braun",
    "Cattaneo",
    "Archie",
    "Mueller",
    "Langer",
    "Lauer",
    "Gu",
    "Holloway",
    "Bowen",
];
const TITLES: [&str; 8] = [
    "Retail Manager",
    "Marketing Assistant",
    "Sales Representative",
    "Product Manager",
    "Developer",
    "Accountant",
    "Support Engineer",
    "Office Administrator",
];
const DEPARTMENTS: [&str; 6] = [
    "Retail",
    "Marketing",
    "Sales",
    "Engineering",
    "Finance",
    "Operations",
];
const PLACES: [(&str, &str); 5] = [
    ("Ottawa", "CA"),
    ("Toronto", "CA"),
    ("Seattle", "US"),
    ("London", "GB"),
    ("Berlin", "DE"),
];

pub struct Options {
    pub users: usize,
    pub concurrency: usize,
    /// Upper bound on each phase's duration.
    pub limit: Duration,
    /// The PostgreSQL database the server runs on, if it does.
    pub postgres_url: Option<String>,
    /// On a PostgreSQL server with autovacuum off, do autovacuum's work from the bench (see [`Autovacuum`]).
    pub autovacuum_standin: bool,
    /// Users per growth step of the initial cycle, reported each with its throughput and latencies.
    pub step: usize,
}

/// One growth step of the initial cycle: the users created from `from_users` to `to_users`.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub from_users: usize,
    pub to_users: usize,
    pub requests: usize,
    pub elapsed_secs: f64,
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// One phase, or all of them together: HTTP requests, not users.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    pub name: String,
    pub requests: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    /// True when the time limit cut the phase short (not every user was done).
    pub timed_out: bool,
    pub elapsed_secs: f64,
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// CPU time the server and this load generator used during the phase (they share the machine).
    pub server_cpu_secs: f64,
    pub bench_cpu_secs: f64,
    /// The server's RSS right after the phase.
    pub rss_after_mib: f64,
}

/// The server's RSS when a number of users had been created.
#[derive(Debug, Clone, Serialize)]
pub struct RssMark {
    pub users_created: usize,
    pub rss_mib: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScimReport {
    pub backend: String,
    pub machine: Machine,
    pub users: usize,
    pub deprovisioned: usize,
    pub concurrency: usize,
    /// The server's SCIM rate-limit setting the run used.
    pub rate_limit: String,
    pub phases: Vec<Phase>,
    pub combined: Phase,
    pub rss_start_mib: f64,
    pub rss_by_users: Vec<RssMark>,
    /// The initial cycle step by step as the account grew: flat throughput means no slowdown with size.
    pub growth: Vec<Step>,
    /// The slowest step's throughput over the fastest's.
    pub growth_flatness: f64,
    /// The highest RSS read while the phases ran (every 50 ms, at the marks, after each phase).
    pub rss_max_mib: f64,
    pub rss_samples: u64,
    /// VmHWM at the end: the peak since the server started.
    pub rss_hwm_mib: f64,
    /// RSS growth from half of the users created to the highest reading after that.
    pub rss_growth_second_half_mib: f64,
    pub rss_flat: bool,
    /// Users through the initial cycle (filter + create) per minute.
    pub users_per_minute: f64,
    /// On PostgreSQL: whether the server's autovacuum ran, or what the bench did in its place.
    pub autovacuum: Option<String>,
}

impl ScimReport {
    /// Why the run is not valid, if it is not: errors or a phase cut short.
    pub fn failure(&self) -> Option<String> {
        let bad: Vec<String> = self
            .phases
            .iter()
            .filter(|p| p.errors > 0 || p.timed_out)
            .map(|p| {
                format!(
                    "{}: {} errors{}{}",
                    p.name,
                    p.errors,
                    if p.timed_out { ", time limit hit" } else { "" },
                    p.first_error
                        .as_deref()
                        .map(|e| format!(" (first: {e})"))
                        .unwrap_or_default()
                )
            })
            .collect();
        (!bad.is_empty()).then(|| format!("SCIM suite failed — {}", bad.join("; ")))
    }
}

fn progress(msg: impl std::fmt::Display) {
    eprintln!("[bench] {msg}");
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Per-request latencies of one phase, in microseconds, one slot per request; written by the requests as
/// they complete.
struct Recorder {
    micros: Vec<AtomicU32>,
}

impl Recorder {
    fn new(slots: usize) -> Recorder {
        Recorder {
            micros: (0..slots).map(|_| AtomicU32::new(UNSET)).collect(),
        }
    }

    fn record(&self, slot: usize, took: Duration) {
        if let Some(s) = self.micros.get(slot) {
            let us = u32::try_from(took.as_micros())
                .unwrap_or(UNSET - 1)
                .min(UNSET - 1);
            s.store(us, Ordering::Relaxed);
        }
    }

    /// The recorded latencies, sorted.
    fn samples(&self) -> Vec<Duration> {
        let mut v: Vec<Duration> = self
            .micros
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .filter(|&us| us != UNSET)
            .map(|us| Duration::from_micros(u64::from(us)))
            .collect();
        v.sort_unstable();
        v
    }
}

/// What every request of the run shares.
struct Ctx {
    http: reqwest::Client,
    /// `{tenant_url}/Users`.
    users_url: String,
    /// `{tenant_url}/Users?filter=userName+eq+%22user`: the user number and the rest of the UPN follow.
    filter_prefix: String,
    /// The SCIM id the server gave each user.
    ids: Vec<OnceLock<Box<str>>>,
    /// Salt of the externalIds, so that two runs on one store would not collide.
    salt: u64,
    server_pid: u32,
    /// Users created so far, and the RSS at every `mark_every` of them.
    created: AtomicUsize,
    mark_every: usize,
    marks: Mutex<Vec<(usize, u64)>>,
    /// Growth steps of the initial cycle: each `step` users created, when the step ended and the latencies
    /// of its requests (the filter and the create of each user the step counts).
    step: usize,
    steps: Mutex<Vec<StepLog>>,
}

#[derive(Default)]
struct StepLog {
    ended: Option<Instant>,
    latencies: Vec<Duration>,
}

impl Ctx {
    fn filter_url(&self, who: &str) -> String {
        format!("{}{who}%40{DOMAIN}%22", self.filter_prefix)
    }

    fn id(&self, i: usize) -> anyhow::Result<&str> {
        self.ids
            .get(i)
            .and_then(OnceLock::get)
            .map(|s| &**s)
            .with_context(|| format!("user{i} has no SCIM id (its create failed)"))
    }

    fn user_url(&self, id: &str) -> String {
        format!("{}/{id}", self.users_url)
    }
}

#[derive(Deserialize)]
struct ListResponse {
    #[serde(rename = "totalResults")]
    total_results: u64,
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

#[derive(Deserialize)]
struct Patched {
    active: Option<bool>,
    title: Option<String>,
}

/// Sends, fails unless the status is `expected`, and reads the answer as `T`.
async fn call<T: DeserializeOwned>(
    req: reqwest::RequestBuilder,
    expected: StatusCode,
) -> anyhow::Result<T> {
    let resp = req.send().await?;
    let status = resp.status();
    let body = resp.bytes().await?;
    if status != expected {
        bail!(
            "HTTP {status} (expected {expected}): {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        );
    }
    serde_json::from_slice(&body).with_context(|| {
        format!(
            "unexpected answer: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        )
    })
}

/// A GUID-looking externalId (Entra sends the user's object id), distinct for every user of a run.
fn guid(i: usize, salt: u64) -> String {
    // splitmix64: spreads consecutive numbers over all bits.
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let a = mix(salt ^ i as u64);
    // The user number in the last group keeps them unique whatever the hash does.
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((a >> 48) & 0x3fff),
        i as u64 & 0xffff_ffff_ffff
    )
}

fn title(i: usize) -> &'static str {
    TITLES[i % TITLES.len()]
}

/// The new title and family name of the update cycle.
fn updated(i: usize) -> (String, String) {
    (
        format!("Senior {}", title(i)),
        format!(
            "{}-{}",
            FAMILY[(i / GIVEN.len()) % FAMILY.len()],
            FAMILY[i % FAMILY.len()]
        ),
    )
}

/// The body Entra's provisioning service POSTs for a new user (core and enterprise schemas).
fn create_body(i: usize, salt: u64) -> String {
    let given = GIVEN[i % GIVEN.len()];
    let family = FAMILY[(i / GIVEN.len()) % FAMILY.len()];
    let department = DEPARTMENTS[i % DEPARTMENTS.len()];
    let (city, country) = PLACES[i % PLACES.len()];
    format!(
        concat!(
            r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","#,
            r#""urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"#,
            r#""externalId":"{ext}","userName":"user{i}@{domain}","active":true,"#,
            r#""displayName":"{given} {family}","#,
            r#""name":{{"formatted":"{given} {family}","familyName":"{family}","givenName":"{given}"}},"#,
            r#""emails":[{{"primary":true,"type":"work","value":"user{i}@{domain}"}}],"#,
            r#""title":"{title}","#,
            r#""phoneNumbers":[{{"type":"mobile","value":"+1613{phone:07}"}}],"#,
            r#""addresses":[{{"type":"work","locality":"{city}","country":"{country}"}}],"#,
            r#""urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{{"department":"{department}"}},"#,
            r#""meta":{{"resourceType":"User"}},"roles":[]}}"#
        ),
        ext = guid(i, salt),
        i = i,
        domain = DOMAIN,
        given = given,
        family = family,
        title = title(i),
        // 613-2xx-xxxx and up: a valid NANP exchange, unique for up to 8 million users.
        phone = 2_000_000 + i,
        city = city,
        country = country,
        department = department,
    )
}

/// Entra's default PATCH: capitalised ops, one per attribute.
fn update_body(i: usize) -> String {
    let (title, family) = updated(i);
    format!(
        concat!(
            r#"{{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":["#,
            r#"{{"op":"Replace","path":"title","value":"{title}"}},"#,
            r#"{{"op":"Replace","path":"name.familyName","value":"{family}"}}]}}"#
        ),
        title = title,
        family = family
    )
}

const DEPROVISION_BODY: &str = concat!(
    r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":["#,
    r#"{"op":"Replace","path":"active","value":"False"}]}"#
);

async fn admin(
    http: &reqwest::Client,
    server: &Server,
    path: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let resp = http
        .post(server.url(path))
        .bearer_auth(&server.token)
        .json(&body)
        .send()
        .await?;
    let status = resp.status();
    let text = resp.text().await?;
    if status != StatusCode::CREATED {
        bail!("POST {path}: {status} {text}");
    }
    Ok(serde_json::from_str(&text)?)
}

/// autovacuum's defaults (PostgreSQL 15): a database is visited every `autovacuum_naptime`; a table is
/// analyzed after 50 + 10% of its rows changed, vacuumed after 50 + 20% dead rows or 1,000 + 20% inserted.
const NAPTIME: Duration = Duration::from_secs(60);
const AUTOVACUUM_CHECK: &str = "SELECT s.relname::text, s.n_mod_since_analyze, s.n_dead_tup, s.n_ins_since_vacuum, \
     GREATEST(c.reltuples, 0)::float8 FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid";

/// autovacuum, done by the bench on a PostgreSQL server that has it switched off (CI machines do, to keep
/// test databases quiet). Without it nothing ever analyzes the tables: the plans the server's connections
/// cached while the account was empty stay in force and walk every user of the account per lookup. The
/// admin suite's `settle` (VACUUM ANALYZE after seeding) stands in for autovacuum the same way.
struct Autovacuum {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<anyhow::Result<Vec<String>>>,
}

impl Autovacuum {
    /// Starts the stand-in when the server's autovacuum is off; `None` when it is on.
    async fn start(url: &str) -> anyhow::Result<Option<Autovacuum>> {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(url)
            .await
            .with_context(|| format!("connecting to {url}"))?;
        let (setting,): (String,) = sqlx::query_as("SHOW autovacuum")
            .fetch_one(&mut conn)
            .await?;
        if setting == "on" {
            conn.close().await?;
            return Ok(None);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let task = {
            let stop = stop.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                let mut done = Vec::new();
                let mut next = started + NAPTIME;
                while !stop.load(Ordering::Relaxed) {
                    if Instant::now() < next {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                    next += NAPTIME;
                    let rows: Vec<(String, i64, i64, i64, f64)> = sqlx::query_as(AUTOVACUUM_CHECK)
                        .fetch_all(&mut conn)
                        .await?;
                    for (table, modified, dead, inserted, tuples) in rows {
                        let analyze = modified as f64 > 50.0 + 0.1 * tuples;
                        let vacuum = dead as f64 > 50.0 + 0.2 * tuples
                            || inserted as f64 > 1000.0 + 0.2 * tuples;
                        let what = match (vacuum, analyze) {
                            (true, true) => "VACUUM (ANALYZE)",
                            (true, false) => "VACUUM",
                            (false, true) => "ANALYZE",
                            (false, false) => continue,
                        };
                        let t = Instant::now();
                        sqlx::query(sqlx::AssertSqlSafe(format!(
                            "{what} \"{}\"",
                            table.replace('"', "\"\"")
                        )))
                        .execute(&mut conn)
                        .await?;
                        done.push(format!(
                            "{what} {table} at {:.0} s ({:.2} s)",
                            started.elapsed().as_secs_f64(),
                            t.elapsed().as_secs_f64()
                        ));
                    }
                }
                conn.close().await?;
                Ok(done)
            })
        };
        Ok(Some(Autovacuum { stop, task }))
    }

    async fn finish(self) -> anyhow::Result<Vec<String>> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await?
    }
}

/// CPU seconds of the server and of this process.
fn cpu(server: &Server) -> anyhow::Result<(f64, f64)> {
    Ok((
        server::cpu_secs(server.pid)?,
        server::cpu_secs(std::process::id())?,
    ))
}

fn summarize(
    name: &str,
    samples: &[Duration],
    errors: usize,
    first_error: Option<String>,
    elapsed: f64,
) -> Phase {
    Phase {
        name: name.to_string(),
        requests: samples.len() + errors,
        errors,
        first_error,
        timed_out: false,
        elapsed_secs: elapsed,
        requests_per_sec: (samples.len() + errors) as f64 / elapsed.max(1e-9),
        p50_ms: ms(load::quantile(samples, 0.50)),
        p95_ms: ms(load::quantile(samples, 0.95)),
        p99_ms: ms(load::quantile(samples, 0.99)),
        max_ms: ms(samples.last().copied().unwrap_or_default()),
        server_cpu_secs: 0.0,
        bench_cpu_secs: 0.0,
        rss_after_mib: 0.0,
    }
}

/// Runs one phase of `units` users through `load::run` and measures it from the per-request latencies.
async fn phase<F, Fut>(
    server: &mut Server,
    sampler: &Sampler,
    name: &str,
    units: usize,
    rec: Arc<Recorder>,
    o: &Options,
    request: F,
) -> anyhow::Result<(Phase, Vec<Duration>)>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    progress(format!("phase: {name} ({units} users)"));
    let before = cpu(server)?;
    let stats: Stats = load::run(name, units, 0, o.concurrency, o.limit, request).await;
    let after = cpu(server)?;
    server.check_alive()?;
    let rss = server.rss()?;
    sampler.see(rss);
    let samples = rec.samples();
    let mut p = summarize(
        name,
        &samples,
        stats.errors,
        stats.first_error,
        stats.elapsed_secs,
    );
    p.timed_out = stats.timed_out;
    p.server_cpu_secs = after.0 - before.0;
    p.bench_cpu_secs = after.1 - before.1;
    p.rss_after_mib = mib(rss);
    progress(format!(
        "{name}: {} requests in {:.1} s, {:.0}/s, p99 {:.1} ms, {} errors, RSS {:.1} MiB",
        p.requests, p.elapsed_secs, p.requests_per_sec, p.p99_ms, p.errors, p.rss_after_mib
    ));
    if let Some(e) = &p.first_error {
        progress(format!("{name}: first error: {e}"));
    }
    Ok((p, samples))
}

pub async fn run(backend: &str, server: &mut Server, o: &Options) -> anyhow::Result<ScimReport> {
    let admin_http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let account = admin(&admin_http, server, "/api/v1/accounts", json!({
        "name": "SCIM Bench", "country": "CA", "province": "ON", "address": "1 Bench St",
        "city": "Ottawa", "postal_code": "K1A 0B1", "support_contacts": [{ "email": "ops@bench.example" }],
    }))
    .await?;
    let account_id = account["id"].as_str().context("account id")?.to_string();
    admin(
        &admin_http,
        server,
        &format!("/api/v1/accounts/{account_id}/integrations"),
        json!({ "key": "entra_id_sync" }),
    )
    .await?;
    let keys = admin(
        &admin_http,
        server,
        &format!("/api/v1/accounts/{account_id}/integrations/entra_id_sync/keys"),
        json!({}),
    )
    .await?;
    let tenant_url = keys["tenant_url"]
        .as_str()
        .context("tenant_url")?
        .trim_end_matches('/')
        .to_string();
    let secret = keys["secret_token"].as_str().context("secret_token")?;
    progress(format!("tenant URL {tenant_url}"));

    // One client for all the load: a pooled keep-alive connection per user in flight, the credential and the
    // media type set once.
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {secret}"))?,
    );
    headers.insert(ACCEPT, HeaderValue::from_static(SCIM_JSON));
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .pool_max_idle_per_host(o.concurrency.max(1) * 2)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()?;
    let users_url = format!("{tenant_url}/Users");
    let n = o.users;
    let ctx = Arc::new(Ctx {
        http,
        filter_prefix: format!("{users_url}?filter=userName+eq+%22"),
        users_url,
        ids: (0..n).map(|_| OnceLock::new()).collect(),
        salt: rand::random(),
        server_pid: server.pid,
        created: AtomicUsize::new(0),
        mark_every: (n / 10).max(1),
        marks: Mutex::new(Vec::new()),
        step: o.step.max(1),
        steps: Mutex::new(
            (0..n.div_ceil(o.step.max(1)))
                .map(|_| StepLog::default())
                .collect(),
        ),
    });

    // Warm-up, unmeasured: filters for users that do not exist.
    {
        let ctx = ctx.clone();
        let warm = load::run("warm-up", WARMUP, 0, o.concurrency, o.limit, move |i| {
            let req = ctx.http.get(ctx.filter_url(&format!("warmup{i}")));
            async move { call::<ListResponse>(req, StatusCode::OK).await.map(|_| ()) }
        })
        .await;
        if let Some(e) = warm.first_error {
            bail!("warm-up filter request failed: {e}");
        }
    }
    server.check_alive()?;

    let autovacuum = match &o.postgres_url {
        Some(url) if o.autovacuum_standin => Autovacuum::start(url).await?,
        _ => None,
    };
    if autovacuum.is_some() {
        progress(
            "autovacuum is off on the PostgreSQL server: the bench runs its default checks every 60 s",
        );
    }

    let rss_start = server.rss()?;
    progress(format!("server RSS at the start {:.1} MiB", mib(rss_start)));
    let sampler = Sampler::start(server.pid, rss_start, Duration::from_millis(50));
    let mut phases = Vec::new();
    let mut all: Vec<Duration> = Vec::with_capacity(n * 2 + n + n / 10 + 1);

    // 1. Initial cycle: filter miss, then create. Slot 2i is the GET, 2i+1 the POST.
    let cycle_start = Instant::now();
    let rec = Arc::new(Recorder::new(n * 2));
    let (p, s) = {
        let (ctx, rec2) = (ctx.clone(), rec.clone());
        phase(
            server,
            &sampler,
            "initial cycle (GET miss + POST)",
            n,
            rec,
            o,
            move |i| {
                let (ctx, rec) = (ctx.clone(), rec2.clone());
                async move {
                    let t = Instant::now();
                    let list: ListResponse = call(
                        ctx.http.get(ctx.filter_url(&format!("user{i}"))),
                        StatusCode::OK,
                    )
                    .await
                    .context("GET /Users?filter")?;
                    let get_took = t.elapsed();
                    if list.total_results != 0 {
                        bail!(
                            "GET /Users?filter for user{i}: totalResults {}",
                            list.total_results
                        );
                    }
                    rec.record(2 * i, get_took);
                    let body = create_body(i, ctx.salt);
                    let t = Instant::now();
                    let created: Created = call(
                        ctx.http
                            .post(&ctx.users_url)
                            .header(CONTENT_TYPE, SCIM_JSON)
                            .body(body),
                        StatusCode::CREATED,
                    )
                    .await
                    .context("POST /Users")?;
                    let took = t.elapsed();
                    if let Some(slot) = ctx.ids.get(i) {
                        let _ = slot.set(created.id.into_boxed_str());
                    }
                    rec.record(2 * i + 1, took);
                    let done = ctx.created.fetch_add(1, Ordering::Relaxed) + 1;
                    if let Ok(mut steps) = ctx.steps.lock()
                        && let Some(step) = steps.get_mut((done - 1) / ctx.step)
                    {
                        step.latencies.push(get_took);
                        step.latencies.push(took);
                        if done % ctx.step == 0 || done == ctx.ids.len() {
                            step.ended = Some(Instant::now());
                        }
                    }
                    if done % ctx.mark_every == 0
                        && let Ok(kb) = server::proc_status_kb(ctx.server_pid, "VmRSS:")
                        && let Ok(mut marks) = ctx.marks.lock()
                    {
                        marks.push((done, kb * 1024));
                    }
                    Ok(())
                }
            },
        )
        .await?
    };
    phases.push(p);
    all.extend(s);

    // 2. Update cycle: two attributes replaced on every user.
    let rec = Arc::new(Recorder::new(n));
    let (p, s) = {
        let (ctx, rec2) = (ctx.clone(), rec.clone());
        phase(
            server,
            &sampler,
            "update (PATCH title, familyName)",
            n,
            rec,
            o,
            move |i| {
                let (ctx, rec) = (ctx.clone(), rec2.clone());
                async move {
                    let url = ctx.user_url(ctx.id(i)?);
                    let body = update_body(i);
                    let t = Instant::now();
                    let patched: Patched = call(
                        ctx.http
                            .patch(url)
                            .header(CONTENT_TYPE, SCIM_JSON)
                            .body(body),
                        StatusCode::OK,
                    )
                    .await
                    .context("PATCH /Users/{id}")?;
                    let took = t.elapsed();
                    let (title, _) = updated(i);
                    if patched.title.as_deref() != Some(title.as_str()) {
                        bail!(
                            "PATCH user{i}: title {:?} in the answer, expected {title:?}",
                            patched.title
                        );
                    }
                    rec.record(i, took);
                    Ok(())
                }
            },
        )
        .await?
    };
    phases.push(p);
    all.extend(s);

    // 3. Deprovision every tenth user.
    let deprovisioned = n.div_ceil(10);
    let rec = Arc::new(Recorder::new(deprovisioned));
    let (p, s) = {
        let (ctx, rec2) = (ctx.clone(), rec.clone());
        phase(
            server,
            &sampler,
            "deprovision (PATCH active, 10%)",
            deprovisioned,
            rec,
            o,
            move |k| {
                let (ctx, rec) = (ctx.clone(), rec2.clone());
                async move {
                    let i = k * 10;
                    let url = ctx.user_url(ctx.id(i)?);
                    let t = Instant::now();
                    let patched: Patched = call(
                        ctx.http
                            .patch(url)
                            .header(CONTENT_TYPE, SCIM_JSON)
                            .body(DEPROVISION_BODY),
                        StatusCode::OK,
                    )
                    .await
                    .context("PATCH /Users/{id} active")?;
                    let took = t.elapsed();
                    if patched.active != Some(false) {
                        bail!(
                            "PATCH user{i} active=False: active {:?} in the answer",
                            patched.active
                        );
                    }
                    rec.record(k, took);
                    Ok(())
                }
            },
        )
        .await?
    };
    phases.push(p);
    all.extend(s);

    let (rss_max, rss_samples) = sampler.finish().await;
    let autovacuum = match (autovacuum, &o.postgres_url) {
        (Some(a), _) => {
            let done = a.finish().await?;
            Some(format!(
                "off on the server; the bench ran autovacuum's default checks every 60 s: {}",
                if done.is_empty() {
                    "nothing due".to_string()
                } else {
                    done.join(", ")
                }
            ))
        }
        (None, Some(_)) if !o.autovacuum_standin => {
            Some("not stood in for (--scim-no-autovacuum-standin)".to_string())
        }
        (None, Some(_)) => Some("on (the server's own)".to_string()),
        (None, None) => None,
    };
    let hwm = server.hwm()?;
    all.sort_unstable();
    let errors = phases.iter().map(|p| p.errors).sum();
    let elapsed: f64 = phases.iter().map(|p| p.elapsed_secs).sum();
    let mut combined = summarize(
        "all phases",
        &all,
        errors,
        phases.iter().find_map(|p| p.first_error.clone()),
        elapsed,
    );
    combined.timed_out = phases.iter().any(|p| p.timed_out);
    combined.server_cpu_secs = phases.iter().map(|p| p.server_cpu_secs).sum();
    combined.bench_cpu_secs = phases.iter().map(|p| p.bench_cpu_secs).sum();
    combined.rss_after_mib = phases.last().map_or(0.0, |p| p.rss_after_mib);

    let mut marks = ctx.marks.lock().map(|m| m.clone()).unwrap_or_default();
    marks.sort_unstable();
    let rss_max = rss_max.max(marks.iter().map(|m| m.1).max().unwrap_or(0));
    // Half-way: the mark at half the users (or the nearest after it).
    let half = marks
        .iter()
        .find(|m| m.0 * 2 >= n)
        .map_or(rss_start, |m| m.1);
    let growth = mib(rss_max.saturating_sub(half));
    let rss_flat = growth <= (mib(half) * FLAT_FRACTION).max(FLAT_MIB);
    let steps = growth_steps(&ctx, cycle_start);
    let growth_flatness = {
        let rates = steps.iter().map(|s| s.requests_per_sec);
        let (lo, hi) = rates.fold((f64::MAX, 0.0f64), |(lo, hi), r| (lo.min(r), hi.max(r)));
        if hi > 0.0 { lo / hi } else { 0.0 }
    };
    let users_per_minute = phases
        .first()
        .map_or(0.0, |p| n as f64 / p.elapsed_secs.max(1e-9) * 60.0);
    Ok(ScimReport {
        backend: backend.to_string(),
        machine: crate::report::machine(),
        users: n,
        deprovisioned,
        concurrency: o.concurrency,
        rate_limit: "off (scim_requests_per_second = 0 in the server's --config)".to_string(),
        phases,
        combined,
        rss_start_mib: mib(rss_start),
        rss_by_users: marks
            .iter()
            .map(|&(users_created, rss)| RssMark {
                users_created,
                rss_mib: mib(rss),
            })
            .collect(),
        growth: steps,
        growth_flatness,
        rss_max_mib: mib(rss_max),
        rss_samples,
        rss_hwm_mib: mib(hwm),
        rss_growth_second_half_mib: growth,
        rss_flat,
        users_per_minute,
        autovacuum,
    })
}

/// The initial cycle's steps, each from the end of the one before.
fn growth_steps(ctx: &Ctx, start: Instant) -> Vec<Step> {
    let Ok(mut logs) = ctx.steps.lock() else {
        return Vec::new();
    };
    let mut from = start;
    let mut out = Vec::new();
    for (k, log) in logs.iter_mut().enumerate() {
        let Some(ended) = log.ended else { break };
        log.latencies.sort_unstable();
        let secs = ended.duration_since(from).as_secs_f64().max(1e-9);
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        out.push(Step {
            from_users: k * ctx.step,
            to_users: ((k + 1) * ctx.step).min(ctx.ids.len()),
            requests: log.latencies.len(),
            elapsed_secs: secs,
            requests_per_sec: log.latencies.len() as f64 / secs,
            p50_ms: ms(load::quantile(&log.latencies, 0.50)),
            p99_ms: ms(load::quantile(&log.latencies, 0.99)),
            max_ms: ms(log.latencies.last().copied().unwrap_or_default()),
        });
        from = ended;
    }
    out
}

pub fn table(r: &ScimReport) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "SCIM suite on {} — {} CPUs ({}), {} MiB RAM, load average at the end {}",
        r.backend, r.machine.cpus, r.machine.cpu_model, r.machine.memory_mib, r.machine.loadavg
    );
    let _ = writeln!(
        t,
        "Entra initial cycle replayed for {} users ({} deprovisioned), {} concurrent connections; \
         server SCIM rate limit {} — throughput measured, not Entra's pace",
        r.users, r.deprovisioned, r.concurrency, r.rate_limit
    );
    if let Some(a) = &r.autovacuum {
        let _ = writeln!(t, "PostgreSQL autovacuum: {a}");
    }
    let _ = writeln!(t);
    let _ = writeln!(
        t,
        "{:<32} {:>8} {:>6} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>7} {:>7} {:>8}",
        "phase",
        "requests",
        "errors",
        "secs",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "srv CPU",
        "gen CPU",
        "RSS MiB"
    );
    for p in r.phases.iter().chain(std::iter::once(&r.combined)) {
        let _ = writeln!(
            t,
            "{:<32} {:>8} {:>6} {:>7.1} {:>7.0} {:>7.2} {:>7.2} {:>7.2} {:>8.1} {:>7.1} {:>7.1} {:>8.1}{}",
            p.name,
            p.requests,
            p.errors,
            p.elapsed_secs,
            p.requests_per_sec,
            p.p50_ms,
            p.p95_ms,
            p.p99_ms,
            p.max_ms,
            p.server_cpu_secs,
            p.bench_cpu_secs,
            p.rss_after_mib,
            if p.timed_out {
                "  (time limit hit)"
            } else {
                ""
            }
        );
        if let Some(e) = &p.first_error {
            let _ = writeln!(t, "    first error: {e}");
        }
    }
    let _ = writeln!(
        t,
        "(srv/gen CPU: CPU seconds of the server and of this load generator; RSS after the phase)"
    );
    let _ = writeln!(t);
    let _ = writeln!(
        t,
        "Server RSS: {:.1} MiB at the start, {} after the phases, max {:.1} MiB ({} samples), VmHWM {:.1} MiB",
        r.rss_start_mib,
        r.phases
            .iter()
            .map(|p| format!("{:.1}", p.rss_after_mib))
            .collect::<Vec<_>>()
            .join(" / "),
        r.rss_max_mib,
        r.rss_samples,
        r.rss_hwm_mib
    );
    let _ = writeln!(
        t,
        "RSS by users created: {}",
        r.rss_by_users
            .iter()
            .map(|m| format!("{}: {:.1}", m.users_created, m.rss_mib))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(t);
    let _ = writeln!(
        t,
        "Growth of the initial cycle (GET miss + POST), step by step from the empty account: \
         slowest step at {:.0}% of the fastest",
        r.growth_flatness * 100.0
    );
    let _ = writeln!(
        t,
        "{:>16} {:>8} {:>7} {:>7} {:>7} {:>7} {:>8}",
        "users", "requests", "secs", "req/s", "p50 ms", "p99 ms", "max ms"
    );
    for s in &r.growth {
        let _ = writeln!(
            t,
            "{:>16} {:>8} {:>7.1} {:>7.0} {:>7.2} {:>7.2} {:>8.1}",
            format!("{}–{}", s.from_users, s.to_users),
            s.requests,
            s.elapsed_secs,
            s.requests_per_sec,
            s.p50_ms,
            s.p99_ms,
            s.max_ms
        );
    }
    let _ = writeln!(t);
    let seed_factor = r.users_per_minute / SEED_USERS_PER_MIN;
    let _ = writeln!(
        t,
        "Onboarding: {:.0} users/min through the initial cycle (filter + create), against the seed \
         documents' 500 users in 60 min ({:.1}/min): {:.0}×",
        r.users_per_minute, SEED_USERS_PER_MIN, seed_factor
    );
    let _ = writeln!(
        t,
        "Entra's pace, {ENTRA_RPS_PER_TENANT:.0} requests/s per tenant, is {:.0} users/min in the initial cycle; \
         {:.0} requests/s over all phases is that pace for {:.0} tenants at once",
        ENTRA_RPS_PER_TENANT * 60.0 / 2.0,
        r.combined.requests_per_sec,
        r.combined.requests_per_sec / ENTRA_RPS_PER_TENANT
    );
    let _ = writeln!(t);
    let ok = |b: bool| if b { "met" } else { "MISSED" };
    let _ = writeln!(
        t,
        "{:<46} {:<14} {:<12} result",
        "target", "goal", "measured"
    );
    for p in r.phases.iter().chain(std::iter::once(&r.combined)) {
        let valid = p.errors == 0 && !p.timed_out;
        let _ = writeln!(
            t,
            "{:<46} {:<14} {:<12} {}",
            format!("{} req/s", p.name),
            "≥ 2,000",
            format!("{:.0}", p.requests_per_sec),
            ok(valid && p.requests_per_sec >= TARGET_RPS)
        );
        let _ = writeln!(
            t,
            "{:<46} {:<14} {:<12} {}",
            format!("{} p99", p.name),
            "< 25 ms",
            format!("{:.1} ms", p.p99_ms),
            ok(valid && p.p99_ms < TARGET_P99_MS)
        );
    }
    let _ = writeln!(
        t,
        "{:<46} {:<14} {:<12} {}",
        "errors (unexpected statuses)",
        "0",
        r.combined.errors,
        ok(r.combined.errors == 0 && !r.combined.timed_out)
    );
    let _ = writeln!(
        t,
        "{:<46} {:<14} {:<12} {}",
        "server RSS flat (growth after half the users)",
        format!("≤ {:.0}%/{FLAT_MIB:.0} MiB", FLAT_FRACTION * 100.0),
        format!("+{:.1} MiB", r.rss_growth_second_half_mib),
        ok(r.rss_flat)
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_json_and_unique() {
        let a: Value = serde_json::from_str(&create_body(7, 1)).unwrap();
        let b: Value = serde_json::from_str(&create_body(8, 1)).unwrap();
        assert_eq!(a["userName"], "user7@contoso.example");
        assert_eq!(a["phoneNumbers"][0]["value"], "+16132000007");
        assert_eq!(
            a["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
            DEPARTMENTS[7 % DEPARTMENTS.len()]
        );
        assert_ne!(a["externalId"], b["externalId"]);
        assert_eq!(a["externalId"].as_str().unwrap().len(), 36);
        let u: Value = serde_json::from_str(&update_body(7)).unwrap();
        assert_eq!(u["Operations"][1]["path"], "name.familyName");
        let d: Value = serde_json::from_str(DEPROVISION_BODY).unwrap();
        assert_eq!(d["Operations"][0]["value"], "False");
    }

    #[test]
    fn recorder_keeps_only_recorded_slots() {
        let r = Recorder::new(4);
        r.record(2, Duration::from_micros(30));
        r.record(0, Duration::from_micros(10));
        r.record(9, Duration::from_micros(99));
        assert_eq!(
            r.samples(),
            vec![Duration::from_micros(10), Duration::from_micros(30)]
        );
    }
}
