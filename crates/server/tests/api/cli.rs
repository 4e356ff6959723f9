//! The `skybridge` binary itself: first start, the operator CLI, JSON logs, graceful shutdown, restart,
//! `migrate` — on SQLite and on PostgreSQL.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_skybridge");

struct Server {
    child: Child,
    url: String,
    token: Option<String>,
    setup_link: Option<String>,
    stderr: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn store_args(dir: &std::path::Path, pg: &Option<String>) -> Vec<String> {
    let mut args = vec!["--data-dir".to_string(), dir.display().to_string()];
    if let Some(url) = pg {
        args.extend(["--database-url".to_string(), url.clone()]);
    }
    args
}

/// Starts `skybridge serve` and reads stdout up to the "Listening on" line.
fn start(dir: &std::path::Path, pg: &Option<String>, extra: &[&str]) -> Server {
    let stderr = dir.join(format!("stderr-{}.log", uuid::Uuid::new_v4().simple()));
    let mut child = Command::new(BIN)
        .arg("serve")
        .args([
            "--listen",
            "127.0.0.1:0",
            "--admin-email",
            "ops@example.org",
        ])
        .args(store_args(dir, pg))
        .args(extra)
        .env_remove("SKYBRIDGE_CONFIG")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut token = None;
    let mut setup_link = None;
    let url = loop {
        let line = lines.next().expect("server printed its address").unwrap();
        if let Some(t) = line.strip_prefix("API token: ") {
            token = Some(t.to_string());
        }
        if let Some(l) = line.strip_prefix("Setup link: ") {
            setup_link = Some(l.to_string());
        }
        if let Some(u) = line.strip_prefix("Listening on ") {
            break u.to_string();
        }
    };
    Server {
        child,
        url,
        token,
        setup_link,
        stderr,
    }
}

fn admin(server: &Server, token: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .arg("admin")
        .args(["--url", &server.url, "--token", token])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn pg_url_with_fresh_schema() -> Option<String> {
    let url = skybridge_testkit::postgres_url()?;
    let schema = format!("cli_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    // As the harness does: pg_trgm in `public`, not in this test's schema.
    let _ = sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
        .execute(&pool)
        .await;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let sep = if url.contains('?') { '&' } else { '?' };
    Some(format!("{url}{sep}options[search_path]={schema}"))
}

/// The printed setup link: opened, a password chosen, and the console signed in to with it — on a thread of its
/// own, as the callers may be inside a runtime already.
fn first_sign_in_with_the_setup_link(server: &Server) {
    let link = server
        .setup_link
        .clone()
        .expect("first start prints the setup link");
    assert!(
        link.starts_with(&format!("{}/auth/welcome?token=", server.url)),
        "{link}"
    );
    let base = server.url.clone();
    skybridge_server::install_crypto_provider();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let b = crate::browser::Browser::new(&base);
            let form = b.get(&link).await;
            assert_eq!(form.status, 200, "{}", form.body);
            let password = "first sign-in 2026";
            let done = b
                .post(
                    "/auth/welcome",
                    &[
                        ("token", &form.hidden("token")),
                        ("password", password),
                        ("confirm", password),
                    ],
                )
                .await;
            assert!(done.status.is_success(), "{}", done.body);
            let login = b.get("/auth/login?return_to=/console").await;
            let signed_in = b.sign_in_from(&login, "ops@example.org", password).await;
            assert_eq!(signed_in.status, 303, "{}", signed_in.body);
            assert_eq!(signed_in.location.as_deref(), Some("/console"));
            assert_eq!(b.get("/console").await.status, 200);
        });
    })
    .join()
    .unwrap();
}

