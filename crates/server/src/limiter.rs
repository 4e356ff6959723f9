//! Throttles failed authentication per client address: after `limit` failures within a window, further
//! failing attempts from that address get 429 until the window ends. Callers consult it only once a
//! credential has failed, so a valid credential is never refused for what others at the same address did.
//! Kept in memory per node; bearer tokens carry 256 random bits, so this is about noise and abuse, not
//! about making guessing feasible.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

pub struct FailureLimiter {
    limit: u32,
    window_micros: i64,
    entries: Mutex<HashMap<IpAddr, (i64, u32)>>,
}

const MAX_TRACKED: usize = 100_000;

impl FailureLimiter {
    pub fn new(limit: u32, window_secs: i64) -> Self {
        FailureLimiter {
            limit,
            window_micros: window_secs * 1_000_000,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds until `ip` may try again, if it is currently blocked.
    pub fn blocked(&self, ip: IpAddr, now: i64) -> Option<i64> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(&ip) {
            Some((start, count)) if *count >= self.limit && now - start < self.window_micros => {
                Some((self.window_micros - (now - start)) / 1_000_000 + 1)
            }
            _ => None,
        }
    }

    pub fn record_failure(&self, ip: IpAddr, now: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_TRACKED {
            let window = self.window_micros;
            entries.retain(|_, (start, _)| now - *start < window);
        }
        let entry = entries.entry(ip).or_insert((now, 0));
        if now - entry.0 >= self.window_micros {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_limit_until_window_ends() {
        let l = FailureLimiter::new(3, 60);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        for i in 0..3 {
            assert_eq!(l.blocked(ip, i), None);
            l.record_failure(ip, i);
        }
        assert_eq!(l.blocked(ip, 10), Some(60));
        assert_eq!(l.blocked(other, 10), None);
        assert_eq!(l.blocked(ip, 61_000_000), None);
        l.record_failure(ip, 61_000_000);
        assert_eq!(
            l.blocked(ip, 61_000_001),
            None,
            "a new window starts from zero"
        );
    }
}
