//! Mail over real SMTP: aiosmtpd (PyPI) on loopback receives the welcome mail; the test follows its link,
//! sets the password and signs in. And a mail server that never answers ends in a "Failed to send" event.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use skybridge_server::clock::{Clock, ManualClock, SystemClock};
use skybridge_testkit::reqwest::redirect;
use skybridge_testkit::{Backend, TestApp, smtpd_python};

struct Smtpd {
    child: Child,
    port: u16,
    maildir: std::path::PathBuf,
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_smtpd(python: &str) -> Smtpd {
    let port = free_port();
    let maildir = std::env::temp_dir().join(format!(
        "skybridge-maildir-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let child = Command::new(python)
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(&maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("aiosmtpd starts");
    // Readiness probe: the server answers on its port (bounded).
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "aiosmtpd did not start");
        std::thread::yield_now();
    }
    Smtpd {
        child,
        port,
        maildir,
    }
}

/// The messages aiosmtpd stored, decoded from quoted-printable enough to find links in.
fn received(maildir: &std::path::Path) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(maildir.join("new")) else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .map(|m| {
            m.replace("=\r\n", "")
                .replace("=\n", "")
                .replace("=3D", "=")
        })
        .collect()
}

async fn welcome_over_smtp(backend: Backend) {
    let Some(python) = smtpd_python() else { return };
    if backend == Backend::Postgres && skybridge_testkit::postgres_url().is_none() {
        return;
    }
    let smtpd = start_smtpd(&python);
    let port = smtpd.port;
    let app = TestApp::spawn_with(backend, Arc::new(SystemClock), |c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        c.mail_from = "Skybridge <noreply@skybridge.example>".into();
    })
    .await;
    let a = app.create_account("Smtp Co").await;
    let aid = a["id"].as_str().unwrap().to_string();
    app.create_user(&aid, "mailbox@smtp.example", "user").await;
    assert_eq!(app.deliver_mail().await, 1);
    let (_, mail) = app
        .get(&app.token, &format!("/api/v1/accounts/{aid}/mail"))
        .await;
    assert_eq!(mail[0]["status"], "sent", "{mail}");

    let messages = received(&smtpd.maildir);
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert!(m.contains("To: mailbox@smtp.example"), "{m}");
    assert!(m.contains("From: Skybridge <noreply@skybridge.example>"));
    assert!(m.contains("Subject: Finish building your account"));
    let prefix = format!("{}/auth/welcome?token=", app.config.public_url());
    let start = m.find(&prefix).expect("welcome link in the mail");
    let link: String = m[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<')
        .collect();
    let link = link.replace(&app.config.public_url(), &app.base);
    let token = link.split("token=").nth(1).unwrap().to_string();

    let client = skybridge_testkit::reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    assert_eq!(client.get(&link).send().await.unwrap().status(), 200);
    let r = client
        .post(app.url("/auth/welcome"))
        .form(&[
            ("token", token.as_str()),
            ("password", "delivered by smtp"),
            ("confirm", "delivered by smtp"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // And sign in with it through the portal.
    let r = client.get(app.url("/auth/login")).send().await.unwrap();
    let csrf_cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("sb_csrf="))
        .unwrap();
    let csrf = csrf_cookie.split(';').next().unwrap()["sb_csrf=".len()..].to_string();
    let r = client
        .post(app.url("/auth/login"))
        .header("cookie", format!("sb_csrf={csrf}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("step", "password"),
            ("email", "mailbox@smtp.example"),
            ("account", ""),
            ("password", "delivered by smtp"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn welcome_over_smtp_sqlite() {
    welcome_over_smtp(Backend::Sqlite).await;
}

#[tokio::test]
async fn welcome_over_smtp_postgres() {
    welcome_over_smtp(Backend::Postgres).await;
}

/// Delivery to a port where nothing listens fails; after the retries are spent the mail is marked failed
/// and the account's event history says "Failed to send …". The clock is moved by hand past each back-off.
#[tokio::test]
async fn undeliverable_mail_is_reported() {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000_000));
    let port = free_port();
    let app = TestApp::spawn_with(Backend::Sqlite, clock.clone() as Arc<dyn Clock>, |c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
    })
    .await;
    let a = app.create_account("Bounce Co").await;
    let aid = a["id"].as_str().unwrap().to_string();
    app.create_user(&aid, "never@bounce.example", "user").await;
    let mut rounds = 0;
    loop {
        let tried = app.deliver_mail().await;
        let (_, mail) = app
            .get(&app.token, &format!("/api/v1/accounts/{aid}/mail"))
            .await;
        if mail[0]["status"] == "failed" {
            assert_eq!(mail[0]["attempts"], 10);
            assert!(mail[0]["last_error"].as_str().unwrap().len() > 3);
            break;
        }
        assert_eq!(mail[0]["status"], "pending");
        assert!(tried <= 1);
        rounds += 1;
        assert!(rounds < 30, "mail never given up");
        clock.advance(5 * 3600 * 1_000_000);
    }
    let (_, events) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{aid}/events?tag=mail"),
        )
        .await;
    let detail = events["items"][0]["core_details"]["error"]
        .as_str()
        .unwrap();
    assert!(
        detail.starts_with("Failed to send welcome mail to never@bounce.example"),
        "{detail}"
    );
    assert_eq!(events["items"][0]["actor_name"], "System");
}
