//! The console in a real browser: headless Chromium driven over WebDriver (chromedriver, through
//! fantoccini) against the real server. Each journey is what a person does — the portal's sign-in form,
//! the console's forms and links, the htmx filters, the typed-word dialogs, the welcome link from the
//! embedded-mode outbox — with explicit waits for what the next page must show, never sleeps.
//!
//! Chromium and chromedriver come from `SKYBRIDGE_TEST_CHROMIUM` / `SKYBRIDGE_TEST_CHROMEDRIVER`
//! (scripts/test.sh installs Debian's `chromium` and `chromium-driver` and sets them), else /usr/bin. When
//! they are missing the journeys are skipped with a message — except under CI, where that fails.
//!
//! Screenshots of the main pages are written to `target/console-screenshots/` (SQLite run only).

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use skybridge_testkit::reqwest::{self, Method, redirect};
use skybridge_testkit::{Backend, TestApp, backend_tests};

/// How long a page may take to show what a step waits for (debug builds, two shared cores, Chromium).
const WAIT: Duration = Duration::from_secs(30);
/// How long chromedriver may take to answer /status after it was started.
const DRIVER_START: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);

const CHROME_ARGS: [&str; 10] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1366,900",
];

// --- the browser ----------------------------------------------------------------------------------------

/// The Chromium and chromedriver to use, or `None` (outside CI only) when they are not installed.
fn browser_binaries() -> Option<(PathBuf, PathBuf)> {
    let pick = |var: &str, default: &str| -> (PathBuf, bool) {
        match std::env::var(var) {
            Ok(p) if !p.is_empty() => (PathBuf::from(p), true),
            _ => (PathBuf::from(default), false),
        }
    };
    let (chromium, chromium_set) = pick("SKYBRIDGE_TEST_CHROMIUM", "/usr/bin/chromium");
    let (driver, driver_set) = pick("SKYBRIDGE_TEST_CHROMEDRIVER", "/usr/bin/chromedriver");
    for (path, set, var) in [
        (&chromium, chromium_set, "SKYBRIDGE_TEST_CHROMIUM"),
        (&driver, driver_set, "SKYBRIDGE_TEST_CHROMEDRIVER"),
    ] {
        if !path.is_file() {
            // Named explicitly, or under CI: a missing browser is an error, never a silent skip.
            assert!(
                !set && std::env::var("CI").is_err(),
                "{} does not exist ({var}{}); scripts/test.sh installs Debian's chromium and chromium-driver",
                path.display(),
                if set {
                    " names it"
                } else {
                    " is not set, so the default was tried under CI"
                },
            );
            println!(
                "skipped: {} is missing (set {var}, or run scripts/test.sh, which installs chromium and \
                 chromium-driver)",
                path.display()
            );
            return None;
        }
    }
    Some((chromium, driver))
}

/// A chromedriver on a free local port, in a process group of its own with the Chromium it starts; the
/// whole group is killed when dropped, so a failed test leaves no browser behind.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start(binary: &Path) -> Driver {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").expect("a free port");
            l.local_addr().expect("bound").port()
        };
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{} could not be started: {e}", binary.display()));
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            let ready = match http
                .get(format!("{}/status", driver.url))
                .timeout(Duration::from_secs(2))
                .send()
                .await
            {
                Ok(r) => r
                    .json::<Value>()
                    .await
                    .is_ok_and(|v| v["value"]["ready"] == true),
                Err(_) => false,
            };
            if ready {
                return driver;
            }
            assert!(
                started.elapsed() < DRIVER_START,
                "chromedriver on port {port} did not become ready within {DRIVER_START:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// A new browser session (its own profile: no cookies shared with other sessions); downloads go to
    /// `downloads`.
    async fn session(&self, chromium: &Path, downloads: &Path) -> Client {
        // fantoccini's hyper-rustls asks for aws-lc-rs, the server uses ring: name the process-wide provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.to_string_lossy(),
                "args": CHROME_ARGS,
                "prefs": {
                    "download.default_directory": downloads.to_string_lossy(),
                    "download.prompt_for_download": false,
                    "download.directory_upgrade": true,
                },
            },
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        ClientBuilder::rustls()
            .expect("rustls connector")
            .capabilities(caps)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("no WebDriver session from {}: {e}", self.url))
    }
}

/// One browser session on the app, with the steps the journeys are made of.
struct Web {
    c: Client,
    base: String,
    /// Screenshots are taken on one backend only (the runs are alike, and parallel runs share the folder).
    shots: bool,
    /// Where the browser saves downloads (removed with the session).
    downloads: PathBuf,
}

fn css(s: &str) -> Locator<'_> {
    Locator::Css(s)
}

fn xpath(s: &str) -> Locator<'_> {
    Locator::XPath(s)
}

/// Waits until `check` gives a value, polling; fails with `what` after [`WAIT`].
async fn until<T, F>(what: &str, mut check: F) -> T
where
    F: AsyncFnMut() -> Option<T>,
{
    let started = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(started.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(POLL).await;
    }
}

fn screenshot_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/console-screenshots"
    ))
}

