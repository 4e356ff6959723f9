//! An external relying party: openid-client (npm; the OpenID Foundation certified library) drives the real
//! server through tests/oidc-conformance/conformance.mjs — discovery, authorization code with PKCE through the
//! sign-in pages, ID token validation, userinfo, introspection, refresh rotation and reuse detection,
//! revocation and RP-initiated logout — once as a public client and twice as confidential ones.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use skybridge_testkit::reqwest::{Method, StatusCode};
use skybridge_testkit::{TestApp, backend_tests, json};
use tokio::process::Command;

const EMAIL: &str = "relying.party@conformance.example";
const PASSWORD: &str = "openid-client's long passphrase";
const REDIRECT_URI: &str = "https://rp.conformance.example/callback";
const POST_LOGOUT_REDIRECT_URI: &str = "https://rp.conformance.example/signed-out";
/// One run of the script takes about a second; this bounds a hung one.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);

fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

fn conformance_dir() -> PathBuf {
    repo_root().join("tests/oidc-conformance")
}

fn output_text(out: &Output) -> String {
    format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn run(cmd: &mut Command, timeout: Duration, what: &str) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{what} could not be started ({e}); scripts/test.sh installs Node.js and npm")
        });
    tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {timeout:?}"))
        .unwrap_or_else(|e| panic!("{what} failed to run: {e}"))
}

/// Makes sure openid-client is installed. Under CI it must already be (scripts/test.sh runs `npm ci`);
/// elsewhere it is installed here, into a private directory first and then moved into place, so that the
/// two backends' tests running at once cannot trip over each other's half-done install.
async fn ensure_node_modules() {
    let dir = conformance_dir();
    if dir.join("node_modules/openid-client/package.json").exists() {
        return;
    }
    assert!(
        std::env::var("CI").is_err(),
        "CI is set but {} is missing: run `npm ci --prefix tests/oidc-conformance` (scripts/test.sh does)",
        dir.join("node_modules").display()
    );
    let staging = dir.join(format!(".install-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&staging).unwrap();
    for f in ["package.json", "package-lock.json"] {
        std::fs::copy(dir.join(f), staging.join(f)).unwrap();
    }
    let out = run(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&staging),
        INSTALL_TIMEOUT,
        "npm ci",
    )
    .await;
    let renamed = out.status.success()
        && std::fs::rename(staging.join("node_modules"), dir.join("node_modules")).is_ok();
    let _ = std::fs::remove_dir_all(&staging);
    assert!(
        renamed || dir.join("node_modules/openid-client/package.json").exists(),
        "installing openid-client with `npm ci` in {} failed\n{}",
        dir.display(),
        output_text(&out)
    );
}

/// Registers an OAuth client in `account`; returns (client_id, client_secret).
async fn register_client(
    app: &TestApp,
    account: &str,
    name: &str,
    kind: &str,
    id_token_alg: &str,
) -> (String, Option<String>) {
    let (status, body) = app
        .post(
            &app.token,
            &format!("/api/v1/accounts/{account}/oauth-clients"),
            &json!({
                "name": name,
                "type": kind,
                "redirect_uris": [REDIRECT_URI],
                "post_logout_redirect_uris": [POST_LOGOUT_REDIRECT_URI],
                "grant_types": ["authorization_code", "refresh_token"],
                "id_token_signed_response_alg": id_token_alg,
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["client_id"].as_str().unwrap().to_string();
    let secret = body["client_secret"].as_str().map(str::to_string);
    assert_eq!(secret.is_some(), kind == "confidential", "{body}");
    (id, secret)
}

/// One run of conformance.mjs: its JSON summary, or why it failed with everything it printed.
async fn conformance(
    app: &TestApp,
    client_id: &str,
    secret: Option<&str>,
    alg: &str,
    auth: &str,
) -> Result<Value, String> {
    let mut cmd = Command::new("node");
    cmd.arg("tests/oidc-conformance/conformance.mjs")
        .current_dir(repo_root())
        .env("SKYBRIDGE_URL", &app.base)
        .env("CLIENT_ID", client_id)
        .env("REDIRECT_URI", REDIRECT_URI)
        .env("POST_LOGOUT_REDIRECT_URI", POST_LOGOUT_REDIRECT_URI)
        .env("USER_EMAIL", EMAIL)
        .env("USER_PASSWORD", PASSWORD)
        .env("ID_TOKEN_ALG", alg)
        .env("CLIENT_AUTH", auth)
        .env_remove("CLIENT_SECRET")
        .env_remove("NODE_OPTIONS");
    if let Some(s) = secret {
        cmd.env("CLIENT_SECRET", s);
    }
    let kind = if secret.is_some() {
        "confidential"
    } else {
        "public"
    };
    let what = format!("the {kind} client ({auth}, {alg} ID tokens)");
    let out = run(
        &mut cmd,
        RUN_TIMEOUT,
        "node tests/oidc-conformance/conformance.mjs",
    )
    .await;
    if !out.status.success() {
        return Err(format!(
            "openid-client conformance failed for {what}: {}\n{}",
            out.status,
            output_text(&out)
        ));
    }
    let summary: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{what}: no JSON summary ({e})\n{}", output_text(&out)))?;
    if summary["ok"] != true {
        return Err(format!(
            "{what}: the summary is not ok\n{}",
            output_text(&out)
        ));
    }
    println!("{what}: {summary:#}");
    Ok(summary)
}

async fn openid_client_conformance(app: TestApp) {
    ensure_node_modules().await;
    let account = app.create_account("Relying Party Co").await;
    let aid = account["id"].as_str().unwrap().to_string();
    let (user, _) = app.create_user(&aid, EMAIL, "user").await;
    let uid = user["id"].as_str().unwrap();
    let (status, body) = app
        .call(
            &app.token,
            Method::PUT,
            &format!("/api/v1/accounts/{aid}/users/{uid}/password"),
            Some(&json!({ "password": PASSWORD })),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let (public, _) = register_client(&app, &aid, "Single-page app", "public", "RS256").await;
    let (basic, basic_secret) =
        register_client(&app, &aid, "Web app (ES256)", "confidential", "ES256").await;
    let (post, post_secret) =
        register_client(&app, &aid, "Web app (RS256)", "confidential", "RS256").await;

    let runs = [
        (public.as_str(), None, "RS256", "none"),
        (
            basic.as_str(),
            basic_secret.as_deref(),
            "ES256",
            "client_secret_basic",
        ),
        (
            post.as_str(),
            post_secret.as_deref(),
            "RS256",
            "client_secret_post",
        ),
    ];
    // Every client runs even when one fails, so that one test run reports all that openid-client refused.
    let mut failures = Vec::new();
    for (client_id, secret, alg, auth) in runs {
        match conformance(&app, client_id, secret, alg, auth).await {
            Ok(summary) => {
                let flow = &summary["steps"][1]["detail"];
                assert_eq!(flow["claims"]["sub"], uid, "{summary}");
                assert_eq!(flow["claims"]["account_id"], aid.as_str(), "{summary}");
                assert_eq!(flow["id_token_alg"], alg, "{summary}");
            }
            Err(why) => failures.push(why),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

backend_tests!(openid_client_conformance);
