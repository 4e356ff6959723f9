//! Building and running the server: the store, migrations, first start, the router and its layers,
//! graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use skybridge_store::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::bootstrap::{self, Bootstrapped};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::error::ApiError;
use crate::limiter::FailureLimiter;
use crate::mail::{MailSignal, Worker};
use crate::metrics::{self, Metrics};
use crate::state::AppState;
use skybridge_identity::password::Hasher;
use skybridge_identity::secret_box::SecretBox;

/// Failed authentications allowed per client address per minute before 429.
pub const AUTH_FAILURES_PER_MINUTE: u32 = 20;

/// Request bodies above this are refused with 413.
pub const MAX_BODY: usize = 1024 * 1024;

/// Parts of the application a caller may supply instead of the defaults.
#[derive(Default)]
pub struct Parts {
    pub clock: Option<Arc<dyn Clock>>,
    pub store: Option<Store>,
    pub hasher: Option<Hasher>,
    /// Run the background workers: mail delivery and housekeeping (tests drive them themselves). The job
    /// worker runs either way: clients wait for jobs through the API (`GET /api/v1/jobs/{id}?wait=`).
    pub background: bool,
}

/// How many password hashes may run at once: one per core. Each holds ~19 MiB; more than the cores would
/// only time-slice them, with their working sets evicting each other from the caches.
pub fn hash_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
    mail_worker: Option<Worker>,
    housekeeping: bool,
    pub bootstrapped: Option<Bootstrapped>,
}

impl Application {
    /// Connects and migrates the store, runs first start, and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        Self::build_with(
            config,
            Parts {
                background: true,
                ..Parts::default()
            },
        )
        .await
    }

    /// As [`build`](Self::build), with an injected clock and optionally an already-open store.
    /// As [`build`](Self::build), with some parts supplied by the caller (tests).
    pub async fn build_with(config: Config, parts: Parts) -> anyhow::Result<Application> {
        let Parts {
            clock,
            store,
            hasher,
            background,
        } = parts;
        let clock = clock.unwrap_or_else(|| Arc::new(SystemClock));
        let store = match store {
            Some(s) => s,
            None => open_store(&config).await?,
        };
        store.migrate().await?;
        let listener = TcpListener::bind(config.listen).await?;
        let mut config = config;
        // Listening on port 0 picks a port now: links (first start's setup link among them) and the OIDC
        // issuer must carry the real one.
        if config.listen.port() == 0
            && config
                .public_url
                .as_deref()
                .is_none_or(|u| u == format!("http://{}", config.listen))
        {
            config.public_url = Some(format!("http://{}", listener.local_addr()?));
        }
        let bootstrapped = bootstrap::run(&store, &config, clock.as_ref()).await?;
        // SQLite is one node's store: a job it shows running was cut off when this node last stopped (a crash,
        // kill -9). Resume it now rather than after its lease runs out. On PostgreSQL another node may hold it.
        if store.backend() == skybridge_store::Backend::Sqlite {
            let resumed = skybridge_store::jobs::resume_orphans(&store, clock.now_micros()).await?;
            if resumed > 0 {
                tracing::info!(
                    jobs = resumed,
                    "resuming jobs cut off when the server last stopped"
                );
            }
        }
        // Calibrated on first use (the first password set or checked), not at start.
        let hasher = hasher.unwrap_or_else(|| {
            Hasher::calibrated(
                Duration::from_millis(config.password_hash_ms),
                hash_concurrency(),
            )
        });
        let secrets = Arc::new(load_secret_key(&config)?);
        let scim_rate = config.scim_requests_per_second;
        let state = AppState {
            store,
            config: Arc::new(config),
            clock,
            metrics: Arc::new(Metrics::default()),
            auth_failures: Arc::new(FailureLimiter::new(AUTH_FAILURES_PER_MINUTE, 60)),
            hasher,
            mail: Arc::new(MailSignal::default()),
            jobs: Arc::default(),
            secrets,
            keys: Arc::default(),
            clients: Arc::default(),
            scim_limiter: Arc::new(crate::scim::AccountLimiter::new(scim_rate)),
            deferred: tokio_util::task::TaskTracker::new(),
        };
        let mail_worker = if background {
            Some(Worker::new(
                &state.config,
                state.store.clone(),
                state.clock.clone(),
                state.mail.clone(),
            )?)
        } else {
            None
        };
        Ok(Application {
            listener,
            state,
            mail_worker,
            housekeeping: background,
            bootstrapped,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    pub fn store(&self) -> Store {
        self.state.store.clone()
    }

    /// Serves until `shutdown` is cancelled, then finishes in-flight requests and closes the store.
    pub async fn run_until(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let store = self.state.store.clone();
        let worker = self
            .mail_worker
            .map(|w| tokio::spawn(w.run(shutdown.clone())));
        let janitor = self.housekeeping.then(|| {
            tokio::spawn(crate::housekeeping::run(
                store.clone(),
                self.state.clock.clone(),
                shutdown.clone(),
            ))
        });
        let statistics = self.housekeeping.then(|| {
            tokio::spawn(crate::housekeeping::follow_statistics(
                store.clone(),
                shutdown.clone(),
            ))
        });
        let jobs = tokio::spawn(crate::jobs::run(self.state.clone(), shutdown.clone()));
        let deferred = self.state.deferred.clone();
        let app = router(self.state);
        axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await?;
        // The server stopped on its own (or was told to): stop the worker too, then close the store.
        shutdown.cancel();
        for task in [worker, janitor, statistics, Some(jobs)]
            .into_iter()
            .flatten()
        {
            let _ = task.await;
        }
        deferred.close();
        deferred.wait().await;
        store.close().await;
        Ok(())
    }
}

/// The deployment's secret key: configured, or kept in `data_dir/secret.key` (created on first start, readable
/// by the owner only).
pub fn load_secret_key(config: &Config) -> anyhow::Result<SecretBox> {
    if let Some(k) = &config.secret_key {
        return SecretBox::from_base64(k).map_err(|e| anyhow::anyhow!("secret_key: {e}"));
    }
    let path = config.data_dir.join("secret.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            SecretBox::from_base64(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(&config.data_dir)?;
            let key = SecretBox::generate_key();
            write_private(&path, &key)?;
            if config.database_url.is_some() {
                tracing::warn!(path = %path.display(), "generated a secret key; give every node the same secret_key");
            }
            SecretBox::from_base64(&key).map_err(|e| anyhow::anyhow!("{e}"))
        }
        Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
    }
}

fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

/// Opens the configured store, creating the data directory for SQLite.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    if config.database_url.is_none() {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            anyhow::anyhow!(
                "cannot create data directory {}: {e}",
                config.data_dir.display()
            )
        })?;
    }
    Ok(Store::connect(&config.store_url(), config.max_connections).await?)
}

