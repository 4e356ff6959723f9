use skybridge_testkit::reqwest::{self, StatusCode, redirect};
use skybridge_testkit::{TestApp, backend_tests, json};

/// A browser-like client: keeps cookies, does not follow redirects (the tests look at them).
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of a hidden input in a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

fn cookie_value(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap()[name.len() + 1..].to_string())
}

struct Flow {
    client: reqwest::Client,
    base: String,
    csrf_cookie: String,
    csrf: String,
    session: Option<String>,
}

impl Flow {
    async fn start(app: &TestApp) -> Flow {
        let client = browser();
        let r = client
            .get(app.url("/auth/login?return_to=/auth/account"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let csrf_cookie = cookie_value(&r, "sb_csrf").expect("csrf cookie set");
        assert!(
            r.headers()
                .get_all("set-cookie")
                .iter()
                .any(|v| v.to_str().unwrap().contains("HttpOnly; SameSite=Lax"))
        );
        let html = r.text().await.unwrap();
        assert!(html.contains("Enter your username") && html.contains("<label for=\"email\">"));
        let csrf = hidden(&html, "csrf");
        Flow {
            client,
            base: app.base.clone(),
            csrf_cookie,
            csrf,
            session: None,
        }
    }

    async fn post(&self, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut all: Vec<(&str, &str)> = vec![("csrf", &self.csrf), ("return_to", "/auth/account")];
        all.extend_from_slice(fields);
        let mut cookies = format!("sb_csrf={}", self.csrf_cookie);
        if let Some(s) = &self.session {
            cookies.push_str(&format!("; sb_session={s}"));
        }
        self.client
            .post(format!("{}/auth/login", self.base))
            .header("cookie", cookies)
            .form(&all)
            .send()
            .await
            .unwrap()
    }
}

async fn register(app: &TestApp, account: &str, email: &str, password: &str) -> String {
    let (user, _) = app.create_user(account, email, "user").await;
    let uid = user["id"].as_str().unwrap().to_string();
    app.set_password(account, &uid, password).await;
    uid
}

async fn sign_in_sign_out(app: TestApp) {
    let a = app.create_account("Login Co").await;
    let aid = a["id"].as_str().unwrap().to_string();
    register(&app, &aid, "pat@login.com", "pat's long passphrase").await;

    let mut flow = Flow::start(&app).await;
    let r = flow
        .post(&[("step", "identify"), ("email", "pat@login.com")])
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("type=\"password\""), "{html}");
    // An unknown address gets the same next step: no enumeration.
    let r = flow
        .post(&[("step", "identify"), ("email", "nobody@login.com")])
        .await;
    assert!(r.text().await.unwrap().contains("type=\"password\""));

    let r = flow
        .post(&[
            ("step", "password"),
            ("email", "pat@login.com"),
            ("account", ""),
            ("password", "wrong"),
        ])
        .await;
    assert_eq!(r.status(), 401);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Wrong e-mail or password.")
    );
    let r = flow
        .post(&[
            ("step", "password"),
            ("email", "nobody@login.com"),
            ("account", ""),
            ("password", "wrong"),
        ])
        .await;
    assert_eq!(r.status(), 401, "unknown users fail the same way");

