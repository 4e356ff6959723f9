//! Starts a real Skybridge server on `127.0.0.1:0` over a fresh store — a temporary SQLite file, or a fresh
//! schema in the PostgreSQL named by `SKYBRIDGE_TEST_POSTGRES_URL` — and talks HTTP to it.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use reqwest::{Method, Response, StatusCode};
use serde_json::Value;
use skybridge_identity::password::Hasher;
use skybridge_server::app::Parts;
use skybridge_server::clock::{Clock, ManualClock, SystemClock};
use skybridge_server::mail::{MailSignal, Worker};
use skybridge_server::state::AppState;
use skybridge_server::store::Store;
use skybridge_server::{Application, Config};
use sqlx::postgres::PgConnectOptions;
use tokio_util::sync::CancellationToken;

pub use reqwest;
pub use serde_json::json;

/// Which store a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub backend: Backend,
    /// The first partner administrator's token (printed at first start).
    pub token: String,
    /// The first partner administrator's one-time setup link (printed at first start).
    pub setup_link: String,
    pub partner_id: String,
    pub admin_id: String,
    pub store: Store,
    pub http: reqwest::Client,
    pub config: Config,
    /// What the server's handlers and job worker run with, for tests that play another node's part (running a
    /// job's chunk with `skybridge_server::jobs::step`, as a node that then dies).
    pub state: AppState,
    clock: Arc<dyn Clock>,
    shutdown: CancellationToken,
    data_dir: Option<PathBuf>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(dir) = &self.data_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The PostgreSQL URL for tests, if configured. Under CI it must be: a silently skipped backend is a lie.
pub fn postgres_url() -> Option<String> {
    match std::env::var("SKYBRIDGE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "CI is set but SKYBRIDGE_TEST_POSTGRES_URL is not"
            );
            None
        }
    }
}

fn test_config(data_dir: PathBuf) -> Config {
    Config {
        listen: "127.0.0.1:0"
            .parse()
            .unwrap_or_else(|_| Config::default().listen),
        data_dir,
        max_connections: 4,
        log_level: "warn".into(),
        // The SCIM rate limit has its own test (scim_limits, on a manual clock); elsewhere a burst of requests
        // must not turn into waits on the wall clock.
        scim_requests_per_second: 0,
        ..Config::default()
    }
}

impl TestApp {
    pub async fn sqlite() -> TestApp {
        Self::spawn(Backend::Sqlite, Arc::new(SystemClock)).await
    }

    /// `None` when no PostgreSQL is configured (outside CI).
    pub async fn postgres() -> Option<TestApp> {
        postgres_url()?;
        Some(Self::spawn(Backend::Postgres, Arc::new(SystemClock)).await)
    }