pub fn router(state: AppState) -> Router {
    let (api, openapi) = crate::api::router().split_for_parts();
    let openapi = Arc::new(openapi);
    let request_id = HeaderName::from_static("x-request-id");
    let metrics = state.metrics.clone();
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/api/v1/openapi.json", get(move || async move { Json(openapi.as_ref().clone()) }))
        .merge(api)
        .merge(crate::web::router())
        .merge(crate::console::router())
        .merge(crate::oidc::router())
        .merge(crate::scim::router())
        .fallback(|| async { ApiError::NotFound("route") })
        .with_state(state)
        .layer(axum::middleware::from_fn(crate::edge::refuse_control_characters))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(metrics, metrics::track))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(60)))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()
        }))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }).on_response(DefaultOnResponse::new().level(tracing::Level::INFO)))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// How long `/readyz` waits for the store: load balancers probe often with short timeouts of their own, and a
/// database that does not answer a trivial query this fast is not ready for traffic.
const READY_TIMEOUT: Duration = Duration::from_millis(800);

async fn readyz(State(state): State<AppState>) -> Response {
    let why = match tokio::time::timeout(READY_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => return (StatusCode::OK, "ready").into_response(),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {READY_TIMEOUT:?}"),
    };
    tracing::warn!(error = %why, "store not ready");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(
            axum::http::header::RETRY_AFTER,
            crate::error::RETRY_AFTER_SECS.to_string(),
        )],
        "store unavailable",
    )
        .into_response()
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    (
        [("content-type", "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// Resolves when SIGINT or SIGTERM arrives.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
