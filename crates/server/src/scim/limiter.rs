//! Per-account request rate limit of the SCIM endpoint: a token bucket per account, per node. Entra's
//! provisioning service needs 25 requests/s per tenant; the default is several times that, so only a runaway
//! client meets the 429.

use std::collections::HashMap;
use std::sync::Mutex;

use skybridge_domain::AccountId;

pub struct AccountLimiter {
    /// Requests per second sustained; 0 means unlimited.
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<AccountId, (f64, i64)>>,
}

const MAX_TRACKED: usize = 100_000;

impl AccountLimiter {
    pub fn new(per_second: u32) -> Self {
        AccountLimiter {
            rate: f64::from(per_second),
            burst: f64::from(per_second) * 2.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request's token; when the bucket is empty, the seconds to wait instead.
    pub fn acquire(&self, account: AccountId, now: i64) -> Option<i64> {
        if self.rate <= 0.0 {
            return None;
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_TRACKED {
            buckets.clear();
        }
        let (tokens, last) = buckets.entry(account).or_insert((self.burst, now));
        let elapsed = (now - *last).max(0) as f64 / 1_000_000.0;
        *tokens = (*tokens + elapsed * self.rate).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            None
        } else {
            Some(((1.0 - *tokens) / self.rate).ceil().max(1.0) as i64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_burst_then_the_rate() {
        let l = AccountLimiter::new(25);
        let a: AccountId = "0195f2b4-9a1e-7c3d-8e4f-5a6b7c8d9e0f".parse().unwrap();
        let b: AccountId = "0195f2b4-9a1e-7c3d-8e4f-5a6b7c8d9e10".parse().unwrap();
        let t0 = 1_000_000_000;
        for _ in 0..50 {
            assert_eq!(l.acquire(a, t0), None);
        }
        assert_eq!(l.acquire(a, t0), Some(1));
        // Another account has its own bucket.
        assert_eq!(l.acquire(b, t0), None);
        // 25 per second sustained: after 200 ms, five more.
        for _ in 0..5 {
            assert_eq!(l.acquire(a, t0 + 200_000), None);
        }
        assert!(l.acquire(a, t0 + 200_000).is_some());
        assert_eq!(AccountLimiter::new(0).acquire(a, t0), None);
    }
}
