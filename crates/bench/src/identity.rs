//! The identity suite: complete password sign-ins through the portal and the OIDC code flow, measured
//! against the raw argon2id rate of the same parameters on the same machine; refresh-token grants with
//! rotation; client-credentials grants. Optionally the same client-credentials load against another
//! OpenID provider for comparison.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};
use skybridge_identity::password::Hasher;
use skybridge_identity::pkce;
use tokio::sync::Mutex;

use crate::load::{self, Stats};
use crate::server::Server;

const PASSWORD: &str = "benchmark passphrase 1";
const REDIRECT: &str = "http://127.0.0.1:9/callback";
const VERIFIER: &str = "bench-code-verifier-bench-code-verifier-0123456789";

#[derive(Debug, Clone, Serialize)]
pub struct IdentityReport {
    pub backend: String,
    pub machine: crate::report::Machine,
    /// argon2id parameters the server calibrated: (m KiB, t, p).
    pub argon2_params: (u32, u32, u32),
    /// Raw argon2id verifications per second with these parameters, one per core at a time: the mean of
    /// a measurement just before and one just after the sign-in scenario (the machine's speed drifts).
    pub raw_hashes_per_sec: f64,
    pub raw_before: f64,
    pub raw_after: f64,
    pub signin: Stats,
    /// Sign-in flows per second over raw hashes per second (target ≥ 0.85).
    pub signin_ratio: f64,
    pub refresh: Stats,
    pub client_credentials: Stats,
    /// The same client-credentials load against the comparison provider, when one was given.
    pub comparison: Option<Stats>,
}

pub struct Options {
    pub requests: usize,
    pub concurrency: usize,
    pub signin_requests: usize,
    pub signin_concurrency: usize,
    /// `id_token_signed_response_alg` the sign-in client registers: RS256 or ES256.
    pub id_token_alg: String,
    pub limit: Duration,
    /// Base URL, client id and secret of a comparison provider serving client credentials.
    pub compare: Option<(String, String, String)>,
}

fn progress(msg: impl std::fmt::Display) {
    eprintln!("[bench] {msg}");
}

async fn api(
    http: &reqwest::Client,
    server: &Server,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut req = http
        .request(method.clone(), server.url(path))
        .bearer_auth(&server.token);
    if let Some(b) = &body {
        req = req.json(b);
    }
    let resp = req.send().await?;
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        bail!("{method} {path}: {status} {text}");
    }
    Ok(if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)?
    })
}

/// A cookie jar of one simulated browser.
#[derive(Default)]
pub(crate) struct Jar(HashMap<String, String>);

impl Jar {
    pub(crate) fn take(&mut self, resp: &reqwest::Response) {
        for v in resp.headers().get_all("set-cookie") {
            if let Ok(v) = v.to_str()
                && let Some((kv, _)) = v.split_once(';').or(Some((v, "")))
                && let Some((k, val)) = kv.split_once('=')
            {
                self.0.insert(k.to_string(), val.to_string());
            }
        }
    }
    pub(crate) fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

pub(crate) fn hidden(html: &str, name: &str) -> anyhow::Result<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).context("hidden input")? + marker.len();
    Ok(html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .replace("&amp;", "&"))
}

fn location(resp: &reqwest::Response) -> anyhow::Result<String> {
    if resp.status() != StatusCode::SEE_OTHER {
        bail!("expected 303, got {}", resp.status());
    }
    Ok(resp
        .headers()
        .get("location")
        .context("no Location")?
        .to_str()?
        .to_string())
}