    let r = flow
        .post(&[
            ("step", "password"),
            ("email", "PAT@login.com"),
            ("account", ""),
            ("password", "pat's long passphrase"),
        ])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/auth/account");
    let session = cookie_value(&r, "sb_session").expect("session cookie");
    flow.session = Some(session.clone());
    let page = flow
        .client
        .get(app.url("/auth/account"))
        .header("cookie", format!("sb_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("pat@login.com"));
    let session_csrf = hidden(&html, "csrf");

    // Sign-out needs the session's CSRF token.
    let r = flow
        .client
        .post(app.url("/auth/logout"))
        .header("cookie", format!("sb_session={session}"))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = flow
        .client
        .post(app.url("/auth/logout"))
        .header("cookie", format!("sb_session={session}"))
        .form(&[("csrf", session_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let page = flow
        .client
        .get(app.url("/auth/account"))
        .header("cookie", format!("sb_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303, "the session is gone");
}

async fn csrf_and_return_to_are_enforced(app: TestApp) {
    let a = app.create_account("Csrf Co").await;
    register(
        &app,
        a["id"].as_str().unwrap(),
        "csrf@login.com",
        "csrf long passphrase",
    )
    .await;
    let flow = Flow::start(&app).await;
    // No CSRF cookie: refused.
    let r = flow
        .client
        .post(app.url("/auth/login"))
        .form(&[
            ("csrf", flow.csrf.as_str()),
            ("step", "password"),
            ("email", "csrf@login.com"),
            ("password", "csrf long passphrase"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // An external return_to is replaced by the portal's own page.
    let r = flow
        .client
        .post(app.url("/auth/login"))
        .header("cookie", format!("sb_csrf={}", flow.csrf_cookie))
        .form(&[
            ("csrf", flow.csrf.as_str()),
            ("step", "password"),
            ("return_to", "https://evil.example/"),
            ("email", "csrf@login.com"),
            ("account", ""),
            ("password", "csrf long passphrase"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/console");
}

async fn account_number_when_the_address_is_shared(app: TestApp) {
    let a = app.create_account("Shared One").await;
    let b = app.create_account("Shared Two").await;
    register(
        &app,
        a["id"].as_str().unwrap(),
        "shared@login.com",
        "first long passphrase",
    )
    .await;
    register(
        &app,
        b["id"].as_str().unwrap(),
        "shared@login.com",
        "second long passphrase",
    )
    .await;
    let mut flow = Flow::start(&app).await;
    let r = flow
        .post(&[("step", "identify"), ("email", "shared@login.com")])
        .await;
    let html = r.text().await.unwrap();
    assert!(html.contains("Account Number"), "{html}");
    let number = b["number"].to_string();
    let r = flow
        .post(&[
            ("step", "identify"),
            ("email", "shared@login.com"),
            ("account", &number),
        ])
        .await;
    assert!(r.text().await.unwrap().contains("type=\"password\""));
    let r = flow
        .post(&[
            ("step", "password"),
            ("email", "shared@login.com"),
            ("account", &number),
            ("password", "first long passphrase"),
        ])
        .await;
    assert_eq!(
        r.status(),
        401,
        "the other account's password does not open this one"
    );
    let r = flow
        .post(&[
            ("step", "password"),
            ("email", "shared@login.com"),
            ("account", &number),
            ("password", "second long passphrase"),
        ])
        .await;
    assert_eq!(r.status(), 303);
    flow.session = cookie_value(&r, "sb_session");
    assert!(flow.session.is_some());
}

async fn guessing_is_locked_out(app: TestApp) {
    let a = app.create_account("Lock Co").await;
    let aid = a["id"].as_str().unwrap().to_string();
    register(&app, &aid, "target@login.com", "the right passphrase").await;
    let flow = Flow::start(&app).await;
    for _ in 0..5 {
        let r = flow
            .post(&[
                ("step", "password"),
                ("email", "target@login.com"),
                ("account", ""),
                ("password", "guess"),
            ])
            .await;
        assert_eq!(r.status(), 401);
    }
    let r = flow
        .post(&[
            ("step", "password"),
            ("email", "target@login.com"),
            ("account", ""),
            ("password", "the right passphrase"),
        ])
        .await;
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "locked even with the right password"
    );
    let retry: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry));

    // The lock is per address: another user signs in from the same client meanwhile.
    register(&app, &aid, "bystander@login.com", "bystander passphrase").await;
    let r = flow
        .post(&[
            ("step", "password"),
            ("email", "bystander@login.com"),
            ("account", ""),
            ("password", "bystander passphrase"),
        ])
        .await;
    assert_eq!(r.status(), 303);
}

async fn deactivation_ends_sessions(app: TestApp) {
    let a = app.create_account("Ends Co").await;
    let aid = a["id"].as_str().unwrap().to_string();
    register(&app, &aid, "ends@login.com", "ends long passphrase").await;
    let mut flow = Flow::start(&app).await;
    let r = flow
        .post(&[
            ("step", "password"),
            ("email", "ends@login.com"),
            ("account", ""),
            ("password", "ends long passphrase"),
        ])
        .await;
    assert_eq!(r.status(), 303);
    let session = cookie_value(&r, "sb_session").unwrap();
    flow.session = Some(session.clone());
    let get = |s: String| {
        flow.client
            .get(app.url("/auth/account"))
            .header("cookie", format!("sb_session={s}"))
            .send()
    };
    assert_eq!(get(session.clone()).await.unwrap().status(), 200);
    let (status, _) = app
        .post(
            &app.token,
            &format!("/api/v1/accounts/{aid}/deactivate"),
            &json!({ "confirm": "deactivate" }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        get(session.clone()).await.unwrap().status(),
        303,
        "a deactivated account's session no longer works"
    );
}

async fn signed_in_user_changes_password(app: TestApp) {
    let a = app.create_account("Change Co").await;
    let aid = a["id"].as_str().unwrap().to_string();
    register(&app, &aid, "chg@login.com", "the first passphrase").await;
    let sign_in = |password: &'static str| {
        let app = &app;
        async move {
            let flow = Flow::start(app).await;
            flow.post(&[
                ("step", "password"),
                ("email", "chg@login.com"),
                ("account", ""),
                ("password", password),
            ])
            .await
        }
    };
    let r = sign_in("the first passphrase").await;
    assert_eq!(r.status(), 303);
    let here = cookie_value(&r, "sb_session").unwrap();
    let elsewhere = cookie_value(&sign_in("the first passphrase").await, "sb_session").unwrap();
    let client = browser();
    let html = client
        .get(app.url("/auth/account"))
        .header("cookie", format!("sb_session={here}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Change your password"));
    let csrf = hidden(&html, "csrf");
    let change = |current: &'static str, new: &'static str| {
        client
            .post(app.url("/auth/password"))
            .header("cookie", format!("sb_session={here}"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("current", current),
                ("password", new),
                ("confirm", new),
            ])
            .send()
    };
    assert_eq!(
        change("not it", "the second passphrase")
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        change("the first passphrase", "short")
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        change("the first passphrase", "the second passphrase")
            .await
            .unwrap()
            .status(),
        200
    );
    // This session stays, the other one ends; the old password no longer works, the new one does.
    let status = |s: String| {
        client
            .get(app.url("/auth/account"))
            .header("cookie", format!("sb_session={s}"))
            .send()
    };
    assert_eq!(status(here.clone()).await.unwrap().status(), 200);
    assert_eq!(status(elsewhere).await.unwrap().status(), 303);
    assert_eq!(sign_in("the first passphrase").await.status(), 401);
    assert_eq!(sign_in("the second passphrase").await.status(), 303);
}

/// Every `/auth/*` response — pages, redirects and refusals, signed in or not — carries the console's header
/// policy: no MIME sniffing, forms only back to us, no `<base>`, never framed, never cached.
async fn portal_headers_on_every_page(app: TestApp) {
    let a = app.create_account("Headers Co").await;
    let aid = a["id"].as_str().unwrap().to_string();
    register(&app, &aid, "hal@headers.example", "hal's long passphrase").await;
    let check = |what: &str, page: &crate::browser::Page| {
        let h = &page.headers;
        let get = |name: &str| {
            h.get(name)
                .unwrap_or_else(|| panic!("{what}: no {name} ({})", page.status))
                .to_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
        let csp = get("content-security-policy");
        for rule in [
            "default-src 'none'",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(rule), "{what}: {rule} not in {csp}");
        }
        assert_eq!(get("x-frame-options"), "DENY", "{what}");
        assert_eq!(get("cache-control"), "no-store", "{what}");
    };
    let b = crate::browser::Browser::new(&app.base);
    for path in [
        "/auth/login",
        "/auth/login?return_to=/auth/account",
        "/auth/forgot",
        "/auth/reset?token=unknown",
        "/auth/welcome?token=unknown",
        "/auth/account",
        "/auth/mfa",
    ] {
        let page = b.get(path).await;
        check(&format!("GET {path} signed out"), &page);
    }
    let refused = b
        .post("/auth/login", &[("csrf", "forged"), ("step", "identify")])
        .await;
    assert_eq!(refused.status, 403);
    check("POST /auth/login refused", &refused);
    let forgot = b.post("/auth/forgot", &[("email", "x@y.example")]).await;
    check("POST /auth/forgot refused", &forgot);
    let signed = b
        .sign_in("hal@headers.example", "hal's long passphrase")
        .await;
    assert_eq!(signed.status, 303);
    check("POST /auth/login signed in", &signed);
    for path in ["/auth/account", "/auth/mfa"] {
        let page = b.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        check(&format!("GET {path} signed in"), &page);
    }
    let csrf = b.get("/auth/account").await.hidden("csrf");
    let out = b.post("/auth/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 303);
    check("POST /auth/logout", &out);
}

backend_tests!(
    signed_in_user_changes_password,
    sign_in_sign_out,
    csrf_and_return_to_are_enforced,
    account_number_when_the_address_is_shared,
    guessing_is_locked_out,
    deactivation_ends_sessions,
    portal_headers_on_every_page,
);
