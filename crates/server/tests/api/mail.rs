use skybridge_testkit::{TestApp, backend_tests, json};

use crate::browser::{Browser, Page};

/// The link a queued mail carries, read from the account's outbox through the API.
async fn last_link(app: &TestApp, account: &str, kind: &str) -> String {
    let (status, mail) = app
        .get(&app.token, &format!("/api/v1/accounts/{account}/mail"))
        .await;
    assert_eq!(status, 200, "{mail}");
    let m = mail
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == kind)
        .expect("mail queued")
        .clone();
    let id = m["id"].as_str().unwrap();
    let mut db = app.store.handle().await.unwrap();
    let row = skybridge_server::store::outbox::get_any(&mut db, id)
        .await
        .unwrap()
        .unwrap();
    let start = row
        .body_text
        .find(&app.config.public_url())
        .expect("link uses the public URL");
    row.body_text[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .replace(&app.config.public_url(), &app.base)
}

async fn form(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let r = app
        .http
        .post(app.url(path))
        .form(fields)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn welcome_mail_sets_the_password_once(app: TestApp) {
    let a = app.create_account("Welcome Co").await;
    let aid = a["id"].as_str().unwrap().to_string();
    let (user, _) = app.create_user(&aid, "newbie@welcome.com", "user").await;
    let uid = user["id"].as_str().unwrap().to_string();
    assert_eq!(user["registered"], false);

    let (_, mail) = app
        .get(&app.token, &format!("/api/v1/accounts/{aid}/mail"))
        .await;
    assert_eq!(mail[0]["subject"], "Finish building your account");
    assert_eq!(mail[0]["status"], "pending");
    assert_eq!(app.deliver_mail().await, 1);
    let (_, mail) = app
        .get(&app.token, &format!("/api/v1/accounts/{aid}/mail"))
        .await;
    assert_eq!(mail[0]["status"], "sent");
    let eml = std::fs::read_to_string(
        app.config
            .outbox_dir()
            .join(format!("{}.eml", mail[0]["id"].as_str().unwrap())),
    )
    .unwrap();
    assert!(eml.contains("To: newbie@welcome.com"), "{eml}");
    assert!(eml.contains("text/html"));

    let link = last_link(&app, &aid, "welcome").await;
    assert!(link.contains("/auth/welcome?token="));
    let page = app.http.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Confirm your account")
            && html.contains("Test newbie")
            && html.contains("Minimum 8 characters")
    );
    let token = link.split("token=").nth(1).unwrap().to_string();

    for (password, confirm, needle) in [
        ("short", "short", "Minimum 8 characters"),
        ("long enough 1", "long enough 2", "do not match"),
        ("newbie@welcome.com", "newbie@welcome.com", "e-mail"),
        ("password123", "password123", "too common"),
    ] {
        let (status, body) = form(
            &app,
            "/auth/welcome",
            &[
                ("token", &token),
                ("password", password),
                ("confirm", confirm),
            ],
        )
        .await;
        assert_eq!(status, 400, "{password}");
        assert!(body.contains(needle), "{needle} not in {body}");
    }
    let (status, body) = form(
        &app,
        "/auth/welcome",
        &[
            ("token", &token),
            ("password", "a fine passphrase"),
            ("confirm", "a fine passphrase"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Your account is ready"));
    let (_, u) = app
        .get(&app.token, &format!("/api/v1/accounts/{aid}/users/{uid}"))
        .await;
    assert_eq!(u["registered"], true);
    let mut db = app.store.handle().await.unwrap();
    let scope = skybridge_domain_scope(&aid);
    let hash = skybridge_server::store::users::password_hash(&mut db, &scope, uid.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(hash.starts_with("$argon2id$"));

    // The link works once.
    let (status, body) = form(
        &app,
        "/auth/welcome",
        &[
            ("token", &token),
            ("password", "another passphrase"),
            ("confirm", "another passphrase"),
        ],
    )
    .await;
    assert_eq!(status, 410, "{body}");
    let r = app.http.get(&link).send().await.unwrap();
    assert_eq!(r.status(), 410);
    let r = app
        .http
        .get(app.url("/auth/welcome?token=forged"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);

    // The registration is in the event history, by the user.
    let (_, events) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{aid}/events?tag=registration"),
        )
        .await;
    assert_eq!(events["items"][0]["actor_id"], uid.as_str());
    // A registered user gets no second welcome.
    let (status, _) = app
        .post(
            &app.token,
            &format!("/api/v1/accounts/{aid}/users/{uid}/welcome"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 409);
}

fn skybridge_domain_scope(aid: &str) -> skybridge_server::domain::policy::AccountScope {
    skybridge_server::domain::policy::AccountScope::for_system(aid.parse().unwrap())
}

async fn resend_replaces_earlier_links(app: TestApp) {
    let a = app.create_account("Resend Co").await;
    let aid = a["id"].as_str().unwrap().to_string();
    let (u1, _) = app.create_user(&aid, "one@resend.com", "user").await;
    app.create_user(&aid, "two@resend.com", "user").await;
    let first = last_link(&app, &aid, "welcome").await;
    let (status, queued) = app
        .post(
            &app.token,
            &format!(
                "/api/v1/accounts/{aid}/users/{}/welcome",
                u1["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(status, 202, "{queued}");
    // The first mail of user one no longer works once a newer one is sent (first is user two's newest).
    let (status, all) = app
        .post(
            &app.token,
            &format!("/api/v1/accounts/{aid}/users/welcome"),
            &json!({ "all": true }),
        )
        .await;
    assert_eq!(status, 202);
    assert_eq!(all["mail_ids"].as_array().unwrap().len(), 2);
    let r = app.http.get(&first).send().await.unwrap();
    assert_eq!(r.status(), 410, "superseded link");
    let (status, body) = app
        .post(
            &app.token,
            &format!("/api/v1/accounts/{aid}/users/welcome"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = app
        .post(
            &app.token,
            &format!("/api/v1/accounts/{aid}/users/welcome"),
            &json!({ "user_ids": ["nope"] }),
        )
        .await;
    assert_eq!(status, 400);

    // Welcome mail needs users.add or users.edit.
    let (_, role) = app
        .post(
            &app.token,
            "/api/v1/roles",
            &json!({ "name": "Reader", "base": "account_admin", "permissions": ["users.view"] }),
        )
        .await;
    let rid = role["id"].as_str().unwrap();
    app.put(&app.token, &format!("/api/v1/roles/{rid}/accounts/{aid}"))
        .await;
    let (_, reader) = app.create_user(&aid, "reader@resend.com", rid).await;
    let (status, _) = app
        .post(
            &reader,
            &format!("/api/v1/accounts/{aid}/users/welcome"),
            &json!({ "all": true }),
        )
        .await;
    assert_eq!(status, 403);
}

/// Asks for a reset link through the form, as a browser does (the form's CSRF token included).
async fn forgot(b: &Browser, email: &str) -> Page {
    let form = b.get("/auth/forgot").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf = form.hidden("csrf");
    b.post(
        "/auth/forgot",
        &[("csrf", &csrf), ("email", email), ("account", "")],
    )
    .await
}

/// The reset mails queued for an account.
async fn reset_mails(app: &TestApp, account: &str) -> usize {
    app.settle().await;
    let (status, mail) = app
        .get(&app.token, &format!("/api/v1/accounts/{account}/mail"))
        .await;
    assert_eq!(status, 200, "{mail}");
    mail.as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "reset")
        .count()
}

/// `/auth/forgot` sends a few mails per address and answers a few more requests per client with mail, then
/// answers the same page without sending: no mail bombing, and the limit tells nothing about the address.
async fn reset_requests_are_limited(app: TestApp) {
    let a = app.create_account("Flood Co").await;
    let aid = a["id"].as_str().unwrap().to_string();
    app.create_user(&aid, "victim@flood.example", "user").await;
    app.create_user(&aid, "bystander@flood.example", "user")
        .await;
    let b = Browser::new(&app.base);
    let expected = forgot(&b, "nobody@flood.example").await;
    assert_eq!(expected.status, 200);
    for _ in 0..12 {
        let page = forgot(&b, "victim@flood.example").await;
        assert_eq!(
            (page.status.as_u16(), &page.body),
            (200, &expected.body),
            "the same answer within the limit and past it"
        );
    }
    assert_eq!(reset_mails(&app, &aid).await, 3, "three mails per address");
    // The client has now asked 13 times; a few more unknown addresses use up its 20…
    for i in 0..7 {
        let page = forgot(&b, &format!("nobody{i}@flood.example")).await;
        assert_eq!(page.body, expected.body);
    }
    // …so a known address it asks for next gets no mail either, and the same page.
    let page = forgot(&b, "bystander@flood.example").await;
    assert_eq!((page.status.as_u16(), &page.body), (200, &expected.body));
    assert_eq!(
        reset_mails(&app, &aid).await,
        3,
        "nothing more from this client"
    );
}

/// The reset form carries a CSRF token (the sign-in pages' double-submit cookie); a request without the
/// right one is refused and sends nothing.
async fn reset_request_needs_csrf(app: TestApp) {
    let a = app.create_account("Csrf Co").await;
    let aid = a["id"].as_str().unwrap().to_string();
    app.create_user(&aid, "careful@csrf.example", "user").await;
    // No cookie, no token: a cross-site form.
    let (status, body) = form(
        &app,
        "/auth/forgot",
        &[("email", "careful@csrf.example"), ("account", "")],
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // The cookie but a forged token.
    let b = Browser::new(&app.base);
    assert_eq!(b.get("/auth/forgot").await.status, 200);
    assert!(b.cookie("sb_csrf").is_some());
    let forged = b
        .post(
            "/auth/forgot",
            &[("csrf", "forged"), ("email", "careful@csrf.example")],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert_eq!(reset_mails(&app, &aid).await, 0);
    let ok = forgot(&b, "careful@csrf.example").await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(reset_mails(&app, &aid).await, 1);
}

async fn password_reset_flows(app: TestApp) {
    let a = app.create_account("Reset Co").await;
    let aid = a["id"].as_str().unwrap().to_string();
    let (user, _) = app.create_user(&aid, "forgetful@reset.com", "user").await;
    let uid = user["id"].as_str().unwrap().to_string();

    // Self-service: a known address gets a mail, an unknown one the same page and nothing.
    let b = Browser::new(&app.base);
    let known = forgot(&b, "Forgetful@Reset.com").await;
    assert_eq!(known.status, 200);
    let unknown = forgot(&b, "nobody@reset.com").await;
    assert_eq!(unknown.status, 200);
    assert_eq!(known.body, unknown.body, "no user enumeration");
    // The mail is queued after the answer.
    app.settle().await;
    let (_, mail) = app
        .get(&app.token, &format!("/api/v1/accounts/{aid}/mail"))
        .await;
    let resets: Vec<_> = mail
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "reset")
        .collect();
    assert_eq!(resets.len(), 1);
    assert_eq!(resets[0]["subject"], "Reset Password");

    let link = last_link(&app, &aid, "reset").await;
    let token = link.split("token=").nth(1).unwrap().to_string();
    let (status, _) = form(
        &app,
        "/auth/welcome",
        &[
            ("token", &token),
            ("password", "a new passphrase"),
            ("confirm", "a new passphrase"),
        ],
    )
    .await;
    assert_eq!(status, 410, "a reset link is not a welcome link");
    let (status, body) = form(
        &app,
        "/auth/reset",
        &[
            ("token", &token),
            ("password", "a new passphrase"),
            ("confirm", "a new passphrase"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Your password has been changed"));

    // Administrator-triggered reset and operator-set password.
    let (status, _) = app
        .post(
            &app.token,
            &format!("/api/v1/accounts/{aid}/users/{uid}/reset-password"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 202);
    let (status, body) = app
        .call(
            &app.token,
            skybridge_testkit::reqwest::Method::PUT,
            &format!("/api/v1/accounts/{aid}/users/{uid}/password"),
            Some(&json!({ "password": "short" })),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["field"], "password");
    let (status, _) = app
        .call(
            &app.token,
            skybridge_testkit::reqwest::Method::PUT,
            &format!("/api/v1/accounts/{aid}/users/{uid}/password"),
            Some(&json!({ "password": "operator chosen words" })),
        )
        .await;
    assert_eq!(status, 204);
    let (_, events) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{aid}/events?tag=password"),
        )
        .await;
    assert_eq!(
        events["items"][0]["properties_changed"],
        json!(["password"])
    );
}

backend_tests!(
    welcome_mail_sets_the_password_once,
    resend_replaces_earlier_links,
    password_reset_flows,
    reset_requests_are_limited,
    reset_request_needs_csrf
);