    /// A server whose clock stands still until the test moves it.
    pub async fn with_manual_clock(backend: Backend) -> (TestApp, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(1_800_000_000_000_000));
        (Self::spawn(backend, clock.clone()).await, clock)
    }

    pub async fn spawn(backend: Backend, clock: Arc<dyn Clock>) -> TestApp {
        Self::spawn_with(backend, clock, |_| {}).await
    }

    /// As [`spawn`](Self::spawn), letting the test adjust the configuration first.
    pub async fn spawn_with(
        backend: Backend,
        clock: Arc<dyn Clock>,
        adjust: impl FnOnce(&mut Config),
    ) -> TestApp {
        Self::spawn_inner(backend, clock, adjust, None).await
    }

    /// A server on a fresh PostgreSQL schema that reaches PostgreSQL at `via` (a forwarder the test controls)
    /// instead of the configured address, for tests that cut its connection. `None` when no PostgreSQL is
    /// configured (outside CI).
    pub async fn postgres_via(via: std::net::SocketAddr) -> Option<TestApp> {
        postgres_url()?;
        Some(Self::spawn_inner(Backend::Postgres, Arc::new(SystemClock), |_| {}, Some(via)).await)
    }

    async fn spawn_inner(
        backend: Backend,
        clock: Arc<dyn Clock>,
        adjust: impl FnOnce(&mut Config),
        pg_via: Option<std::net::SocketAddr>,
    ) -> TestApp {
        skybridge_server::install_crypto_provider();
        if std::env::var("TEST_LOG").is_ok() {
            skybridge_server::telemetry::init(skybridge_server::config::LogFormat::Text, "info");
        }
        let dir =
            std::env::temp_dir().join(format!("skybridge-test-{}", uuid::Uuid::new_v4().simple()));
        let mut config = test_config(dir.clone());
        adjust(&mut config);
        let (store, data_dir) = match backend {
            Backend::Sqlite => (None, Some(dir)),
            Backend::Postgres => (Some(fresh_postgres_schema(pg_via).await), Some(dir)),
        };
        let parts = Parts {
            clock: Some(clock.clone()),
            store,
            hasher: Some(Hasher::for_tests()),
            background: false,
        };
        let app = Application::build_with(config.clone(), parts)
            .await
            .expect("server builds");
        let addr = app.local_addr().expect("bound");
        let boot = app.bootstrapped.clone().expect("fresh store bootstraps");
        let store = app.store();
        let state = app.state();
        // The configuration as the server runs it (the public URL now names the bound port).
        let config = (*app.state().config).clone();
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let _ = app.run_until(stop).await;
        });
        TestApp {
            base: format!("http://{addr}"),
            backend,
            token: boot.admin_token,
            setup_link: boot.setup_link,
            partner_id: boot.partner_id.to_string(),
            admin_id: boot.admin_id.to_string(),
            store,
            http: reqwest::Client::new(),
            config,
            state,
            clock,
            shutdown,
            data_dir,
        }
    }

    /// Delivers the mail that is due, as the server's worker would (tests run without the background worker so
    /// that delivery happens exactly when they say). Returns how many mails were attempted.
    pub async fn deliver_mail(&self) -> usize {
        let worker = Worker::new(
            &self.config,
            self.store.clone(),
            self.clock.clone(),
            Arc::new(MailSignal::default()),
        )
        .expect("mail worker builds");
        worker.deliver_due().await.expect("delivery round runs")
    }

    /// Waits until the work the server deferred past its answers is done (the mail of a password-reset
    /// request), so a test can look at its outcome without waiting on the clock.
    pub async fn settle(&self) {
        self.state.deferred.close();
        self.state.deferred.wait().await;
        self.state.deferred.reopen();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request as `token` and returns the response.
    pub async fn send(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Response {
        let mut req = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(b);
        }
        req.send().await.expect("request sent")
    }

    /// Sends and decodes the JSON answer (Null for an empty body).
    pub async fn call(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let resp = self.send(token, method, path, body).await;
        let status = resp.status();
        let text = resp.text().await.expect("body read");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call(token, Method::GET, path, None).await
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        self.call(token, Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, token: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        self.call(token, Method::PATCH, path, Some(body)).await
    }

    pub async fn put(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call(token, Method::PUT, path, None).await
    }

    pub async fn delete(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call(token, Method::DELETE, path, None).await
    }

    /// Creates a customer account as the partner administrator and returns it.
    pub async fn create_account(&self, name: &str) -> Value {
        let (status, body) = self
            .post(&self.token, "/api/v1/accounts", &account_body(name))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// Sets `user`'s password through the admin API as the partner administrator (which must succeed).
    pub async fn set_password(&self, account: &str, user: &str, password: &str) {
        let (status, body) = self
            .call(
                &self.token,
                Method::PUT,
                &format!("/api/v1/accounts/{account}/users/{user}/password"),
                Some(&json!({ "password": password })),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }

    /// Creates a user in `account` with `role` as the partner administrator and returns (user, token).
    pub async fn create_user(&self, account: &str, email: &str, role: &str) -> (Value, String) {
        let body = json!({ "first_name": "Test", "last_name": email.split('@').next().unwrap_or("user"), "email": email, "role": role });
        let (status, user) = self
            .post(
                &self.token,
                &format!("/api/v1/accounts/{account}/users"),
                &body,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        let token = self
            .token_for(account, user["id"].as_str().unwrap_or_default())
            .await;
        (user, token)
    }

    /// Issues a token acting as `user` (partner administrator's right).
    pub async fn token_for(&self, account: &str, user: &str) -> String {
        let (status, t) = self
            .post(
                &self.token,
                &format!("/api/v1/accounts/{account}/users/{user}/tokens"),
                &json!({ "name": "test" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{t}");
        t["token"].as_str().unwrap_or_default().to_string()
    }
}

/// A valid account-creation body.
pub fn account_body(name: &str) -> Value {
    json!({
        "name": name,
        "country": "US",
        "province": "CA",
        "address": "1 Market Street",
        "city": "San Francisco",
        "postal_code": "94105",
        "support_contacts": [{ "email": "support@example.com" }],
    })
}

/// The `host:port` of the PostgreSQL named by `SKYBRIDGE_TEST_POSTGRES_URL`, if configured.
pub fn postgres_addr() -> Option<String> {
    let opts = PgConnectOptions::from_str(&postgres_url()?).expect("valid URL");
    Some(format!("{}:{}", opts.get_host(), opts.get_port()))
}

async fn fresh_postgres_schema(via: Option<std::net::SocketAddr>) -> Store {
    let url = postgres_url().expect("postgres configured");
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&url)
        .await
        .expect("PostgreSQL reachable");
    // pg_trgm is one per database: in `public`, where every test schema's migration finds it, rather than in
    // the first test's schema, which is dropped with it. Two tests may race to create it; either one wins.
    let _ = sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
        .execute(&admin)
        .await;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .expect("schema created");
    admin.close().await;
    let mut opts = PgConnectOptions::from_str(&url)
        .expect("valid URL")
        .options([("search_path", schema.as_str())]);
    if let Some(via) = via {
        opts = opts.host(&via.ip().to_string()).port(via.port());
    }
    Store::connect_postgres(opts, 4)
        .await
        .expect("store connects")
}

/// Declares each listed `async fn(TestApp)` as two tests: `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name($crate::TestApp::sqlite().await).await;
                }
                #[tokio::test]
                async fn postgres() {
                    if let Some(app) = $crate::TestApp::postgres().await {
                        super::$name(app).await;
                    }
                }
            }
        )*
    };
}

/// Like [`backend_tests!`] for tests that move the server's clock: each gets the app and its
/// `Arc<ManualClock>`, starting at a fixed instant.
#[macro_export]
macro_rules! clock_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    let (app, clock) = $crate::TestApp::with_manual_clock($crate::Backend::Sqlite).await;
                    super::$name(app, clock).await;
                }
                #[tokio::test]
                async fn postgres() {
                    if $crate::postgres_url().is_some() {
                        let (app, clock) = $crate::TestApp::with_manual_clock($crate::Backend::Postgres).await;
                        super::$name(app, clock).await;
                    }
                }
            }
        )*
    };
}

