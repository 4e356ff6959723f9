use skybridge_testkit::reqwest::Method;
use skybridge_testkit::{TestApp, backend_tests};

async fn health_ready_metrics_openapi(app: TestApp) {
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-request-id"));
    let _ = app.get(&app.token, "/api/v1/me").await;
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("skybridge_http_requests_total{status=\"2xx\"}"),
        "{text}"
    );
    let doc: serde_json::Value = app
        .http
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/v1/accounts",
        "/api/v1/accounts/{account}/users",
        "/api/v1/roles",
        "/api/v1/accounts/{account}/events/export.csv",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from OpenAPI"
        );
    }
}

async fn authentication_is_required(app: TestApp) {
    for (token, why) in [
        ("", "missing"),
        ("sbt_not-a-real-token", "invalid"),
        ("garbage", "malformed"),
    ] {
        let mut req = app.http.get(app.url("/api/v1/me"));
        if !token.is_empty() {
            req = req.bearer_auth(token);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401, "{why}");
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    let (status, me) = app.get(&app.token, "/api/v1/me").await;
    assert_eq!(status, 200);
    assert_eq!(me["base_role"], "partner");
    assert_eq!(me["account_kind"], "partner");
}

async fn unknown_routes_are_problem_json(app: TestApp) {
    let (status, body) = app.get(&app.token, "/api/v1/nothing-here").await;
    assert_eq!(status, 404);
    assert_eq!(body["type"], "urn:skybridge:problem:not-found");
}

async fn personal_tokens_can_be_listed_and_revoked(app: TestApp) {
    let (status, created) = app
        .post(
            &app.token,
            "/api/v1/me/tokens",
            &skybridge_testkit::json!({ "name": "ci", "expires_in_days": 30 }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["token"].as_str().unwrap().to_string();
    assert!(created["expires_at"].is_string());
    let (status, _) = app.get(&secret, "/api/v1/me").await;
    assert_eq!(status, 200);
    let (_, list) = app.get(&app.token, "/api/v1/me/tokens").await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("token").is_none()),
        "secrets are never listed"
    );
    let id = created["id"].as_str().unwrap();
    let (status, _) = app
        .delete(&app.token, &format!("/api/v1/me/tokens/{id}"))
        .await;
    assert_eq!(status, 204);
    let (status, _) = app.get(&secret, "/api/v1/me").await;
    assert_eq!(status, 401);
    let (status, body) = app
        .post(
            &app.token,
            "/api/v1/me/tokens",
            &skybridge_testkit::json!({ "name": "x", "expires_in_days": 0 }),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["field"], "expires_in_days");
}

async fn failed_authentication_is_throttled(app: TestApp) {
    for _ in 0..skybridge_server::app::AUTH_FAILURES_PER_MINUTE {
        let (status, _) = app.get("sbt_guess", "/api/v1/me").await;
        assert_eq!(status, 401);
    }
    let r = app
        .send(
            "sbt_guess",
            skybridge_testkit::reqwest::Method::GET,
            "/api/v1/me",
            None,
        )
        .await;
    assert_eq!(r.status(), 429);
    let retry: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    let (status, body) = app.get("sbt_guess", "/api/v1/me").await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["type"], "urn:skybridge:problem:rate-limited");
    // Only failures are throttled: a valid token from the same address (someone else behind the same NAT)
    // still works, while the bad ones keep getting 429.
    for _ in 0..3 {
        let (status, body) = app.get(&app.token, "/api/v1/me").await;
        assert_eq!(status, 200, "{body}");
        let (status, _) = app.get("sbt_guess", "/api/v1/me").await;
        assert_eq!(status, 429);
    }
}

/// Browsers ask every site for `/favicon.ico`; the pages link the SVG (the sign-in pages inline it, as their
/// Content-Security-Policy allows images from `data:` only).
async fn the_site_icon_is_served_and_linked(app: TestApp) {
    let r = app.http.get(app.url("/favicon.ico")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/x-icon");
    let ico = r.bytes().await.unwrap();
    assert_eq!(&ico[..4], &[0, 0, 1, 0], "an ICO header");
    let r = app.http.get(app.url("/favicon.svg")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    assert!(r.text().await.unwrap().starts_with("<svg"));

    let b = crate::browser::Browser::new(&app.base);
    let login = b.get("/auth/login").await;
    assert_eq!(login.status, 200);
    assert!(
        login.body.contains(
            "<link rel=\"icon\" type=\"image/svg+xml\" href=\"data:image/svg+xml;base64,"
        ),
        "{}",
        login.body
    );
    let b = crate::console::partner_console(&app).await;
    let page = b.get("/console").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("<link rel=\"icon\" href=\"/favicon.svg\"")
    );
    assert!(
        page.body
            .contains("<link rel=\"icon\" href=\"/favicon.ico\"")
    );
}

backend_tests!(
    the_site_icon_is_served_and_linked,
    failed_authentication_is_throttled,
    health_ready_metrics_openapi,
    authentication_is_required,
    unknown_routes_are_problem_json,
    personal_tokens_can_be_listed_and_revoked
);

/// What the forwarder does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Up,
    /// Accepts and closes at once, as a proxy in front of a stopped database does.
    Hangs,
    /// Refuses connections, as a host whose database stopped does.
    Refuses,
}