fn binary_end_to_end(pg: Option<String>) {
    let dir = std::env::temp_dir().join(format!("skybridge-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut server = start(&dir, &pg, &["--log-format", "json"]);
    let token = server.token.clone().expect("first start prints the token");
    assert!(token.starts_with("sbt_"));
    first_sign_in_with_the_setup_link(&server);

    let (ok, out, err) = admin(
        &server,
        &token,
        &[
            "accounts",
            "create",
            "--name",
            "Cli Co",
            "--country",
            "CA",
            "--province",
            "ON",
            "--address",
            "1 Rideau St",
            "--city",
            "Ottawa",
            "--postal-code",
            "K1N 8S7",
            "--contact-email",
            "help@cli.example",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.lines().next().unwrap().starts_with("NUMBER"), "{out}");
    assert!(out.contains("Cli Co"));

    let (ok, out, err) = admin(&server, &token, &["--json", "accounts", "list"]);
    assert!(ok, "{err}");
    let accounts: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(accounts[0]["name"], "Cli Co");
    let number = accounts[0]["number"].to_string();

    let (ok, _, err) = admin(
        &server,
        &token,
        &[
            "users",
            "create",
            "--account",
            &number,
            "--first-name",
            "Ada",
            "--last-name",
            "Byron",
            "--email",
            "ada@cli.example",
            "--role",
            "account_admin",
        ],
    );
    assert!(ok, "{err}");
    let (ok, out, _) = admin(
        &server,
        &token,
        &["--json", "users", "list", "--account", &number],
    );
    assert!(ok);
    let users: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(users[0]["email"], "ada@cli.example");
    assert_eq!(users[0]["role"], "account_admin");

    let (ok, out, _) = admin(
        &server,
        &token,
        &["--json", "tokens", "create", "--name", "script"],
    );
    assert!(ok);
    let created: Value = serde_json::from_str(&out).unwrap();
    let second = created["token"].as_str().unwrap().to_string();
    let (ok, out, _) = admin(&server, &second, &["tokens", "list"]);
    assert!(ok);
    assert_eq!(out.lines().count(), 3, "header and two tokens: {out}");

    // OIDC clients: the secret is printed once, the list does not show it, delete removes it.
    let (ok, out, err) = admin(
        &server,
        &token,
        &[
            "--json",
            "clients",
            "create",
            "--account",
            &number,
            "--name",
            "Helpdesk",
            "--redirect-uri",
            "https://helpdesk.example/cb",
        ],
    );
    assert!(ok, "{err}");
    let client: Value = serde_json::from_str(&out).unwrap();
    let client_id = client["client_id"].as_str().unwrap().to_string();
    assert!(
        client["client_secret"]
            .as_str()
            .unwrap()
            .starts_with("sbcs_")
    );
    let (ok, out, _) = admin(&server, &token, &["clients", "list", "--account", &number]);
    assert!(ok);
    assert!(
        out.contains(&client_id) && out.contains("Helpdesk") && !out.contains("sbcs_"),
        "{out}"
    );
    let (ok, _, err) = admin(
        &server,
        &token,
        &[
            "clients",
            "create",
            "--name",
            "Bad",
            "--redirect-uri",
            "http://app.example/cb",
        ],
    );
    assert!(!ok);
    assert!(
        err.contains("plain http is allowed only for localhost"),
        "{err}"
    );
    let (ok, _, err) = admin(
        &server,
        &token,
        &["clients", "delete", &client_id, "--account", &number],
    );
    assert!(ok, "{err}");
    let (ok, out, _) = admin(&server, &token, &["clients", "list", "--account", &number]);
    assert!(ok && !out.contains(&client_id), "{out}");

    // Errors are reported with the server's explanation and a failing exit code.
    let (ok, _, err) = admin(&server, "sbt_wrong", &["accounts", "list"]);
    assert!(!ok);
    assert!(err.contains("401"), "{err}");
    let (ok, _, err) = admin(
        &server,
        &token,
        &[
            "users",
            "create",
            "--account",
            &number,
            "--first-name",
            "X",
            "--last-name",
            "Y",
            "--email",
            "bad",
        ],
    );
    assert!(!ok);
    assert!(err.contains("Contains an invalid email"), "{err}");

    // SIGTERM: graceful shutdown with a zero exit.
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let logs = std::fs::read_to_string(&server.stderr).unwrap();
    let request_line = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v.to_string().contains("request_id"))
        .expect("JSON log lines carry the request id");
    assert!(request_line.get("timestamp").is_some());

    // Restart on the same store: no new first start, and the old token still works.
    let server = start(&dir, &pg, &[]);
    assert!(
        server.token.is_none() && server.setup_link.is_none(),
        "the token and the setup link are printed on first start only"
    );
    let (ok, _, err) = admin(&server, &token, &["accounts", "list"]);
    assert!(ok, "{err}");
    drop(server);

    let out = Command::new(BIN)
        .arg("migrate")
        .args(store_args(&dir, &pg))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("migrations applied"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn binary_on_sqlite() {
    binary_end_to_end(None);
}

#[tokio::test]
async fn binary_on_postgres() {
    let Some(url) = pg_url_with_fresh_schema().await else {
        return;
    };
    tokio::task::spawn_blocking(move || binary_end_to_end(Some(url)))
        .await
        .unwrap();
}

#[test]
fn bad_configuration_is_reported() {
    let out = Command::new(BIN)
        .args(["serve", "--config", "/nonexistent/skybridge.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
    let out = Command::new(BIN)
        .args(["serve", "--listen", "not-an-address"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// Runs `skybridge <args>` against `server` with `token` in `dir`: (exit code, stdout, stderr).
fn skybridge(
    server: &Server,
    token: &str,
    dir: &std::path::Path,
    args: &[&str],
) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .args(["--url", &server.url, "--token", token])
        .current_dir(dir)
        .env_remove("SKYBRIDGE_URL")
        .env_remove("SKYBRIDGE_TOKEN")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `skybridge import users` and `skybridge export users` against the real binary serving on `pg` or SQLite.
fn import_and_export_end_to_end(pg: Option<String>) {
    let dir = std::env::temp_dir().join(format!("skybridge-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let server = start(&dir, &pg, &[]);
    let token = server.token.clone().expect("first start prints the token");
    let (ok, out, err) = admin(
        &server,
        &token,
        &[
            "--json",
            "accounts",
            "create",
            "--name",
            "Import Cli Co",
            "--country",
            "CA",
            "--province",
            "ON",
            "--address",
            "1 Rideau St",
            "--city",
            "Ottawa",
            "--postal-code",
            "K1N 8S7",
            "--contact-email",
            "help@cli.example",
        ],
    );
    assert!(ok, "{err}");
    let account: Value = serde_json::from_str(&out).unwrap();
    let number = account["number"].to_string();
    let id = account["id"].as_str().unwrap().to_string();

    // Two valid rows and two with problems: the report lists each problem; the valid rows are created.
    std::fs::write(
        dir.join("people.csv"),
        "FIRST NAME,LAST NAME,NAME,EMAIL,ROLE\r\n\
         Ada,Byron,,ada@import.example,Account Admin\r\n\
         ,,,nobody@import.example,\r\n\
         Bob,Bad,,not-an-address,Boss\r\n\
         Cy,Clark,,cy@import.example,\r\n",
    )
    .unwrap();
    let (code, out, err) = skybridge(
        &server,
        &token,
        &dir,
        &["import", "users", "--account", &number, "people.csv"],
    );
    assert_eq!(code, 2, "rows were left: {out}\n{err}");
    assert!(
        out.starts_with("people.csv: 4 rows, 2 valid, 2 with problems.\n"),
        "{out}"
    );
    let report: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("LINE"))
        .take(4)
        .collect();
    assert_eq!(report.len(), 4, "{out}");
    assert!(report[0].starts_with("LINE  COLUMN  PROBLEM"), "{out}");
    assert!(
        report[1].starts_with("3     NAME    Fill in at least one of FIRST NAME"),
        "{out}"
    );
    assert!(report[2].starts_with("4     EMAIL   EMAIL "), "{out}");
    assert!(
        report[3].starts_with("4     ROLE    ROLE must be User or Account Admin"),
        "{out}"
    );
    assert!(
        out.contains("Created 2 users; 2 rows left with problems."),
        "{out}"
    );
    assert!(out.contains("stay staged as import "), "{out}");
    // The progress bar, on standard error (a line per change when it is not a terminal).
    assert!(
        err.contains(&format!("Importing [{}] 2/2 rows", "#".repeat(30))),
        "{err}"
    );
    let (ok, out, _) = admin(
        &server,
        &token,
        &["--json", "users", "list", "--account", &number],
    );
    assert!(ok);
    let users: Value = serde_json::from_str(&out).unwrap();
    let mut got: Vec<(String, String)> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["email"].as_str().unwrap().into(),
                u["role"].as_str().unwrap().into(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (
                "ada@import.example".to_string(),
                "account_admin".to_string()
            ),
            ("cy@import.example".to_string(), "user".to_string())
        ]
    );

    // A clean file: exit 0. --check of a file with problems: nothing created, exit 2.
    std::fs::write(
        dir.join("clean.csv"),
        "EMAIL,NAME,ROLE,LAST NAME,FIRST NAME\r\ndee@import.example,Dee Dee,,,\r\n",
    )
    .unwrap();
    let (code, out, err) = skybridge(
        &server,
        &token,
        &dir,
        &["import", "users", "--account", &id, "clean.csv"],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("Created 1 user; 0 rows left with problems."),
        "{out}"
    );
    std::fs::write(
        dir.join("check.csv"),
        "EMAIL,NAME,ROLE,LAST NAME,FIRST NAME\r\neve@import.example,Eve,,,\r\nada@import.example,Ada again,,,\r\n",
    )
    .unwrap();
    let (code, out, err) = skybridge(
        &server,
        &token,
        &dir,
        &["import", "users", "--check", "--account", &id, "check.csv"],
    );
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        out.contains("A user of this account already has this EMAIL"),
        "{out}"
    );
    assert!(out.contains("Checked only: nothing was created."), "{out}");
    // A refused file: exit 1 with the server's sentence.
    std::fs::write(dir.join("empty.csv"), "").unwrap();
    let (code, _, err) = skybridge(
        &server,
        &token,
        &dir,
        &["import", "users", "--account", &id, "empty.csv"],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("empty.csv was not imported: 422 Unprocessable Entity: The file is empty"),
        "{err}"
    );
    let (code, _, err) = skybridge(
        &server,
        &token,
        &dir,
        &["import", "users", "--account", &id, "missing.csv"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("cannot read missing.csv"), "{err}");
    let (ok, out, _) = admin(
        &server,
        &token,
        &["--json", "users", "list", "--account", &number],
    );
    assert!(ok);
    assert_eq!(
        serde_json::from_str::<Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // The export: the server's file name by default, or --output; CSV and .xlsx.
    let (code, _, err) = skybridge(
        &server,
        &token,
        &dir,
        &["export", "users", "--account", &number],
    );
    assert_eq!(code, 0, "{err}");
    let csv = std::fs::read_to_string(dir.join(format!("users-{id}.csv"))).unwrap();
    assert!(
        csv.starts_with("\u{feff}FIRST NAME,LAST NAME,NAME,EMAIL,ROLE,ID,REGISTERED,ACTIVE\r\n"),
        "{csv}"
    );
    assert!(
        csv.contains("Ada,Byron,Ada Byron,ada@import.example,Account Admin,"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 4, "{csv}");
    let (code, _, err) = skybridge(
        &server,
        &token,
        &dir,
        &[
            "export",
            "users",
            "--account",
            &id,
            "--format",
            "xlsx",
            "--output",
            "all.xlsx",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("Wrote all.xlsx"), "{err}");
    let xlsx = std::fs::read(dir.join("all.xlsx")).unwrap();
    let table = skybridge_sheet::read_table(&xlsx, &skybridge_sheet::Limits::default()).unwrap();
    assert_eq!(table.rows.len(), 3);
    let (code, _, err) = skybridge(
        &server,
        &token,
        &dir,
        &["export", "users", "--account", "999999999"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("404"), "{err}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn import_and_export_on_sqlite() {
    import_and_export_end_to_end(None);
}

#[tokio::test]
async fn import_and_export_on_postgres() {
    let Some(url) = pg_url_with_fresh_schema().await else {
        return;
    };
    tokio::task::spawn_blocking(move || import_and_export_end_to_end(Some(url)))
        .await
        .unwrap();
}
