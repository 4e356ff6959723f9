//! The import suite: bulk import of users through the API as an admin does it — upload an .xlsx (parsed,
//! every row checked, staged), then commit (a job creating the users) — timed for each file size, with the
//! server's memory read while it works.
//!
//! Targets (issue 6): a 10,000-row .xlsx parsed and validated in < 1 s and committed in < 3 s; a
//! 50,000-row file keeps the server under 200 MB RSS.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};

use crate::report::Machine;
use crate::server::{Sampler, Server};

const TARGET_STAGE_SECS_10K: f64 = 1.0;
const TARGET_COMMIT_SECS_10K: f64 = 3.0;
const TARGET_RSS_MIB_50K: f64 = 200.0;
/// The seed documents' pace of onboarding: about 60 minutes for 500 users.
const SEED_USERS_PER_MIN: f64 = 500.0 / 60.0;

const FIRST: [&str; 12] = [
    "Ava", "Liam", "Noah", "Emma", "Mia", "Lucas", "Zoé", "Mateo", "Aiko", "Omar", "Ines", "Jonas",
];
const LAST: [&str; 12] = [
    "Smith", "García", "Chen", "Müller", "Okafor", "Rossi", "Dubois", "Kowalski", "Singh", "Silva",
    "Nguyen", "Larsen",
];

#[derive(Debug, Serialize)]
pub struct Run {
    pub rows: usize,
    pub file_bytes: usize,
    /// Upload to staged: read the workbook, check every row, write the stage.
    pub stage_secs: f64,
    /// Commit request to the job's end: every row a user with its audit event.
    pub commit_secs: f64,
    pub users_created: i64,
    pub users_per_minute: f64,
    /// The server's highest RSS while this file was staged and committed (sampled every 20 ms).
    pub rss_max_mib: f64,
}

#[derive(Debug, Serialize)]
pub struct ImportReport {
    pub backend: String,
    pub machine: Machine,
    pub runs: Vec<Run>,
    pub rss_start_mib: f64,
    pub rss_hwm_mib: f64,
}

impl ImportReport {
    pub fn failure(&self) -> Option<String> {
        let mut bad = Vec::new();
        for r in &self.runs {
            if r.rows == 10_000 {
                if r.stage_secs >= TARGET_STAGE_SECS_10K {
                    bad.push(format!("10,000-row stage {:.2} s", r.stage_secs));
                }
                if r.commit_secs >= TARGET_COMMIT_SECS_10K {
                    bad.push(format!("10,000-row commit {:.2} s", r.commit_secs));
                }
            }
            if r.rows >= 50_000 && r.rss_max_mib >= TARGET_RSS_MIB_50K {
                bad.push(format!("50,000-row RSS {:.0} MiB", r.rss_max_mib));
            }
        }
        (!bad.is_empty()).then(|| format!("import over target: {}", bad.join(", ")))
    }
}

/// A filled-in template of `rows` users with unique e-mails, every tenth an Account Admin.
pub fn workbook(rows: usize, tag: &str) -> anyhow::Result<Vec<u8>> {
    let data = (0..rows).map(|i| {
        let (f, l) = (FIRST[i % FIRST.len()], LAST[(i / FIRST.len()) % LAST.len()]);
        vec![
            f.to_string(),
            l.to_string(),
            String::new(),
            format!("user.{i}@{tag}.example.com"),
            if i % 10 == 0 { "Account Admin" } else { "User" }.to_string(),
        ]
    });
    Ok(skybridge_sheet::write_xlsx(
        "Users",
        &skybridge_sheet::users::HEADERS,
        data,
    )?)
}