/// A TCP forwarder between the server and PostgreSQL that the test can cut: once not up it closes the
/// connections it carries, then accepts-and-closes or refuses new ones.
struct Forwarder {
    addr: std::net::SocketAddr,
    link: tokio::sync::watch::Sender<Link>,
}

impl Forwarder {
    async fn start(upstream: String) -> Forwarder {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (link, mut watch) = tokio::sync::watch::channel(Link::Up);
        tokio::spawn(async move {
            let mut listener = Some(listener);
            loop {
                let Some(l) = &listener else {
                    // Refusing: no listener until the link is back.
                    if watch.wait_for(|l| *l != Link::Refuses).await.is_err() {
                        return;
                    }
                    listener = Some(tokio::net::TcpListener::bind(addr).await.unwrap());
                    continue;
                };
                tokio::select! {
                    accepted = l.accept() => {
                        let Ok((mut inbound, _)) = accepted else { return };
                        if *watch.borrow() != Link::Up {
                            continue;
                        }
                        let mut down = watch.clone();
                        let upstream = upstream.clone();
                        tokio::spawn(async move {
                            let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                                return;
                            };
                            tokio::select! {
                                _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                                _ = down.wait_for(|l| *l != Link::Up) => {}
                            }
                        });
                    }
                    changed = watch.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        if *watch.borrow() == Link::Refuses {
                            listener = None;
                        }
                    }
                }
            }
        });
        Forwarder { addr, link }
    }

    fn set(&self, link: Link) {
        self.link.send_replace(link);
    }
}

/// PostgreSQL unreachable: requests fail fast with 503 and Retry-After (not a 500 after the pool's wait),
/// `/readyz` says so within a second, and once the database is back the server serves again by itself with
/// every acknowledged write kept.
#[tokio::test]
async fn a_database_outage_answers_503_fast_and_recovers() {
    let Some(upstream) = skybridge_testkit::postgres_addr() else {
        return;
    };
    let fwd = Forwarder::start(upstream).await;
    let app = TestApp::postgres_via(fwd.addr).await.unwrap();
    let before = app.create_account("Before Outage").await;
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (aid, scim) = app.scim_account("Scim Outage").await;

    for link in [Link::Hangs, Link::Refuses] {
        fwd.set(link);
        outage_answers(&app, &aid, &scim, link).await;
    }

    // Back: the next requests succeed, on fresh connections, without a restart.
    fwd.set(Link::Up);
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let after = app.create_account("After Outage").await;
    let (status, list) = app.get(&app.token, "/api/v1/accounts?limit=200").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Before Outage"), "{names:?}");
    assert!(names.contains(&"After Outage"), "{names:?}");
    assert!(!names.contains(&"During Outage"), "{names:?}");
    assert_ne!(before["id"], after["id"]);
    assert_eq!(scim.get("/Users").await.status, 200);
}

/// What the server answers while the database is unreachable: fast 503s with Retry-After, in each protocol's
/// format, `/readyz` within a second, and writes refused rather than half done.
async fn outage_answers(
    app: &TestApp,
    aid: &str,
    scim: &skybridge_testkit::ScimClient,
    link: Link,
) {
    use std::time::{Duration, Instant};
    let started = Instant::now();
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    let took = started.elapsed();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    assert!(
        took < Duration::from_millis(1500),
        "{link:?}: /readyz took {took:?}"
    );

    for (method, path) in [
        (Method::GET, "/api/v1/accounts".to_string()),
        (Method::GET, format!("/api/v1/accounts/{aid}/users")),
    ] {
        let started = Instant::now();
        let r = app.send(&app.token, method, &path, None).await;
        let took = started.elapsed();
        assert_eq!(r.status(), 503, "{link:?} {path}");
        assert_eq!(r.headers()["retry-after"], "5", "{link:?} {path}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["type"], "urn:skybridge:problem:unavailable", "{body}");
        assert!(
            took < Duration::from_secs(3),
            "{link:?}: {path} took {took:?}"
        );
    }
    let started = Instant::now();
    let r = app
        .send(
            &app.token,
            Method::POST,
            "/api/v1/accounts",
            Some(&skybridge_testkit::account_body("During Outage")),
        )
        .await;
    assert_eq!(r.status(), 503);
    assert!(started.elapsed() < Duration::from_secs(3));
    // The sign-in portal's pages: a 503 page with Retry-After, not a 500.
    let started = Instant::now();
    let r = app
        .http
        .get(app.url("/auth/welcome?token=sbl_not-a-real-link"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "{link:?} /auth/welcome");
    assert_eq!(r.headers()["retry-after"], "5");
    assert!(started.elapsed() < Duration::from_secs(3));
    let started = Instant::now();
    let r = scim.get("/Users").await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.body["status"], "503");
    assert!(r.headers.contains_key("retry-after"));
    assert!(started.elapsed() < Duration::from_secs(3));
}
