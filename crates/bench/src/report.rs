//! The results: a serializable report, the machine it ran on, the targets, and a readable table.

use std::fmt::Write as _;

use serde::Serialize;

use crate::data::Seeded;
use crate::load::Stats;

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_mib: u64,
    /// `/proc/loadavg` when the report was made: other work on the machine skews every figure.
    pub loadavg: String,
}

pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_mib = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024);
    Machine {
        cpus: std::thread::available_parallelism().map_or(0, usize::from),
        cpu_model,
        memory_mib,
        loadavg: std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Export {
    pub rows: u64,
    pub bytes: u64,
    pub secs: f64,
    pub first_byte_ms: f64,
    pub rows_per_sec: f64,
    pub rss_before_mib: f64,
    pub rss_peak_mib: f64,
    pub rss_after_mib: f64,
    pub rss_growth_mib: f64,
    pub rss_samples: u64,
    /// CPU time the server used during the export.
    pub server_cpu_secs: f64,
    /// CPU time this load generator used during the export (reading the stream), on the same machine.
    pub bench_cpu_secs: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub backend: String,
    pub machine: Machine,
    pub requests_per_scenario: usize,
    pub warmup_per_scenario: usize,
    pub concurrency: usize,
    pub start_to_ready_ms: f64,
    pub idle_rss_mib: f64,
    pub rss_after_seed_mib: f64,
    pub final_rss_mib: f64,
    /// VmHWM at the end: the peak over the whole run.
    pub peak_rss_mib: f64,
    pub seeded: Seeded,
    pub settle_secs: f64,
    pub event_page_items: usize,
    pub user_page_items: usize,
    pub scenarios: Vec<Stats>,
    pub export: Export,
}

/// One target of the issue and whether this run met it.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub what: &'static str,
    pub target: &'static str,
    pub measured: String,
    pub met: bool,
}

fn scenario<'a>(r: &'a Report, prefix: &str) -> Option<&'a Stats> {
    r.scenarios.iter().find(|s| s.name.starts_with(prefix))
}

pub fn checks(r: &Report) -> Vec<Check> {
    let mut out = vec![
        Check {
            what: "start to ready",
            target: "< 500 ms",
            measured: format!("{:.0} ms", r.start_to_ready_ms),
            met: r.start_to_ready_ms < 500.0,
        },
        Check {
            what: "idle server RSS",
            target: "< 40 MB",
            measured: format!("{:.1} MiB", r.idle_rss_mib),
            met: r.idle_rss_mib < 40.0,
        },
    ];
    if let Some(s) = scenario(r, "user list") {
        out.push(Check {
            what: "user list/search page p99",
            target: "< 20 ms",
            measured: format!("{:.1} ms", s.p99_ms),
            met: s.p99_ms < 20.0 && s.errors == 0 && !s.timed_out,
        });
    }
    if let Some(s) = scenario(r, "event page") {
        out.push(Check {
            what: "filtered event page p99",
            target: "< 50 ms",
            measured: format!("{:.1} ms", s.p99_ms),
            met: s.p99_ms < 50.0 && s.errors == 0 && !s.timed_out,
        });
    }
    out.push(Check {
        what: "CSV export time",
        target: "1M events < 10 s",
        measured: format!("{} rows in {:.1} s", r.export.rows, r.export.secs),
        met: r.export.rows >= 1_000_000 && r.export.secs < 10.0,
    });
    out.push(Check {
        what: "CSV export RSS growth",
        target: "< 50 MB",
        measured: format!("{:.1} MiB", r.export.rss_growth_mib),
        met: r.export.rss_growth_mib < 50.0,
    });
    out
}

pub fn table(r: &Report) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "Skybridge benchmark — backend {} — {} CPUs ({}), {} MiB RAM, load average at the end {}",
        r.backend, r.machine.cpus, r.machine.cpu_model, r.machine.memory_mib, r.machine.loadavg
    );
    let s = &r.seeded;
    let _ = writeln!(
        t,
        "Seeded {} accounts, {} users, {} events ({} in the big account, {} tagged) in {:.1} s \
         (accounts {:.1} s, users {:.1} s, events {:.1} s; settle {:.1} s)",
        s.accounts,
        s.users,
        s.events,
        s.big_account_events,
        s.tagged_events,
        s.total_secs,
        s.accounts_secs,
        s.users_secs,
        s.events_secs,
        r.settle_secs
    );
    let _ = writeln!(
        t,
        "Start to ready {:.0} ms; RSS idle {:.1} MiB, after seeding {:.1} MiB, at the end {:.1} MiB, peak (VmHWM) {:.1} MiB",
        r.start_to_ready_ms, r.idle_rss_mib, r.rss_after_seed_mib, r.final_rss_mib, r.peak_rss_mib
    );
    let _ = writeln!(t);
    let _ = writeln!(
        t,
        "{:<36} {:>8} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "scenario", "requests", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    for s in &r.scenarios {
        let _ = writeln!(
            t,
            "{:<36} {:>8} {:>6} {:>9.0} {:>9.2} {:>9.2} {:>9.2} {:>9.2}{}",
            s.name,
            s.requests,
            s.errors,
            s.throughput_rps,
            s.p50_ms,
            s.p90_ms,
            s.p99_ms,
            s.max_ms,
            if s.timed_out {
                "  (time limit hit)"
            } else {
                ""
            }
        );
        if let Some(e) = &s.first_error {
            let _ = writeln!(t, "    first error: {e}");
        }
    }
    let e = &r.export;
    let _ = writeln!(t);
    let _ = writeln!(
        t,
        "CSV export: {} rows, {:.1} MiB in {:.2} s ({:.0} rows/s, first byte {:.0} ms); \
         server CPU {:.1} s, bench CPU {:.1} s; \
         server RSS {:.1} MiB before, {:.1} MiB peak (+{:.1} MiB, {} samples), {:.1} MiB after",
        e.rows,
        e.bytes as f64 / (1024.0 * 1024.0),
        e.secs,
        e.rows_per_sec,
        e.first_byte_ms,
        e.server_cpu_secs,
        e.bench_cpu_secs,
        e.rss_before_mib,
        e.rss_peak_mib,
        e.rss_growth_mib,
        e.rss_samples,
        e.rss_after_mib
    );
    let _ = writeln!(t);
    let _ = writeln!(
        t,
        "{:<28} {:<18} {:<26} result",
        "target", "goal", "measured"
    );
    for c in checks(r) {
        let _ = writeln!(
            t,
            "{:<28} {:<18} {:<26} {}",
            c.what,
            c.target,
            c.measured,
            if c.met { "met" } else { "MISSED" }
        );
    }
    t
}