pub async fn run(backend: &str, server: &Server, sizes: &[usize]) -> anyhow::Result<ImportReport> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()?;
    let rss_start = server.rss()?;
    let mut runs = Vec::new();
    for (n, &rows) in sizes.iter().enumerate() {
        // A fresh account per file: each commit creates every row, none collides with an earlier run.
        let account = post(
            &http,
            server,
            "/api/v1/accounts",
            json!({
                "name": format!("Import Bench {n}"), "country": "CA", "province": "ON", "address": "1 Bench St",
                "city": "Ottawa", "postal_code": "K1A 0B1", "support_contacts": [{ "email": "ops@bench.example" }],
            }),
        )
        .await?;
        let account_id = account["id"].as_str().context("account id")?.to_string();
        let file = workbook(rows, &format!("run{n}"))?;
        crate::progress(format!("import: {rows} rows, {} kB", file.len() / 1024));

        let sampler = Sampler::start(server.pid, server.rss()?, Duration::from_millis(20));
        let t = Instant::now();
        let resp = http
            .post(server.url(&format!(
                "/api/v1/accounts/{account_id}/imports?file_name=bench.xlsx"
            )))
            .bearer_auth(&server.token)
            .body(file.clone())
            .send()
            .await?;
        let status = resp.status();
        let staged: Value = resp.json().await?;
        let stage_secs = t.elapsed().as_secs_f64();
        if status != StatusCode::CREATED {
            bail!("upload: {status} {staged}");
        }
        if staged["invalid"].as_i64() != Some(0) || staged["rows"].as_u64() != Some(rows as u64) {
            bail!("upload staged {staged}, expected {rows} valid rows");
        }
        let import_id = staged["id"].as_str().context("import id")?;

        let t = Instant::now();
        let job = post_status(
            &http,
            server,
            &format!("/api/v1/accounts/{account_id}/imports/{import_id}/commit"),
            StatusCode::ACCEPTED,
        )
        .await?;
        let job_id = job["id"].as_str().context("job id")?.to_string();
        let job = loop {
            let j: Value = http
                .get(server.url(&format!("/api/v1/jobs/{job_id}?wait=30")))
                .bearer_auth(&server.token)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            if matches!(
                j["state"].as_str(),
                Some("succeeded" | "failed" | "cancelled")
            ) {
                break j;
            }
        };
        let commit_secs = t.elapsed().as_secs_f64();
        let (rss_max, _) = sampler.finish().await;
        if job["state"] != "succeeded" || job["done"].as_u64() != Some(rows as u64) {
            bail!("commit job ended {job}");
        }
        let created = job["done"].as_i64().unwrap_or(0);
        runs.push(Run {
            rows,
            file_bytes: file.len(),
            stage_secs,
            commit_secs,
            users_created: created,
            users_per_minute: created as f64 / ((stage_secs + commit_secs) / 60.0),
            rss_max_mib: rss_max as f64 / (1024.0 * 1024.0),
        });
    }
    Ok(ImportReport {
        backend: backend.to_string(),
        machine: crate::report::machine(),
        runs,
        rss_start_mib: rss_start as f64 / (1024.0 * 1024.0),
        rss_hwm_mib: server.hwm()? as f64 / (1024.0 * 1024.0),
    })
}

async fn post(
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

async fn post_status(
    http: &reqwest::Client,
    server: &Server,
    path: &str,
    expected: StatusCode,
) -> anyhow::Result<Value> {
    let resp = http
        .post(server.url(path))
        .bearer_auth(&server.token)
        .send()
        .await?;
    let status = resp.status();
    let text = resp.text().await?;
    if status != expected {
        bail!("POST {path}: {status} {text}");
    }
    Ok(serde_json::from_str(&text)?)
}

pub fn table(r: &ImportReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "user import ({}; targets: 10,000 rows staged < {TARGET_STAGE_SECS_10K} s, committed < {TARGET_COMMIT_SECS_10K} s; \
         50,000 rows < {TARGET_RSS_MIB_50K} MB RSS)",
        r.backend
    );
    let _ = writeln!(
        out,
        "{:>7} {:>9} {:>9} {:>10} {:>9} {:>12} {:>9}",
        "rows", "file kB", "stage s", "commit s", "created", "users/min", "RSS MiB"
    );
    for run in &r.runs {
        let _ = writeln!(
            out,
            "{:>7} {:>9} {:>9.2} {:>10.2} {:>9} {:>12.0} {:>9.1}",
            run.rows,
            run.file_bytes / 1024,
            run.stage_secs,
            run.commit_secs,
            run.users_created,
            run.users_per_minute,
            run.rss_max_mib
        );
    }
    let _ = writeln!(
        out,
        "server RSS at start {:.1} MiB, peak (VmHWM) {:.1} MiB; the seed documents' pace: {:.1} users/min",
        r.rss_start_mib, r.rss_hwm_mib, SEED_USERS_PER_MIN
    );
    out
}
