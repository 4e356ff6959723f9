//! The signing keys in use, cached in memory and re-read from the store now and then so that every node
//! follows a rotation made by any of them. A key signs for `signing_key_days`; then a new one takes over
//! and the old one stays published until everything it signed has expired.

use std::sync::{Arc, RwLock};

use skybridge_identity::keys::{Alg, KeySet, SigningKey, generate, new_kid};
use skybridge_identity::secret_box::SecretBox;
use skybridge_store::Store;
use skybridge_store::oauth::keys::{self as store, KeyRow};

/// How long a node trusts its cached key set before re-reading the store.
const RELOAD_MICROS: i64 = 60 * 1_000_000;
const DAY_MICROS: i64 = 86_400 * 1_000_000;

#[derive(Default)]
pub struct KeyCache {
    cached: RwLock<Option<(Arc<KeySet>, i64)>>,
    /// One reload at a time; the others wait for its result.
    reload: tokio::sync::Mutex<()>,
}

pub struct Lifetimes {
    pub signing_key_days: i64,
    /// The longest lifetime of anything signed (an ID or access token).
    pub max_token_micros: i64,
}

fn sealed_context(kid: &str) -> String {
    format!("signing_key:{kid}")
}

impl KeyCache {
    fn fresh(&self, now: i64) -> Option<Arc<KeySet>> {
        let guard = self.cached.read().ok()?;
        guard
            .as_ref()
            .filter(|(_, at)| now - at < RELOAD_MICROS && *at <= now)
            .map(|(k, _)| k.clone())
    }

    /// The current key set, creating the first keys (or their successors) when due.
    pub async fn get(
        &self,
        store: &Store,
        secrets: &SecretBox,
        life: &Lifetimes,
        now: i64,
    ) -> anyhow::Result<Arc<KeySet>> {
        if let Some(k) = self.fresh(now) {
            return Ok(k);
        }
        let _one = self.reload.lock().await;
        if let Some(k) = self.fresh(now) {
            return Ok(k);
        }
        let set = Arc::new(load(store, secrets, life, now).await?);
        if let Ok(mut g) = self.cached.write() {
            *g = Some((set.clone(), now));
        }
        Ok(set)
    }

    /// Forgets the cache, so the next use re-reads the store (a token named a key this node has not seen).
    pub fn invalidate(&self) {
        if let Ok(mut g) = self.cached.write() {
            *g = None;
        }
    }
}

/// Reads the published keys and adds a signing key for each algorithm that has none in service.
async fn load(
    store: &Store,
    secrets: &SecretBox,
    life: &Lifetimes,
    now: i64,
) -> anyhow::Result<KeySet> {
    let mut rows = store::published(&mut store.handle().await?, now).await?;
    let mut added = false;
    for alg in Alg::ALL {
        if rows
            .iter()
            .any(|r| r.alg == alg.as_str() && r.retire_at > now)
        {
            continue;
        }
        // RSA generation takes a while: off the async workers, and outside any transaction.
        let der = tokio::task::spawn_blocking(move || generate(alg)).await??;
        let kid = new_kid();
        let retire_at = now + life.signing_key_days * DAY_MICROS;
        let row = KeyRow {
            private_sealed: secrets.seal(&sealed_context(&kid), &der),
            kid,
            alg: alg.as_str().to_string(),
            created_at: now,
            retire_at,
            expires_at: retire_at + life.max_token_micros + DAY_MICROS,
        };
        let mut tx = store.begin().await?;
        store::insert(&mut tx, &row).await?;
        store::purge(&mut tx, now).await?;
        tx.commit().await?;
        tracing::info!(kid = %row.kid, alg = %row.alg, "new token signing key");
        added = true;
    }
    if added {
        rows = store::published(&mut store.handle().await?, now).await?;
    }
    // Newest first; a retired key still verifies but never signs, so it goes after the signing ones.
    rows.sort_by_key(|r| (r.retire_at <= now, std::cmp::Reverse(r.created_at)));
    let mut keys = Vec::with_capacity(rows.len());
    for r in rows {
        let Some(alg) = Alg::parse(&r.alg) else {
            continue;
        };
        let der = secrets.open(&sealed_context(&r.kid), &r.private_sealed)?;
        let key = tokio::task::spawn_blocking(move || SigningKey::from_pkcs8(&r.kid, alg, &der))
            .await??;
        keys.push(key);
    }
    Ok(KeySet::new(keys))
}
