use std::sync::Arc;

use skybridge_identity::password::Hasher;
use skybridge_identity::secret_box::SecretBox;
use skybridge_store::Store;

use crate::clock::Clock;
use crate::config::Config;
use crate::limiter::FailureLimiter;
use crate::mail::MailSignal;
use crate::metrics::Metrics;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub auth_failures: Arc<FailureLimiter>,
    pub hasher: Hasher,
    pub mail: Arc<MailSignal>,
    /// Wakes this node's job worker, and long-polls waiting on jobs.
    pub jobs: Arc<crate::jobs::JobSignal>,
    /// The deployment's secret key: seals signing keys and TOTP seeds.
    pub secrets: Arc<SecretBox>,
    /// The OIDC signing keys in use.
    pub keys: Arc<crate::oidc::keys::KeyCache>,
    /// Registered OIDC clients, briefly cached.
    pub clients: Arc<crate::oidc::client_cache::ClientCache>,
    /// Per-account rate limit of the SCIM endpoint.
    pub scim_limiter: Arc<crate::scim::AccountLimiter>,
    /// Work a handler leaves to finish after its answer (so the answer's timing does not depend on it);
    /// awaited at shutdown.
    pub deferred: tokio_util::task::TaskTracker,
}

impl AppState {
    pub fn now(&self) -> i64 {
        self.clock.now_micros()
    }
}