impl Web {
    async fn open(app: &TestApp, driver: &Driver, chromium: &Path) -> Web {
        let downloads = std::env::temp_dir().join(format!(
            "skybridge-downloads-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&downloads).expect("download folder");
        Web {
            c: driver.session(chromium, &downloads).await,
            base: app.base.clone(),
            shots: app.backend == Backend::Sqlite,
            downloads,
        }
    }

    async fn close(self) {
        let _ = self.c.close().await;
        let _ = std::fs::remove_dir_all(&self.downloads);
    }

    /// Waits for a finished download whose name ends with `suffix`; its contents.
    async fn downloaded(&self, suffix: &str) -> String {
        until(&format!("a downloaded *{suffix}"), async || {
            let entries = std::fs::read_dir(&self.downloads).ok()?;
            let path = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.to_string_lossy().ends_with(suffix))?;
            std::fs::read_to_string(path).ok()
        })
        .await
    }

    async fn goto(&self, path: &str) {
        self.c
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    }

    /// The page's path and query, e.g. `/console/accounts?status=active`.
    async fn here(&self) -> String {
        let url = self.c.current_url().await.expect("current URL");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Waits for the page's path (and query) to satisfy `ok`.
    async fn wait_for_path(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        until(&format!("the page {what}"), async || {
            let here = self.here().await;
            ok(&here).then_some(here)
        })
        .await
    }

    async fn source(&self) -> String {
        self.c.source().await.unwrap_or_default()
    }

    async fn find(&self, locator: Locator<'_>) -> Element {
        match self.c.wait().at_most(WAIT).for_element(locator).await {
            Ok(e) => e,
            Err(e) => {
                let here = self.here().await;
                let source = self.source().await;
                panic!("{locator:?} not found on {here} ({e}); the page:\n{source}");
            }
        }
    }

    async fn exists(&self, locator: Locator<'_>) -> bool {
        self.c.find(locator).await.is_ok()
    }

    /// Waits until the element's text contains `needle`; the text.
    async fn wait_text(&self, locator: Locator<'_>, needle: &str) -> String {
        self.find(locator).await;
        until(&format!("{locator:?} to contain {needle:?}"), async || {
            let text = self.c.find(locator).await.ok()?.text().await.ok()?;
            text.contains(needle).then_some(text)
        })
        .await
    }

    async fn text(&self, locator: Locator<'_>) -> String {
        self.find(locator).await.text().await.expect("element text")
    }

    async fn attr(&self, locator: Locator<'_>, name: &str) -> Option<String> {
        self.find(locator)
            .await
            .attr(name)
            .await
            .expect("attribute")
    }

    /// Types `value` into the input with this id, replacing what it held.
    async fn fill(&self, id: &str, value: &str) {
        let field = self.find(css(&format!("#{id}"))).await;
        field.clear().await.expect("field cleared");
        field
            .send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("typing into #{id}: {e}"));
    }

    async fn click(&self, locator: Locator<'_>) {
        // htmx may redraw the element's region between finding and clicking it (the Event History filter form
        // after a choice): the element found is then stale, and the one to click is its replacement.
        let started = Instant::now();
        loop {
            match self.find(locator).await.click().await {
                Ok(_) => return,
                Err(e) if e.to_string().contains("stale element") && started.elapsed() < WAIT => {
                    tokio::time::sleep(POLL).await;
                }
                Err(e) => panic!("clicking {locator:?}: {e}"),
            }
        }
    }

    /// Clicks the button in the page's main area that says `label`.
    async fn press(&self, label: &str) {
        self.click(xpath(&format!(
            "//main//button[normalize-space()='{label}']"
        )))
        .await;
    }

    /// Clicks the link in the page's main area or navigation that says `label`.
    async fn follow(&self, label: &str) {
        self.click(xpath(&format!("//a[normalize-space()='{label}']")))
            .await;
    }

    async fn heading(&self) -> String {
        self.text(css("main h1")).await
    }

    async fn shot(&self, name: &str) {
        if !self.shots {
            return;
        }
        let png = self.c.screenshot().await.expect("screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("screenshot written");
    }

    /// The browser's cookies as a `Cookie` header, for plain HTTP requests in the same session.
    async fn cookie_header(&self) -> String {
        self.c
            .get_all_cookies()
            .await
            .expect("cookies")
            .iter()
            .map(|c| format!("{}={}", c.name(), c.value()))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// GET `path` with the browser's cookies (no redirects followed): the status and body.
    async fn http_get(
        &self,
        path: &str,
    ) -> (reqwest::StatusCode, reqwest::header::HeaderMap, String) {
        let http = reqwest::Client::builder()
            .redirect(redirect::Policy::none())
            .build()
            .expect("HTTP client");
        let r = http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header().await)
            .send()
            .await
            .expect("request sent");
        let status = r.status();
        let headers = r.headers().clone();
        (status, headers, r.text().await.expect("body"))
    }

    /// The portal's two steps, e-mail then password; lands where `return_to` says (the console).
    async fn sign_in(&self, email: &str, password: &str) {
        self.goto("/auth/login?return_to=/console").await;
        self.fill("email", email).await;
        self.click(xpath("//button[normalize-space()='Next']"))
            .await;
        self.fill("password", password).await;
        self.click(xpath("//button[normalize-space()='Sign in']"))
            .await;
        self.wait_for_path("/console after signing in", |p| p == "/console")
            .await;
        self.find(css("nav.side")).await;
    }

    /// Signs out through the avatar menu in the header.
    async fn sign_out(&self) {
        self.click(css("details.avatar > summary")).await;
        self.click(xpath(
            "//details[contains(@class,'avatar')]//button[normalize-space()='Sign out']",
        ))
        .await;
        self.wait_for_path("/auth/login after signing out", |p| {
            p.starts_with("/auth/login")
        })
        .await;
        self.find(css("input#email")).await;
    }

    /// The names of the rows of the Users list.
    async fn user_rows(&self) -> Vec<String> {
        let mut out = Vec::new();
        for row in self
            .c
            .find_all(css("tr[data-testid='user-row']"))
            .await
            .expect("rows")
        {
            out.push(row.text().await.unwrap_or_default());
        }
        out
    }

    /// The nav's links' texts.
    async fn nav(&self) -> String {
        self.text(css("nav.side")).await
    }
}

/// Starts chromedriver and a browser session, or `None` when the browser is not installed (outside CI).
async fn browser(app: &TestApp) -> Option<(Driver, Web)> {
    let (chromium, chromedriver) = browser_binaries()?;
    let driver = Driver::start(&chromedriver).await;
    let web = Web::open(app, &driver, &chromium).await;
    Some((driver, web))
}

// --- seeding through the API ----------------------------------------------------------------------------

async fn set_password(app: &TestApp, account: &str, user: &str, password: &str) {
    let (status, body) = app
        .call(
            &app.token,
            Method::PUT,
            &format!("/api/v1/accounts/{account}/users/{user}/password"),
            Some(&json!({ "password": password })),
        )
        .await;
    assert_eq!(status, 204, "setting a password: {body}");
}

/// The first partner administrator's e-mail, after giving it `password`.
async fn partner_admin(app: &TestApp, password: &str) -> String {
    let (status, admin) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{}/users/{}", app.partner_id, app.admin_id),
        )
        .await;
    assert_eq!(status, 200, "{admin}");
    set_password(app, &app.partner_id, &app.admin_id, password).await;
    admin["email"].as_str().expect("admin e-mail").to_string()
}

/// A customer account with an Account Admin (`email`) who has `password`; the account's id.
async fn account_with_admin(app: &TestApp, name: &str, email: &str, password: &str) -> String {
    let account = app.create_account(name).await;
    let aid = account["id"].as_str().expect("account id").to_string();
    let (admin, _) = app.create_user(&aid, email, "account_admin").await;
    set_password(app, &aid, admin["id"].as_str().expect("user id"), password).await;
    aid
}

async fn users_of(app: &TestApp, account: &str) -> Vec<Value> {
    let (status, body) = app
        .get(&app.token, &format!("/api/v1/accounts/{account}/users"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().expect("items").clone()
}

fn emails(users: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = users
        .iter()
        .filter_map(|u| u["email"].as_str().map(str::to_string))
        .collect();
    out.sort();
    out
}

fn account_id_of(path: &str) -> String {
    path.trim_start_matches("/console/a/")
        .split(['/', '?'])
        .next()
        .unwrap_or_default()
        .to_string()
}

const PARTNER_PASSWORD: &str = "partner's long passphrase";
const ADMIN_PASSWORD: &str = "admin's long passphrase";

// --- a. a partner adds an account; its admin takes the welcome link and signs in ------------------------

async fn partner_adds_account_and_admin_signs_in(app: TestApp) {
    let Some((_driver, web)) = browser(&app).await else {
        return;
    };
    let partner_email = partner_admin(&app, PARTNER_PASSWORD).await;
    web.sign_in(&partner_email, PARTNER_PASSWORD).await;
    assert!(web.heading().await.starts_with("Welcome"));
    web.find(xpath("//h2[normalize-space()='Console tip']"))
        .await;
    web.shot("dashboard-partner").await;

    web.click(xpath("//nav//a[normalize-space()='Accounts']"))
        .await;
    web.wait_for_path("/console/accounts", |p| p.starts_with("/console/accounts"))
        .await;
    web.wait_text(css("main h1"), "Accounts").await;
    web.follow("Add Account").await;
    web.wait_for_path("/console/accounts/new", |p| p == "/console/accounts/new")
        .await;
    assert_eq!(web.heading().await, "Add Account");
    web.fill("f-name", "Browser Bakery").await;
    web.fill("f-country", "US").await;
    web.fill("f-province", "CA").await;
    web.fill("f-address", "1 Market Street").await;
    web.fill("f-city", "San Francisco").await;
    web.fill("f-postal_code", "94105").await;
    web.fill("f-support_contacts", "help@bakery.example").await;
    web.fill("f-admin_first_name", "Ada").await;
    web.fill("f-admin_last_name", "Baker").await;
    web.fill("f-admin_email", "ada@bakery.example").await;
    web.press("Save").await;

    let at = web
        .wait_for_path("the new account's page", |p| {
            p.starts_with("/console/a/") && p.contains("notice=account-created")
        })
        .await;
    let aid = account_id_of(&at);
    assert_eq!(web.heading().await, "Browser Bakery");
    web.wait_text(css("p.notice"), "Account created.").await;
    let number = web.text(css("[data-testid='account-number']")).await;
    assert!(
        number.len() == 9 && number.chars().all(|c| c.is_ascii_digit()),
        "the Account ID is 9 digits: {number:?}"
    );
    let (_, account) = app
        .get(&app.token, &format!("/api/v1/accounts/{aid}"))
        .await;
    assert_eq!(account["number"].to_string(), number);
    web.shot("account").await;

    // The account is listed.
    web.goto("/console/accounts").await;
    web.wait_text(css("#accounts"), "Browser Bakery").await;
    assert!(web.text(css("#accounts")).await.contains(&number));
    web.shot("accounts").await;

    // The welcome mail to the new admin, in the outbox, and its link.
    web.click(xpath("//nav//a[normalize-space()='Outbox']"))
        .await;
    web.wait_for_path("/console/outbox", |p| p == "/console/outbox")
        .await;
    web.click(xpath(
        "//main//tr[td[normalize-space()='ada@bakery.example']]//a",
    ))
    .await;
    web.wait_for_path("the mail", |p| p.starts_with("/console/outbox/"))
        .await;
    let body = web.text(css("[data-testid='mail-body']")).await;
    assert!(body.contains("Ada Baker"), "{body}");
    web.shot("outbox-mail").await;
    let link = web
        .attr(
            css("[data-testid='mail-body'] a[href*='/auth/welcome']"),
            "href",
        )
        .await
        .expect("the welcome link");
    assert!(link.starts_with(&app.base), "{link}");
    web.click(css("[data-testid='mail-body'] a[href*='/auth/welcome']"))
        .await;
    web.wait_for_path("the welcome page", |p| p.starts_with("/auth/welcome"))
        .await;
    assert_eq!(web.heading().await, "Confirm your account");
    // Too short first: the page says so and the link still works.
    web.fill("password", "short").await;
    web.fill("confirm", "short").await;
    // The browser's own minlength check would stop a short password; the server's rule is what this checks.
    web.c
        .execute(
            "document.getElementById('password').removeAttribute('minlength');\
             document.getElementById('confirm').removeAttribute('minlength');",
            vec![],
        )
        .await
        .expect("script runs");
    web.press("Complete").await;
    web.find(css("main p[role='alert']")).await;
    web.fill("password", ADMIN_PASSWORD).await;
    web.fill("confirm", ADMIN_PASSWORD).await;
    web.press("Complete").await;
    web.wait_text(css("main h1"), "Account confirmed").await;

    // The partner signs out; the new admin signs in and lands on its dashboard.
    web.goto("/console").await;
    web.sign_out().await;
    web.sign_in("ada@bakery.example", ADMIN_PASSWORD).await;
    assert_eq!(web.heading().await, "Welcome, Ada Baker");
    for label in ["View account", "View users", "Add a user"] {
        web.find(xpath(&format!(
            "//main//a[contains(@class,'card') and normalize-space()='{label}']"
        )))
        .await;
    }
    assert!(
        !web.exists(xpath("//h2[normalize-space()='Console tip']"))
            .await
    );
    assert!(
        !web.exists(css("nav.side a[href='/console/accounts']"))
            .await
    );
    web.shot("dashboard").await;
    web.close().await;
}

// --- b. an Account Admin manages users ------------------------------------------------------------------

/// Add User: fills the form and creates the user; back on the list.
async fn add_user(web: &Web, first: &str, last: &str, email: &str) {
    web.follow("Add User").await;
    web.wait_for_path("Add User", |p| p.ends_with("/users/new"))
        .await;
    assert_eq!(web.heading().await, "New User");
    web.fill("f-first_name", first).await;
    web.fill("f-last_name", last).await;
    web.fill("f-email", email).await;
    web.press("Create").await;
    web.wait_for_path("the users list after creating", |p| {
        p.contains("/users?notice=user-created")
    })
    .await;
    web.wait_text(css("p.notice"), "User added.").await;
}

/// Opens a user from the list and waits for the Edit User page.
async fn open_user(web: &Web, name: &str) {
    web.click(xpath(&format!(
        "//tr[@data-testid='user-row']//a[normalize-space()='{name}']"
    )))
    .await;
    web.wait_text(css("main h1"), name).await;
    web.find(css("input[name='active']")).await;
}

async fn admin_manages_users(app: TestApp) {
    let Some((_driver, web)) = browser(&app).await else {
        return;
    };
    let aid = account_with_admin(&app, "Users Co", "boss@users.example", ADMIN_PASSWORD).await;
    web.sign_in("boss@users.example", ADMIN_PASSWORD).await;
    web.click(xpath("//nav//a[normalize-space()='Users']"))
        .await;
    web.wait_for_path("the users list", |p| p.ends_with("/users"))
        .await;
    add_user(&web, "Grace", "Hopper", "grace@users.example").await;
    add_user(&web, "Alan", "Turing", "alan@users.example").await;
    let rows = web.user_rows().await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    for needle in ["Grace Hopper", "Alan Turing", "grace@users.example"] {
        assert!(
            rows.iter().any(|r| r.contains(needle)),
            "{needle} in {rows:?}"
        );
    }
    web.shot("users").await;

    // Access off: the user is listed as inactive.
    open_user(&web, "Grace Hopper").await;
    web.shot("user-edit").await;
    let active = web.find(css("input[name='active']")).await;
    assert!(active.is_selected().await.expect("checkbox state"));
    active.click().await.expect("unticked");
    web.press("Save").await;
    web.wait_for_path("the saved user", |p| p.contains("notice=user-saved"))
        .await;
    web.wait_text(css("p.notice"), "User saved.").await;
    assert!(
        !web.find(css("input[name='active']"))
            .await
            .is_selected()
            .await
            .expect("checkbox state")
    );
    // Inactive users are listed only under the Inactive filter, in the API as in the console.
    let (_, inactive) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{aid}/users?property=inactive"),
        )
        .await;
    let grace = inactive["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|u| u["email"] == "grace@users.example")
        .expect("grace");
    assert_eq!(grace["active"], false);

    web.click(xpath("//nav//a[normalize-space()='Users']"))
        .await;
    web.wait_for_path("the users list", |p| p.ends_with("/users"))
        .await;
    web.find(css("#f-property"))
        .await
        .select_by_value("inactive")
        .await
        .expect("Property=Inactive chosen");
    // htmx swaps the list in place and puts the filter in the address.
    web.wait_for_path("the Inactive filter in the address", |p| {
        p.contains("property=inactive")
    })
    .await;
    let rows = until("only the inactive user to be listed", async || {
        let rows = web.user_rows().await;
        (rows.len() == 1).then_some(rows)
    })
    .await;
    assert!(
        rows[0].contains("Grace Hopper") && rows[0].contains("Inactive"),
        "{rows:?}"
    );

    // Access on again.
    open_user(&web, "Grace Hopper").await;
    let active = web.find(css("input[name='active']")).await;
    assert!(!active.is_selected().await.expect("checkbox state"));
    active.click().await.expect("ticked");
    web.press("Save").await;
    web.wait_text(css("p.notice"), "User saved.").await;
    assert!(
        web.find(css("input[name='active']"))
            .await
            .is_selected()
            .await
            .expect("checkbox state")
    );
    web.goto(&format!("/console/a/{aid}/users?property=inactive"))
        .await;
    web.wait_text(css("#users"), "No users found.").await;

    // Delete the other: a wrong word first.
    web.goto(&format!("/console/a/{aid}/users")).await;
    open_user(&web, "Alan Turing").await;
    web.click(xpath("//main//a[normalize-space()='Delete']"))
        .await;
    web.wait_for_path("the delete dialog", |p| p.ends_with("/delete"))
        .await;
    web.wait_text(css("#confirm-heading"), "Delete User").await;
    web.fill("f-confirm", "remove").await;
    web.press("Delete").await;
    let error = web.text(css("#e-confirm")).await;
    assert!(!error.is_empty());
    assert_eq!(
        web.attr(css("#f-confirm"), "aria-invalid").await.as_deref(),
        Some("true")
    );
    assert!(
        emails(&users_of(&app, &aid).await).contains(&"alan@users.example".to_string()),
        "a wrong word deletes nothing"
    );
    web.fill("f-confirm", "delete").await;
    web.press("Delete").await;
    web.wait_for_path("the users list after deleting", |p| {
        p.contains("notice=user-deleted")
    })
    .await;
    web.wait_text(css("p.notice"), "User deleted.").await;
    let rows = web.user_rows().await;
    assert!(rows.iter().all(|r| !r.contains("Alan Turing")), "{rows:?}");
    assert_eq!(
        emails(&users_of(&app, &aid).await),
        ["boss@users.example", "grace@users.example"]
    );
    web.close().await;
}

// --- c. a restricted Account Manager sees only its accounts -----------------------------------------------

async fn manager_sees_only_assigned_accounts(app: TestApp) {
    let Some((_driver, web)) = browser(&app).await else {
        return;
    };
    let a = app.create_account("Assigned Alpha").await;
    let b = app.create_account("Hidden Beta").await;
    let (aid, bid) = (
        a["id"].as_str().expect("id").to_string(),
        b["id"].as_str().expect("id").to_string(),
    );
    let (mgr, _) = app
        .create_user(&app.partner_id, "mgr@partner.example", "partner")
        .await;
    let mid = mgr["id"].as_str().expect("id").to_string();
    for (path, body) in [
        (
            "/api/v1/account-managers/convert",
            json!({ "user_ids": [mid] }),
        ),
        (
            "/api/v1/account-managers/assign",
            json!({ "user_ids": [mid], "account_ids": [aid] }),
        ),
    ] {
        let (status, answer) = app.post(&app.token, path, &body).await;
        assert_eq!(status, 200, "{path}: {answer}");
    }
    set_password(&app, &app.partner_id, &mid, "manager's long passphrase").await;

    web.sign_in("mgr@partner.example", "manager's long passphrase")
        .await;
    let nav = web.nav().await;
    assert!(nav.contains("Accounts"), "{nav}");
    assert!(!nav.contains("Account Managers"), "{nav}");
    assert!(!web.exists(css("a[href='/console/managers']")).await);

    web.goto("/console/accounts").await;
    web.wait_text(css("#accounts"), "Assigned Alpha").await;
    assert!(!web.text(css("#accounts")).await.contains("Hidden Beta"));
    assert_eq!(
        web.c
            .find_all(css("#accounts tbody tr"))
            .await
            .expect("rows")
            .len(),
        1
    );
    assert!(!web.nav().await.contains("Account Managers"));

    // The unassigned account is not found, by its id or by its number.
    for raw in [bid.clone(), b["number"].to_string()] {
        web.goto(&format!("/console/a/{raw}")).await;
        web.wait_text(css("main h1"), "Not found").await;
        assert!(
            web.text(css("main [role='alert']"))
                .await
                .contains("does not exist")
        );
        assert!(!web.source().await.contains("Hidden Beta"));
        let (status, _, _) = web.http_get(&format!("/console/a/{raw}")).await;
        assert_eq!(status, 404);
    }
    // The assigned one opens.
    web.goto(&format!("/console/a/{aid}")).await;
    web.wait_text(css("main h1"), "Assigned Alpha").await;
    assert!(!web.nav().await.contains("Account Managers"));
    web.close().await;
}

// --- d. bad input is shown at its field ------------------------------------------------------------------

async fn add_user_with_bad_email(app: TestApp) {
    let Some((_driver, web)) = browser(&app).await else {
        return;
    };
    let aid = account_with_admin(&app, "Typo Co", "boss@typo.example", ADMIN_PASSWORD).await;
    web.sign_in("boss@typo.example", ADMIN_PASSWORD).await;
    web.goto(&format!("/console/a/{aid}/users/new")).await;
    web.fill("f-first_name", "Typo").await;
    web.fill("f-last_name", "Tester").await;
    web.fill("f-email", "typo.tester-at-example").await;
    web.press("Create").await;
    let error = web.text(css("#e-email")).await;
    assert!(!error.is_empty());
    assert_eq!(
        web.attr(css("#f-email"), "aria-invalid").await.as_deref(),
        Some("true")
    );
    assert_eq!(
        web.attr(css("#f-email"), "aria-describedby")
            .await
            .as_deref(),
        Some("e-email")
    );
    // The message sits next to the Email field, in its own field block.
    web.find(xpath(
        "//div[contains(@class,'field')][.//input[@id='f-email']]/p[@id='e-email']",
    ))
    .await;
    // The other fields are fine and keep what was typed.
    assert_eq!(
        web.attr(css("#f-first_name"), "aria-invalid")
            .await
            .as_deref(),
        Some("false")
    );
    assert_eq!(
        web.find(css("#f-first_name"))
            .await
            .prop("value")
            .await
            .expect("value")
            .as_deref(),
        Some("Typo")
    );
    assert!(web.here().await.ends_with("/users/new"));
    assert_eq!(emails(&users_of(&app, &aid).await), ["boss@typo.example"]);
    web.close().await;
}

// --- e. a partner creates a custom role, assigns it to an account and gives it to a user ----------------

async fn partner_creates_and_assigns_a_role(app: TestApp) {
    let Some((_driver, web)) = browser(&app).await else {
        return;
    };
    let account = app.create_account("Roles Co").await;
    let aid = account["id"].as_str().expect("id").to_string();
    let (pat, _) = app.create_user(&aid, "pat@roles.example", "user").await;
    let pat_id = pat["id"].as_str().expect("id").to_string();
    let partner_email = partner_admin(&app, PARTNER_PASSWORD).await;
    web.sign_in(&partner_email, PARTNER_PASSWORD).await;

    web.click(xpath("//nav//a[normalize-space()='Roles and Permissions']"))
        .await;
    web.wait_for_path("the roles list", |p| p == "/console/roles")
        .await;
    web.follow("New Role").await;
    web.wait_for_path("New Role", |p| p.starts_with("/console/roles/new"))
        .await;
    web.fill("f-name", "Help Desk").await;
    web.fill("f-description", "Looks after users, cannot delete them")
        .await;
    web.click(css("input[name='base'][value='account_admin']"))
        .await;
    web.press("Change base").await;
    web.find(css("input[name='matrix_base'][value='account_admin']"))
        .await;
    // The name typed before the base changed is kept.
    assert_eq!(
        web.find(css("#f-name"))
            .await
            .prop("value")
            .await
            .expect("value")
            .as_deref(),
        Some("Help Desk")
    );
    // Untick one permission the base grants: the role may not delete users.
    let users_delete = web
        .c
        .find(css(
            "input[name='permission'][value='users.delete']:checked",
        ))
        .await
        .expect("a ticked users.delete box");
    let dropped = "users.delete".to_string();
    users_delete.click().await.expect("unticked");
    web.press("Save").await;
    let at = web
        .wait_for_path("the new role", |p| p.contains("notice=role-created"))
        .await;
    let role_id = at
        .trim_start_matches("/console/roles/")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string();
    web.wait_text(css("p.notice"), "Role created.").await;
    assert_eq!(web.heading().await, "Help Desk");
    web.wait_text(css("[data-testid='base']"), "Account Admin")
        .await;
    let (status, role) = app
        .get(&app.token, &format!("/api/v1/roles/{role_id}"))
        .await;
    assert_eq!(status, 200, "{role}");
    let permissions: Vec<&str> = role["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        !permissions.contains(&dropped.as_str()),
        "{dropped} was unticked: {permissions:?}"
    );
    // The edit page shows the cleared box cleared.
    assert!(
        web.c
            .find(css(
                "input[name='permission'][value='users.delete']:not(:checked)"
            ))
            .await
            .is_ok(),
        "users.delete shown unticked on the role's page"
    );
    web.shot("role").await;

    // Assign it to the account.
    web.click(css("nav.tabs a[href$='tab=accounts']")).await;
    web.wait_for_path("the role's accounts", |p| p.contains("tab=accounts"))
        .await;
    web.click(css(
        "tr[data-testid='other-row'] input[aria-label='Select Roles Co']",
    ))
    .await;
    web.press("Assign").await;
    web.wait_text(css("p.notice"), "Role assigned").await;
    web.wait_text(css("tr[data-testid='assigned-row']"), "Roles Co")
        .await;

    // Give it to Pat.
    web.goto(&format!("/console/a/{aid}/users/{pat_id}")).await;
    web.wait_text(css("main h1"), "Test pat").await;
    web.find(css("#f-role"))
        .await
        .select_by_label("Help Desk")
        .await
        .expect("the role is offered");
    web.press("Save").await;
    web.wait_text(css("p.notice"), "User saved.").await;
    let (_, pat) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{aid}/users/{pat_id}"),
        )
        .await;
    assert_eq!(pat["role"], role_id.as_str(), "{pat}");
    web.goto(&format!("/console/a/{aid}/users")).await;
    web.wait_text(css("#users"), "Help Desk").await;
    web.close().await;
}

// --- f. Event History: filter by action, export the selected rows ----------------------------------------

async fn event_history_filter_and_export(app: TestApp) {
    let Some((_driver, web)) = browser(&app).await else {
        return;
    };
    let aid = account_with_admin(&app, "Audit Co", "boss@audit.example", ADMIN_PASSWORD).await;
    app.create_user(&aid, "one@audit.example", "user").await;
    app.create_user(&aid, "two@audit.example", "user").await;
    web.sign_in("boss@audit.example", ADMIN_PASSWORD).await;
    web.click(xpath("//nav//a[normalize-space()='Event History']"))
        .await;
    web.wait_for_path("Event History", |p| p.ends_with("/events"))
        .await;
    web.find(css("tr[data-testid='event-row']")).await;

    web.click(xpath("//a[normalize-space()='+ Add Filter']"))
        .await;
    web.wait_for_path("the filter panel", |p| p.contains("filter=1"))
        .await;
    web.click(xpath(
        "//select[@id='f-action']/option[starts-with(normalize-space(),'Create (')]",
    ))
    .await;
    // The filter form is redrawn (htmx) with the choice kept; then applied.
    until("the Create choice to stay selected", async || {
        let v = web
            .c
            .find(css("#f-action"))
            .await
            .ok()?
            .prop("value")
            .await
            .ok()??;
        (v == "Create").then_some(())
    })
    .await;
    web.click(xpath(
        "//form[@id='filter-form']//button[normalize-space()='Apply']",
    ))
    .await;
    web.wait_for_path("the filtered list", |p| p.contains("action=Create"))
        .await;
    web.wait_text(css("[data-testid='filter-chip']"), "Create")
        .await;
    let rows = web
        .c
        .find_all(css("tr[data-testid='event-row']"))
        .await
        .expect("rows");
    assert!(
        rows.len() >= 3,
        "the account and its users were created: {} rows",
        rows.len()
    );
    for row in &rows {
        let text = row.text().await.expect("row text");
        assert!(text.contains("Create"), "{text}");
    }
    web.shot("events").await;

    // Tick two rows: Export (2), a CSV of exactly those.
    let mut ids = Vec::new();
    for row in rows.iter().take(2) {
        ids.push(row.attr("data-id").await.expect("id").expect("data-id"));
        row.find(css("input[name='event']"))
            .await
            .expect("row checkbox")
            .click()
            .await
            .expect("ticked");
    }
    let export = web.find(css("button[data-count-of='event']")).await;
    assert_eq!(export.text().await.expect("label"), "Export (2)");
    assert!(export.is_enabled().await.expect("state"));
    export.click().await.expect("Export pressed");
    let csv = web.downloaded(".csv").await;
    let mut lines = csv.lines();
    let header = lines.next().expect("a header");
    assert!(header.to_lowercase().contains("action"), "{header}");
    let body: Vec<&str> = lines.filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(body.len(), 2, "{csv}");
    for id in &ids {
        assert!(
            body.iter().any(|l| l.contains(id.as_str())),
            "{id} in {csv}"
        );
    }
    assert!(body.iter().all(|l| l.contains("Create")), "{csv}");
    web.close().await;
}

// --- g. Import Users: a CSV with two bad rows, both fixed inline, Upload, the users on the Users page ------

/// Types `value` over what the preview cell `id` holds and leaves it with Tab, as a person fixing a cell
/// does; the cell's `change` is what saves it (htmx). Select-all rather than WebDriver's clear, which would
/// fire a change (and a save) of its own.
async fn retype_cell(web: &Web, id: &str, value: &str) {
    const CONTROL: char = '\u{E009}';
    const RELEASE: char = '\u{E000}';
    const TAB: char = '\u{E004}';
    let field = web.find(css(&format!("#{id}"))).await;
    field.click().await.expect("cell focused");
    field
        .send_keys(&format!("{CONTROL}a{RELEASE}{value}{TAB}"))
        .await
        .unwrap_or_else(|e| panic!("typing into #{id}: {e}"));
}

/// The job once it has ended, however long that takes: the API answers a waiting read as soon as the job
/// ends, or after 30 s with the job still running, and then it is asked again.
async fn job_end(app: &TestApp, id: &str) -> Value {
    loop {
        let (status, job) = app
            .get(&app.token, &format!("/api/v1/jobs/{id}?wait=30"))
            .await;
        assert_eq!(status, 200, "{job}");
        if !["queued", "running"].contains(&job["state"].as_str().unwrap_or_default()) {
            return job;
        }
    }
}

async fn import_users_fix_two_rows_and_upload(app: TestApp) {
    let Some((_driver, web)) = browser(&app).await else {
        return;
    };
    let aid = account_with_admin(&app, "Import Co", "boss@importco.example", ADMIN_PASSWORD).await;
    // The sheet a person filled in: row 3's address has no @, row 5 repeats row 2's.
    let folder = std::env::temp_dir().join(format!(
        "skybridge-upload-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&folder).expect("upload folder");
    let sheet = folder.join("new-staff.csv");
    std::fs::write(
        &sheet,
        "FIRST NAME,LAST NAME,NAME,EMAIL,ROLE\r\n\
         Grace,Hopper,,grace@importco.example,User\r\n\
         Alan,Turing,,alan-at-importco.example,User\r\n\
         Katherine,Johnson,,katherine@importco.example,Account Admin\r\n\
         Edsger,Dijkstra,,GRACE@importco.example,User\r\n",
    )
    .expect("sheet written");

    web.sign_in("boss@importco.example", ADMIN_PASSWORD).await;
    web.click(xpath("//nav//a[normalize-space()='Users']"))
        .await;
    web.wait_for_path("Users", |p| p.ends_with("/users")).await;
    web.click(css("details.more > summary")).await;
    web.shot("users-more-menu").await;
    web.follow("Import Users").await;
    web.wait_for_path("Import Users", |p| p.ends_with("/users/import"))
        .await;
    assert_eq!(web.heading().await, "Import Users");
    let steps = web.text(css("[data-testid='import-steps']")).await;
    for step in [
        "Download the spreadsheet template (*.xlsx)",
        "Fill the spreadsheet in according the template",
        "Upload the spreadsheet below",
    ] {
        assert!(steps.contains(step), "{step} in {steps}");
    }
    web.find(xpath(
        "//p[normalize-space()='You will be able to review or edit your upload in the next step.']",
    ))
    .await;
    web.shot("import-panel").await;
    web.find(css("#f-file"))
        .await
        .send_keys(&sheet.to_string_lossy())
        .await
        .expect("file chosen");
    web.press("Upload").await;
    let at = web
        .wait_for_path("the preview", |p| p.contains("/imports/"))
        .await;
    web.wait_text(
        css("[data-testid='import-banner']"),
        "2 of 4 rows have errors.",
    )
    .await;
    web.wait_text(css("[data-testid='import-file']"), "new-staff.csv")
        .await;
    // Each problem at its cell, for a screen reader too.
    assert_eq!(
        web.attr(css("#c-3-email"), "aria-invalid").await.as_deref(),
        Some("true")
    );
    assert_eq!(
        web.attr(css("#c-3-email"), "aria-describedby")
            .await
            .as_deref(),
        Some("m-3-email")
    );
    assert!(
        web.text(css("#m-5-email"))
            .await
            .contains("already in row 2")
    );
    assert_eq!(
        web.attr(css("#c-2-email"), "aria-invalid").await.as_deref(),
        Some("false")
    );
    // With JavaScript the rows save on change: their Save buttons are hidden.
    assert!(
        !web.find(css("#f-3 button"))
            .await
            .is_displayed()
            .await
            .expect("displayed?")
    );
    web.shot("import-preview").await;

    // Fix both rows inline; each saves when the cell is left, and the banner follows.
    retype_cell(&web, "c-3-email", "alan@importco.example").await;
    web.find(css("#row-3[data-valid='true']")).await;
    web.wait_text(
        css("[data-testid='import-banner']"),
        "1 of 4 rows have errors.",
    )
    .await;
    retype_cell(&web, "c-5-email", "edsger@importco.example").await;
    web.find(css("#row-5[data-valid='true']")).await;
    web.wait_text(css("[data-testid='import-banner']"), "No errors found.")
        .await;
    web.wait_text(
        css("[data-testid='import-banner']"),
        "Make any necessary changes below and select \"Upload\" when ready.",
    )
    .await;
    // Nothing was created yet, and the page never left the preview.
    assert_eq!(web.here().await, at);
    assert_eq!(
        emails(&users_of(&app, &aid).await),
        ["boss@importco.example"]
    );
    web.shot("import-preview-clean").await;

    web.press("Upload").await;
    let here = web
        .wait_for_path("the Users page with the job", |p| {
            p.contains("/users?notice=import-started&job=")
        })
        .await;
    web.wait_text(css("p.notice"), "Upload started").await;
    // The commit runs as a job, as long as the machine makes it take: follow it through the API to its end
    // rather than give the page a fixed time, then check what the page shows of it.
    let job = here
        .split("job=")
        .nth(1)
        .and_then(|j| j.split('&').next())
        .expect("the job in the URL")
        .to_string();
    let done = job_end(&app, &job).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["summary"], "Import users: 4 of 4 rows", "{done}");
    web.wait_text(
        css("[data-testid='job-summary']"),
        "Import users: 4 of 4 rows",
    )
    .await;
    // The list reloads itself when the job ends.
    until("the imported users in the list", async || {
        let rows = web.user_rows().await.join("\n");
        [
            "Grace Hopper",
            "Alan Turing",
            "Katherine Johnson",
            "Edsger Dijkstra",
        ]
        .iter()
        .all(|name| rows.contains(name))
        .then_some(())
    })
    .await;
    assert_eq!(
        emails(&users_of(&app, &aid).await),
        [
            "alan@importco.example",
            "boss@importco.example",
            "edsger@importco.example",
            "grace@importco.example",
            "katherine@importco.example",
        ]
    );
    web.shot("import-done").await;
    let _ = std::fs::remove_dir_all(&folder);
    web.close().await;
}

backend_tests!(
    partner_adds_account_and_admin_signs_in,
    admin_manages_users,
    manager_sees_only_assigned_accounts,
    add_user_with_bad_email,
    partner_creates_and_assigns_a_role,
    event_history_filter_and_export,
    import_users_fix_two_rows_and_upload,
);