/// A Python interpreter with `aiosmtpd` installed (scripts/test.sh prepares one), for tests that need a real
/// SMTP server. Under CI it must be there.
pub fn smtpd_python() -> Option<String> {
    match std::env::var("SKYBRIDGE_TEST_SMTPD_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "CI is set but SKYBRIDGE_TEST_SMTPD_PYTHON is not"
            );
            None
        }
    }
}

// --- SCIM (Entra ID Sync) ---------------------------------------------------------------------------------

/// What an account administrator pastes into Microsoft Entra ID: the Tenant URL and the Secret Token.
#[derive(Debug, Clone)]
pub struct ScimKeys {
    pub tenant_url: String,
    pub secret_token: String,
    pub generated_at: String,
}

/// A SCIM answer: the status, the Content-Type, the headers and the decoded body (Null when empty, a String
/// when not JSON).
#[derive(Debug)]
pub struct ScimResponse {
    pub status: StatusCode,
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

/// Talks SCIM to one account's Tenant URL with a bearer token, as Entra ID's provisioning service does:
/// `Content-Type: application/scim+json` on every request with a body. Paths are relative to the Tenant URL
/// (`/Users?filter=…`); use [`url_encode`] for query values.
#[derive(Debug, Clone)]
pub struct ScimClient {
    pub tenant_url: String,
    pub token: String,
    http: reqwest::Client,
}

/// How long a test client keeps honouring `429 Retry-After` before giving up. The per-account rate limit is
/// not what these tests are about; a test that bursts past it waits as Entra would, then fails if it must.
const SCIM_RETRY_BUDGET: std::time::Duration = std::time::Duration::from_secs(60);

impl ScimClient {
    pub fn new(tenant_url: &str, token: &str) -> ScimClient {
        ScimClient {
            tenant_url: tenant_url.trim_end_matches('/').to_string(),
            token: token.to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// The same endpoint presented with another token.
    pub fn with_token(&self, token: &str) -> ScimClient {
        ScimClient::new(&self.tenant_url, token)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.tenant_url)
    }

    /// Sends `body` (already serialised, any bytes) with `content_type`, as `token` (none: no Authorization).
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Option<Vec<u8>>,
    ) -> ScimResponse {
        let started = std::time::Instant::now();
        loop {
            let mut req = self
                .http
                .request(method.clone(), self.url(path))
                .header("accept", "application/scim+json");
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Some(b) = &body {
                req = req.header("content-type", content_type).body(b.clone());
            }
            let resp = req.send().await.expect("SCIM request sent");
            let status = resp.status();
            let headers = resp.headers().clone();
            if status == StatusCode::TOO_MANY_REQUESTS {
                let wait = headers
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(1)
                    .max(1);
                let wait = std::time::Duration::from_secs(wait);
                assert!(
                    started.elapsed() + wait < SCIM_RETRY_BUDGET,
                    "{method} {path}: still rate limited after {:?}",
                    started.elapsed()
                );
                eprintln!("{method} {path}: 429, retrying after {wait:?} as Retry-After asks");
                tokio::time::sleep(wait).await;
                continue;
            }
            let content_type = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let text = resp.text().await.expect("SCIM body read");
            let body = if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            };
            return ScimResponse {
                status,
                content_type,
                headers,
                body,
            };
        }
    }

