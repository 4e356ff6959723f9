//! A bounded-concurrency load loop: a fixed number of requests, at most `concurrency` in flight, stopped
//! early at a time limit; latency percentiles and throughput.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

/// The outcome of one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub name: String,
    pub requests: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    pub concurrency: usize,
    pub elapsed_secs: f64,
    pub throughput_rps: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// True when the time limit cut the run short.
    pub timed_out: bool,
}

/// The `q` quantile (0..=1) of sorted samples, nearest-rank.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs `request(i)` for i in 0..n with at most `concurrency` in flight, until all are done or `limit`
/// has passed. Warm-up requests (not measured) run first.
pub async fn run<F, Fut>(
    name: &str,
    n: usize,
    warmup: usize,
    concurrency: usize,
    limit: Duration,
    request: F,
) -> Stats
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let request = Arc::new(request);
    // Warm-up: offsets past the measured range, so that requests that must be unique stay unique.
    drive(request.clone(), n..n + warmup, concurrency, limit).await;
    let started = Instant::now();
    let (mut samples, errors, first_error, timed_out) =
        drive(request, 0..n, concurrency, limit).await;
    let elapsed = started.elapsed();
    samples.sort_unstable();
    Stats {
        name: name.to_string(),
        requests: samples.len(),
        errors,
        first_error,
        concurrency,
        elapsed_secs: elapsed.as_secs_f64(),
        throughput_rps: samples.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        p50_ms: ms(quantile(&samples, 0.50)),
        p90_ms: ms(quantile(&samples, 0.90)),
        p99_ms: ms(quantile(&samples, 0.99)),
        max_ms: ms(samples.last().copied().unwrap_or_default()),
        timed_out,
    }
}

type Outcome = (Vec<Duration>, usize, Option<String>, bool);

async fn drive<F, Fut>(
    request: Arc<F>,
    range: std::ops::Range<usize>,
    concurrency: usize,
    limit: Duration,
) -> Outcome
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let next = Arc::new(AtomicUsize::new(range.start));
    let errors = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + limit;
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (request, next, errors, stop) =
            (request.clone(), next.clone(), errors.clone(), stop.clone());
        let end = range.end;
        workers.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut first_error = None;
            loop {
                if Instant::now() >= deadline {
                    stop.store(true, Ordering::Relaxed);
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    break;
                }
                let t = Instant::now();
                let remaining = deadline.saturating_duration_since(t);
                match tokio::time::timeout(remaining, request(i)).await {
                    Ok(Ok(())) => samples.push(t.elapsed()),
                    Ok(Err(e)) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        first_error.get_or_insert_with(|| format!("{e:#}"));
                    }
                    Err(_) => {
                        stop.store(true, Ordering::Relaxed);
                        break;
                    }
                }
            }
            (samples, first_error)
        }));
    }
    let mut all = Vec::new();
    let mut first_error = None;
    for w in workers {
        match w.await {
            Ok((samples, err)) => {
                all.extend(samples);
                if first_error.is_none() {
                    first_error = err;
                }
            }
            Err(e) => {
                errors.fetch_add(1, Ordering::Relaxed);
                first_error.get_or_insert_with(|| format!("worker failed: {e}"));
            }
        }
    }
    (
        all,
        errors.load(Ordering::Relaxed) as usize,
        first_error,
        stop.load(Ordering::Relaxed),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&v, 0.5), Duration::from_millis(50));
        assert_eq!(quantile(&v, 0.99), Duration::from_millis(99));
        assert_eq!(quantile(&v, 1.0), Duration::from_millis(100));
        assert_eq!(quantile(&[], 0.5), Duration::ZERO);
    }

    #[tokio::test]
    async fn runs_each_request_once() {
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let stats = run("t", 100, 5, 4, Duration::from_secs(10), move |_| {
            let c = c.clone();
            async move {
                c.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
        })
        .await;
        assert_eq!(stats.requests, 100);
        assert_eq!(count.load(Ordering::Relaxed), 105);
        assert!(!stats.timed_out);
    }
}
