//! Prometheus metrics in the text exposition format: request counts by route class and status, and a
//! latency histogram. Small enough not to warrant a metrics framework.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

#[derive(Default)]
pub struct Metrics {
    by_class: [AtomicU64; 5],
    buckets: [AtomicU64; 12],
    count: AtomicU64,
    sum_micros: AtomicU64,
    in_flight: AtomicU64,
}

impl Metrics {
    fn observe(&self, status: u16, seconds: f64) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP skybridge_http_requests_total HTTP requests served, by status class."
        );
        let _ = writeln!(out, "# TYPE skybridge_http_requests_total counter");
        for (i, class) in CLASSES.iter().enumerate() {
            let _ = writeln!(
                out,
                "skybridge_http_requests_total{{status=\"{class}\"}} {}",
                self.by_class[i].load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP skybridge_http_request_duration_seconds Time to produce a response."
        );
        let _ = writeln!(
            out,
            "# TYPE skybridge_http_request_duration_seconds histogram"
        );
        for (i, le) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "skybridge_http_request_duration_seconds_bucket{{le=\"{le}\"}} {}",
                self.buckets[i].load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "skybridge_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "skybridge_http_request_duration_seconds_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "skybridge_http_request_duration_seconds_count {count}");
        let _ = writeln!(
            out,
            "# HELP skybridge_http_requests_in_flight Requests being served."
        );
        let _ = writeln!(out, "# TYPE skybridge_http_requests_in_flight gauge");
        let _ = writeln!(
            out,
            "skybridge_http_requests_in_flight {}",
            self.in_flight.load(Ordering::Relaxed)
        );
        out
    }
}

pub async fn track(
    State(metrics): State<std::sync::Arc<Metrics>>,
    req: Request,
    next: Next,
) -> Response {
    let is_metrics = req
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|p| p.as_str() == "/metrics");
    let start = Instant::now();
    metrics.in_flight.fetch_add(1, Ordering::Relaxed);
    let resp = next.run(req).await;
    metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
    if !is_metrics {
        metrics.observe(resp.status().as_u16(), start.elapsed().as_secs_f64());
    }
    resp
}