    /// Sends `body` as `application/scim+json` with this client's token.
    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> ScimResponse {
        self.send_raw(
            method,
            path,
            Some(&self.token),
            "application/scim+json",
            body.map(|b| serde_json::to_vec(b).expect("JSON body")),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> ScimResponse {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> ScimResponse {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> ScimResponse {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> ScimResponse {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> ScimResponse {
        self.send(Method::DELETE, path, None).await
    }
}

impl TestApp {
    /// Adds Entra ID Sync to `account` as the partner administrator.
    pub async fn add_scim_integration(&self, account: &str) {
        let (status, body) = self
            .post(
                &self.token,
                &format!("/api/v1/accounts/{account}/integrations"),
                &json!({ "key": "entra_id_sync" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "adding entra_id_sync: {body}");
    }

    /// Generates (again) the SCIM keys of `account`, whose Entra ID Sync integration must exist.
    pub async fn generate_scim_keys(&self, account: &str) -> ScimKeys {
        let (status, body) = self
            .call(
                &self.token,
                Method::POST,
                &format!("/api/v1/accounts/{account}/integrations/entra_id_sync/keys"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "generating SCIM keys: {body}");
        let field = |k: &str| {
            body[k]
                .as_str()
                .unwrap_or_else(|| panic!("no {k} in {body}"))
                .to_string()
        };
        ScimKeys {
            tenant_url: field("tenant_url"),
            secret_token: field("secret_token"),
            generated_at: field("generated_at"),
        }
    }

    /// Adds Entra ID Sync to `account` and generates its SCIM keys.
    pub async fn scim_keys(&self, account: &str) -> ScimKeys {
        self.add_scim_integration(account).await;
        self.generate_scim_keys(account).await
    }

    /// A SCIM client for the keys, as Entra ID would use them.
    pub fn scim(&self, keys: &ScimKeys) -> ScimClient {
        ScimClient::new(&keys.tenant_url, &keys.secret_token)
    }

    /// A new customer account provisioned through SCIM: its id and a SCIM client for it.
    pub async fn scim_account(&self, name: &str) -> (String, ScimClient) {
        let account = self.create_account(name).await;
        let id = account["id"].as_str().expect("account id").to_string();
        let keys = self.scim_keys(&id).await;
        (id, self.scim(&keys))
    }
}

/// Percent-encodes `s` for a query value (everything but RFC 3986 unreserved characters).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A Python interpreter with scim2-tester installed (scripts/test.sh prepares one from
/// tests/scim-compliance/requirements.txt), for the SCIM compliance run. Under CI it must be there.
pub fn scim_python() -> Option<String> {
    match std::env::var("SKYBRIDGE_TEST_SCIM_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "CI is set but SKYBRIDGE_TEST_SCIM_PYTHON is not"
            );
            None
        }
    }
}