/// One complete sign-in: authorize → login page → e-mail → password → authorize → code → tokens.
async fn sign_in(
    http: &reqwest::Client,
    base: &str,
    client_id: &str,
    email: &str,
) -> anyhow::Result<Value> {
    let mut jar = Jar::default();
    let challenge = pkce::challenge_of(VERIFIER);
    let q = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid email"),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ])?;
    let r = http
        .get(format!("{base}/oauth2/authorize?{q}"))
        .send()
        .await?;
    let login = location(&r)?;
    let r = http.get(format!("{base}{login}")).send().await?;
    jar.take(&r);
    let page = r.text().await?;
    let (csrf, return_to) = (hidden(&page, "csrf")?, hidden(&page, "return_to")?);
    let r = http
        .post(format!("{base}/auth/login"))
        .header("cookie", jar.header())
        .form(&[
            ("csrf", csrf.as_str()),
            ("return_to", &return_to),
            ("step", "identify"),
            ("email", email),
        ])
        .send()
        .await?;
    if r.status() != StatusCode::OK {
        bail!("identify: {}", r.status());
    }
    let r = http
        .post(format!("{base}/auth/login"))
        .header("cookie", jar.header())
        .form(&[
            ("csrf", csrf.as_str()),
            ("return_to", &return_to),
            ("step", "password"),
            ("email", email),
            ("account", ""),
            ("password", PASSWORD),
        ])
        .send()
        .await?;
    jar.take(&r);
    let back = location(&r)?;
    let r = http
        .get(format!("{base}{back}"))
        .header("cookie", jar.header())
        .send()
        .await?;
    let to_client = location(&r)?;
    let query = to_client.split_once('?').map(|(_, q)| q).unwrap_or("");
    let params: HashMap<String, String> = serde_urlencoded::from_str(query)?;
    let code = params.get("code").context("no code")?;
    let r = http
        .post(format!("{base}/oauth2/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", client_id),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await?;
    if r.status() != StatusCode::OK {
        bail!("token: {} {}", r.status(), r.text().await?);
    }
    Ok(r.json().await?)
}

/// The argon2id parameters in a PHC string.
fn phc_params(phc: &str) -> anyhow::Result<(u32, u32, u32)> {
    let part = phc.split('$').nth(3).context("PHC parameters")?;
    let mut m = 0;
    let mut t = 0;
    let mut p = 0;
    for kv in part.split(',') {
        match kv.split_once('=') {
            Some(("m", v)) => m = v.parse()?,
            Some(("t", v)) => t = v.parse()?,
            Some(("p", v)) => p = v.parse()?,
            _ => {}
        }
    }
    Ok((m, t, p))
}

/// Raw argon2id verifications per second: one per core at a time, for `secs` seconds.
async fn raw_rate(phc: &str, secs: f64) -> anyhow::Result<f64> {
    let (m, t, p) = phc_params(phc)?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let params = argon2::Params::new(m, t, p, None).map_err(|e| anyhow::anyhow!("{e}"))?;
    let hasher = Hasher::with_params(params, cores)?;
    let stored = Arc::new(phc.to_string());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..cores {
        let (h, stored) = (hasher.clone(), stored.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while started.elapsed().as_secs_f64() < secs {
                h.verify(PASSWORD, Some(&stored)).await?;
                n += 1;
            }
            Ok::<_, anyhow::Error>(n)
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

async fn client_credentials_load(
    name: &str,
    http: &reqwest::Client,
    token_url: String,
    id: String,
    secret: String,
    o: &Options,
) -> Stats {
    let http = http.clone();
    load::run(
        name,
        o.requests,
        (o.requests / 20).clamp(1, 500),
        o.concurrency,
        o.limit,
        move |_| {
            let req = http
                .post(&token_url)
                .basic_auth(&id, Some(&secret))
                .form(&[("grant_type", "client_credentials")]);
            async move {
                let r = req.send().await?;
                if r.status() != StatusCode::OK {
                    bail!("{} {}", r.status(), r.text().await?);
                }
                r.bytes().await?;
                Ok(())
            }
        },
    )
    .await
}

pub async fn run(
    backend: &str,
    server: &Server,
    store: &skybridge_store::Store,
    o: &Options,
) -> anyhow::Result<IdentityReport> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(o.concurrency * 2)
        .timeout(Duration::from_secs(60))
        .build()?;
    // An account, users with passwords, and the clients.
    let account = api(&http, server, reqwest::Method::POST, "/api/v1/accounts", Some(json!({
        "name": "Identity Bench", "country": "CA", "province": "ON", "address": "1 Bench St",
        "city": "Ottawa", "postal_code": "K1A 0B1", "support_contacts": [{ "email": "ops@bench.example" }],
    })))
    .await?;
    let account_id = account["id"].as_str().context("account id")?.to_string();
    let users = o.signin_concurrency.max(1) * 4;
    progress(format!("creating {users} users with passwords"));
    let mut emails = Vec::new();
    let mut first_user = String::new();
    for i in 0..users {
        let email = format!("signin{i}@bench.example");
        let u = api(
            &http,
            server,
            reqwest::Method::POST,
            &format!("/api/v1/accounts/{account_id}/users"),
            Some(json!({ "first_name": "Sign", "last_name": format!("In {i}"), "email": email })),
        )
        .await?;
        let uid = u["id"].as_str().context("user id")?.to_string();
        api(
            &http,
            server,
            reqwest::Method::PUT,
            &format!("/api/v1/accounts/{account_id}/users/{uid}/password"),
            Some(json!({ "password": PASSWORD })),
        )
        .await?;
        if i == 0 {
            first_user = uid;
        }
        emails.push(email);
    }
    let spa = api(
        &http,
        server,
        reqwest::Method::POST,
        &format!("/api/v1/accounts/{account_id}/oauth-clients"),
        Some(json!({
            "name": "Bench SPA", "type": "public", "redirect_uris": [REDIRECT],
            "id_token_signed_response_alg": o.id_token_alg,
        })),
    )
    .await?;
    let spa_id = spa["client_id"].as_str().context("client id")?.to_string();
    let svc = api(&http, server, reqwest::Method::POST, &format!("/api/v1/accounts/{account_id}/oauth-clients"),
        Some(json!({ "name": "Bench service", "type": "confidential", "grant_types": ["client_credentials"] }))).await?;
    let (svc_id, svc_secret) = (
        svc["client_id"].as_str().context("client id")?.to_string(),
        svc["client_secret"].as_str().context("secret")?.to_string(),
    );

    // Raw argon2id with the parameters the server settled on.
    let phc = {
        let scope = skybridge_domain::policy::AccountScope::for_system(account_id.parse()?);
        skybridge_store::users::password_hash(
            &mut store.handle().await?,
            &scope,
            first_user.parse()?,
        )
        .await?
        .context("no stored hash")?
    };
    let params = phc_params(&phc)?;
    progress(format!(
        "argon2id m={} KiB t={} p={}; measuring the raw rate",
        params.0, params.1, params.2
    ));
    let raw_before = raw_rate(&phc, 5.0).await?;
    progress(format!("raw argon2id: {raw_before:.1}/s"));

    progress(format!(
        "scenario: sign-in flows ({} ID tokens)",
        o.id_token_alg
    ));
    let signin = {
        let (http, base, spa_id, emails) = (
            http.clone(),
            server.base.clone(),
            spa_id.clone(),
            Arc::new(emails),
        );
        load::run(
            "sign-in flow (portal → code → tokens)",
            o.signin_requests,
            (o.signin_requests / 20).clamp(1, 20),
            o.signin_concurrency,
            o.limit,
            move |i| {
                let (http, base, spa_id, email) = (
                    http.clone(),
                    base.clone(),
                    spa_id.clone(),
                    emails[i % emails.len()].clone(),
                );
                async move { sign_in(&http, &base, &spa_id, &email).await.map(|_| ()) }
            },
        )
        .await
    };
    let raw_after = raw_rate(&phc, 5.0).await?;
    let raw = (raw_before + raw_after) / 2.0;
    progress(format!("raw argon2id after: {raw_after:.1}/s"));
    let signin_ratio = signin.throughput_rps / raw.max(1e-9);
    progress(format!(
        "sign-in: {:.1}/s, ratio {signin_ratio:.2}",
        signin.throughput_rps
    ));

    // Refresh chains: each holds its latest refresh token; a chain is used by one request at a time (two
    // at once would be a reuse and revoke it).
    progress("scenario: refresh grants");
    let chains = o.concurrency * 2;
    let mut holders = Vec::with_capacity(chains);
    for i in 0..chains {
        let t = sign_in(
            &http,
            &server.base,
            &spa_id,
            &format!("signin{}@bench.example", i % users),
        )
        .await?;
        holders.push(Mutex::new(
            t["refresh_token"]
                .as_str()
                .context("refresh token")?
                .to_string(),
        ));
    }
    let holders = Arc::new(holders);
    let refresh = {
        let (http, url, spa_id) = (http.clone(), server.url("/oauth2/token"), spa_id.clone());
        load::run(
            "refresh_token grant (rotated)",
            o.requests,
            (o.requests / 20).clamp(1, 500),
            o.concurrency,
            o.limit,
            move |i| {
                let (http, url, spa_id, holders) =
                    (http.clone(), url.clone(), spa_id.clone(), holders.clone());
                async move {
                    let mut slot = holders[i % holders.len()].lock().await;
                    let r = http
                        .post(&url)
                        .form(&[
                            ("grant_type", "refresh_token"),
                            ("refresh_token", slot.as_str()),
                            ("client_id", &spa_id),
                        ])
                        .send()
                        .await?;
                    if r.status() != StatusCode::OK {
                        bail!("{} {}", r.status(), r.text().await?);
                    }
                    let v: Value = r.json().await?;
                    *slot = v["refresh_token"]
                        .as_str()
                        .context("new refresh token")?
                        .to_string();
                    Ok(())
                }
            },
        )
        .await
    };
    progress(format!(
        "refresh: {:.0}/s p99 {:.1} ms",
        refresh.throughput_rps, refresh.p99_ms
    ));

    progress("scenario: client credentials");
    let client_credentials = client_credentials_load(
        "client_credentials grant",
        &http,
        server.url("/oauth2/token"),
        svc_id,
        svc_secret,
        o,
    )
    .await;
    progress(format!(
        "client credentials: {:.0}/s p99 {:.1} ms",
        client_credentials.throughput_rps, client_credentials.p99_ms
    ));

    let comparison = match &o.compare {
        Some((base, id, secret)) => {
            progress(format!("scenario: client credentials against {base}"));
            let doc: Value = http
                .get(format!("{base}/.well-known/openid-configuration"))
                .send()
                .await?
                .json()
                .await?;
            let token_url = doc["token_endpoint"]
                .as_str()
                .context("comparison token_endpoint")?
                .to_string();
            let s = client_credentials_load(
                "client_credentials grant (comparison)",
                &http,
                token_url,
                id.clone(),
                secret.clone(),
                o,
            )
            .await;
            progress(format!(
                "comparison: {:.0}/s p99 {:.1} ms",
                s.throughput_rps, s.p99_ms
            ));
            Some(s)
        }
        None => None,
    };
    Ok(IdentityReport {
        backend: backend.to_string(),
        machine: crate::report::machine(),
        argon2_params: params,
        raw_hashes_per_sec: raw,
        raw_before,
        raw_after,
        signin,
        signin_ratio,
        refresh,
        client_credentials,
        comparison,
    })
}

pub fn table(r: &IdentityReport) -> String {
    let mut out = format!(
        "identity suite on {} ({} CPUs, {}), argon2id m={} t={} p={}\n",
        r.backend,
        r.machine.cpus,
        r.machine.cpu_model,
        r.argon2_params.0,
        r.argon2_params.1,
        r.argon2_params.2
    );
    out.push_str(&format!(
        "raw argon2id verifications: {:.1}/s (mean of {:.1} before and {:.1} after the sign-ins)\n",
        r.raw_hashes_per_sec, r.raw_before, r.raw_after
    ));
    out.push_str(&format!(
        "{:<44} {:>9} {:>7} {:>9} {:>9} {:>9} {:>6}\n",
        "scenario", "req/s", "conc", "p50 ms", "p90 ms", "p99 ms", "errors"
    ));
    let mut rows = vec![&r.signin, &r.refresh, &r.client_credentials];
    if let Some(c) = &r.comparison {
        rows.push(c);
    }
    for s in rows {
        out.push_str(&format!(
            "{:<44} {:>9.1} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>6}\n",
            s.name, s.throughput_rps, s.concurrency, s.p50_ms, s.p90_ms, s.p99_ms, s.errors
        ));
    }
    let ok = |b: bool| if b { "met" } else { "MISSED" };
    out.push_str(&format!(
        "sign-in flows / raw hashes: {:.2} (target ≥ 0.85: {})\n",
        r.signin_ratio,
        ok(r.signin_ratio >= 0.85)
    ));
    out.push_str(&format!(
        "refresh grants: {:.0}/s (target ≥ 3000: {})\n",
        r.refresh.throughput_rps,
        ok(r.refresh.throughput_rps >= 3000.0)
    ));
    out.push_str(&format!(
        "client credentials: {:.0}/s (target ≥ 15000: {})\n",
        r.client_credentials.throughput_rps,
        ok(r.client_credentials.throughput_rps >= 15000.0)
    ));
    if let Some(c) = &r.comparison {
        out.push_str(&format!(
            "client credentials vs comparison provider: {:.2}x\n",
            r.client_credentials.throughput_rps / c.throughput_rps.max(1e-9)
        ));
    }
    out
}
