//! The console suite: server-side render time of the console's pages for a signed-in partner
//! administrator, on an account seeded with many users (`--accounts 1 --users-per-account 100000`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::StatusCode;
use serde::Serialize;
use serde_json::json;

use crate::data::SEARCH_TERMS;
use crate::identity::{Jar, hidden};
use crate::load::{self, Stats};
use crate::server::Server;

const PASSWORD: &str = "benchmark passphrase 1";
/// The target for a page rendered server-side.
pub const TARGET_P99_MS: f64 = 50.0;

pub struct Options {
    pub requests: usize,
    pub concurrency: usize,
    pub limit: Duration,
}

#[derive(Debug, Serialize)]
pub struct ConsoleReport {
    pub backend: String,
    pub users_in_account: u64,
    pub scenarios: Vec<Stats>,
}

impl ConsoleReport {
    /// The pages that missed the target or failed.
    pub fn failure(&self) -> Option<String> {
        let bad: Vec<String> = self
            .scenarios
            .iter()
            .filter(|s| s.errors > 0 || s.p99_ms >= TARGET_P99_MS)
            .map(|s| format!("{} (p99 {:.1} ms, {} errors)", s.name, s.p99_ms, s.errors))
            .collect();
        (!bad.is_empty()).then(|| format!("console pages over target: {}", bad.join(", ")))
    }
}

/// Signs the partner administrator in through the portal and returns the session's cookie header.
async fn sign_in(http: &reqwest::Client, base: &str, email: &str) -> anyhow::Result<String> {
    let mut jar = Jar::default();
    let r = http
        .get(format!("{base}/auth/login?return_to=/console"))
        .send()
        .await?;
    jar.take(&r);
    let page = r.text().await?;
    let csrf = hidden(&page, "csrf")?;
    for (step, extra) in [("identify", None), ("password", Some(PASSWORD))] {
        let mut form = vec![
            ("csrf", csrf.as_str()),
            ("return_to", "/console"),
            ("step", step),
            ("email", email),
        ];
        if let Some(p) = extra {
            form.push(("account", ""));
            form.push(("password", p));
        }
        let r = http
            .post(format!("{base}/auth/login"))
            .header("cookie", jar.header())
            .form(&form)
            .send()
            .await?;
        jar.take(&r);
        let expected = if step == "identify" {
            StatusCode::OK
        } else {
            StatusCode::SEE_OTHER
        };
        if r.status() != expected {
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            let why: String = body
                .split("role=\"alert\"")
                .nth(1)
                .unwrap_or(&body)
                .chars()
                .take(400)
                .collect();
            bail!("sign-in step {step}: HTTP {status} {why}");
        }
    }
    Ok(jar.header())
}

pub async fn run(
    backend: &str,
    server: &Server,
    http: &reqwest::Client,
    big: &str,
    users_in_account: u64,
    options: &Options,
) -> anyhow::Result<ConsoleReport> {
    let base = server.base.clone();
    let me: serde_json::Value = http
        .get(server.url("/api/v1/me"))
        .bearer_auth(&server.token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let (account, user, email) = (
        me["account_id"].as_str().context("me.account_id")?,
        me["user_id"].as_str().context("me.user_id")?,
        me["email"].as_str().context("me.email")?,
    );
    http.put(server.url(&format!("/api/v1/accounts/{account}/users/{user}/password")))
        .bearer_auth(&server.token)
        .json(&json!({ "password": PASSWORD }))
        .send()
        .await?
        .error_for_status()?;
    let cookie = Arc::new(sign_in(http, &base, email).await?);

    // The second page of the user list, for a deep-page scenario.
    let first = http
        .get(format!("{base}/console/a/{big}/users"))
        .header("cookie", cookie.as_str())
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let next = first
        .split("class=\"pager\"><a href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(|s| s.replace("&amp;", "&"))
        .context("the user list has no next page; seed more users")?;

    let mut pages: Vec<(String, Vec<String>)> = vec![
        ("dashboard".into(), vec!["/console".into()]),
        ("accounts list".into(), vec!["/console/accounts".into()]),
        ("account page".into(), vec![format!("/console/a/{big}")]),
        (
            "users list, first page".into(),
            vec![format!("/console/a/{big}/users")],
        ),
        ("users list, next page".into(), vec![next]),
        (
            "users search ?q=".into(),
            SEARCH_TERMS
                .iter()
                .map(|t| format!("/console/a/{big}/users?q={t}"))
                .collect(),
        ),
        (
            "users search, one match".into(),
            // The seeded e-mails end in the user's index: `12345@` is one user's.
            ["12345@", "54321@", "77777@", "31337@", "99999@"]
                .iter()
                .map(|t| format!("/console/a/{big}/users?q={t}"))
                .collect(),
        ),
        (
            "users search, no match".into(),
            ["zzzz", "qxjv", "xylo", "nobody%20here", "wxyz"]
                .iter()
                .map(|t| format!("/console/a/{big}/users?q={t}"))
                .collect(),
        ),
        (
            "users ?property=admins".into(),
            vec![format!("/console/a/{big}/users?property=admins")],
        ),
        (
            "users ?property=inactive (no match)".into(),
            vec![format!("/console/a/{big}/users?property=inactive")],
        ),
    ];
    let events = http
        .get(format!("{base}/console/a/{big}/events"))
        .header("cookie", cookie.as_str())
        .send()
        .await?;
    if events.status() == StatusCode::OK {
        pages.push((
            "event history".into(),
            vec![format!("/console/a/{big}/events")],
        ));
    }

    let mut scenarios = Vec::new();
    for (name, paths) in pages {
        eprintln!("[bench] console scenario: {name}");
        let paths = Arc::new(paths);
        let (http, base, cookie) = (http.clone(), base.clone(), cookie.clone());
        scenarios.push(
            load::run(
                &name,
                options.requests,
                (options.requests / 20).clamp(1, 50),
                options.concurrency,
                options.limit,
                move |i| {
                    let path = paths[i % paths.len()].clone();
                    let req = http
                        .get(format!("{base}{path}"))
                        .header("cookie", cookie.as_str());
                    async move {
                        let r = req.send().await?;
                        let status = r.status();
                        let body = r.bytes().await?;
                        if status != StatusCode::OK {
                            bail!("{path}: HTTP {status}");
                        }
                        if body.len() < 500 {
                            bail!("{path}: a page of only {} bytes", body.len());
                        }
                        Ok(())
                    }
                },
            )
            .await,
        );
    }
    Ok(ConsoleReport {
        backend: backend.to_string(),
        users_in_account,
        scenarios,
    })
}

pub fn table(r: &ConsoleReport) -> String {
    let mut out = format!(
        "console pages ({}; {} users in the account; target p99 < {TARGET_P99_MS} ms)\n",
        r.backend, r.users_in_account
    );
    out.push_str(&format!(
        "{:<38} {:>8} {:>7} {:>9} {:>9} {:>9} {:>9}\n",
        "page", "requests", "errors", "req/s", "p50 ms", "p99 ms", "max ms"
    ));
    for s in &r.scenarios {
        out.push_str(&format!(
            "{:<38} {:>8} {:>7} {:>9.0} {:>9.1} {:>9.1} {:>9.1}\n",
            s.name, s.requests, s.errors, s.throughput_rps, s.p50_ms, s.p99_ms, s.max_ms
        ));
    }
    out
}
