//! The console over HTTP, as a browser without JavaScript uses it: sign-in, the frame and its headers, the
//! account and user forms with their errors, CSRF, tenant isolation and the not-allowed page.

use serde_json::Value;
use skybridge_testkit::reqwest::Method;
use skybridge_testkit::{TestApp, backend_tests, json};

use crate::browser::{Browser, Page, hidden};

pub const PASSWORD: &str = "correct horse battery";

/// Gives `user` of `account` a password (as the partner administrator would through the API).
pub async fn set_password(app: &TestApp, account: &str, user: &str) {
    let (status, body) = app
        .call(
            &app.token,
            Method::PUT,
            &format!("/api/v1/accounts/{account}/users/{user}/password"),
            Some(&json!({ "password": PASSWORD })),
        )
        .await;
    assert_eq!(status, 204, "{body}");
}

/// A browser signed in to the console as `email`.
pub async fn console_as(app: &TestApp, email: &str) -> Browser {
    let b = Browser::new(&app.base);
    let login = b.get("/auth/login?return_to=/console").await;
    let done = b.sign_in_from(&login, email, PASSWORD).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/console"));
    b
}

/// The partner's first administrator, signed in.
pub async fn partner_console(app: &TestApp) -> Browser {
    set_password(app, &app.partner_id, &app.admin_id).await;
    let (_, me) = app.get(&app.token, "/api/v1/me").await;
    console_as(app, me["email"].as_str().unwrap()).await
}

/// First start prints a one-time setup link next to the API token: the first administrator opens it, chooses
/// a password and signs in to the console — no `admin users set-password` needed. The link works once.
async fn the_first_administrator_sets_a_password_with_the_setup_link(app: TestApp) {
    let prefix = format!("{}/auth/welcome?token=", app.base);
    assert!(app.setup_link.starts_with(&prefix), "{}", app.setup_link);
    let b = Browser::new(&app.base);
    let form = b.get(&app.setup_link).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let token = form.hidden("token");
    let done = b
        .post(
            "/auth/welcome",
            &[
                ("token", &token),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await;
    assert!(
        done.status.is_success() || done.status.is_redirection(),
        "{}",
        done.body
    );
    let (_, me) = app.get(&app.token, "/api/v1/me").await;
    let console = console_as(&app, me["email"].as_str().unwrap()).await;
    let page = console.get("/console").await;
    assert_eq!(page.status, 200);
    // Used: it does not work again.
    let again = Browser::new(&app.base).get(&app.setup_link).await;
    assert!(!again.body.contains("name=\"password\""), "{}", again.body);
    // The API token still works.
    let (status, _) = app.get(&app.token, "/api/v1/me").await;
    assert_eq!(status, 200);
}

/// Posts a console form with the page's CSRF token.
pub async fn submit(b: &Browser, page: &Page, action: &str, fields: &[(&str, &str)]) -> Page {
    let csrf = page.hidden("csrf");
    let mut all: Vec<(&str, &str)> = vec![("csrf", &csrf)];
    all.extend_from_slice(fields);
    b.post(action, &all).await
}

fn new_account_fields<'a>(name: &'a str, admin_email: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("country", "CA"),
        ("province", "ON"),
        ("address", "1 Front Street"),
        ("address2", ""),
        ("city", "Ottawa"),
        ("postal_code", "K1A 0B1"),
        ("default_language", "en-US"),
        ("business_type", ""),
        ("cloud_location", ""),
        ("support_contacts", "help@partner.example"),
        ("admin_first_name", "Ada"),
        ("admin_last_name", "Admin"),
        ("admin_email", admin_email),
    ]
}

async fn account_count(app: &TestApp) -> usize {
    let (_, page) = app.get(&app.token, "/api/v1/accounts?limit=200").await;
    page["items"].as_array().unwrap().len()
}

async fn the_frame_is_strict_and_needs_a_session(app: TestApp) {
    let anonymous = Browser::new(&app.base);
    let r = anonymous.get("/console/accounts?q=x").await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.location.as_deref(),
        Some("/auth/login?return_to=%2Fconsole%2Faccounts%3Fq%3Dx")
    );

    let b = partner_console(&app).await;
    let page = b.get("/console").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("style-src 'self'"));
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert_eq!(page.headers["cache-control"], "no-store");
    // Nothing the policy would block: no inline script, no style attribute.
    for script in page.body.split("<script").skip(1) {
        assert!(
            script.trim_start().starts_with("src="),
            "inline script in {}",
            page.body
        );
    }
    assert!(!page.body.contains(" style="));
    // The partner's navigation and quick links.
    assert!(page.body.contains("href=\"/console/accounts\""));
    assert!(page.body.contains("href=\"/console/managers\""));
    assert!(page.body.contains("Add an account"));
    assert!(page.body.contains("id=\"switch-account\""));
    assert!(
        !page.body.contains("/users\""),
        "no Users entry before an account is chosen"
    );

    let js = b.get("/console/static/htmx-2.0.8.min.js").await;
    assert_eq!(js.status, 200);
    assert!(
        js.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(js.body.len() > 40_000);
    assert_eq!(b.get("/console/static/../Cargo.toml").await.status, 404);
}

async fn a_partner_adds_an_account_with_its_admin(app: TestApp) {
    let b = partner_console(&app).await;
    let form = b.get("/console/accounts/new").await;
    assert_eq!(form.status, 200);
    let before = account_count(&app).await;

    // Missing required values: each message at its field, nothing created.
    let mut fields = new_account_fields("", "ada@new.example");
    fields.retain(|(k, _)| *k != "support_contacts");
    fields.push(("support_contacts", ""));
    let bad = submit(&b, &form, "/console/accounts/new", &fields).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("id=\"f-name\" name=\"name\""));
    assert!(bad.body.contains("aria-invalid=\"true\""));
    assert!(bad.body.contains("id=\"e-name\""), "{}", bad.body);
    assert_eq!(account_count(&app).await, before);

    // A bad admin e-mail is refused before the account exists.
    let bad = submit(
        &b,
        &form,
        "/console/accounts/new",
        &new_account_fields("Northwind", "not-an-email"),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("id=\"e-admin_email\""), "{}", bad.body);
    assert!(bad.body.contains("value=\"Northwind\""), "values are kept");
    assert_eq!(account_count(&app).await, before);

    let done = submit(
        &b,
        &form,
        "/console/accounts/new",
        &new_account_fields("Northwind", "ada@northwind.example"),
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let location = done.location.unwrap();
    assert!(location.ends_with("?notice=account-created"), "{location}");
    let info = b.get(&location).await;
    assert_eq!(info.status, 200);
    assert!(info.body.contains("Account created."));
    let account_id = location
        .trim_start_matches("/console/a/")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let (_, account) = app
        .get(&app.token, &format!("/api/v1/accounts/{account_id}"))
        .await;
    assert_eq!(account["name"], "Northwind");
    assert!(info.body.contains(&account["number"].to_string()));
    let (_, users) = app
        .get(&app.token, &format!("/api/v1/accounts/{account_id}/users"))
        .await;
    let admin = &users["items"][0];
    assert_eq!(admin["email"], "ada@northwind.example");
    assert_eq!(admin["role"], "account_admin");

    // Embedded mode: the welcome mail is on the outbox page, with its link.
    let outbox = b.get("/console/outbox").await;
    assert_eq!(outbox.status, 200);
    assert!(outbox.body.contains("ada@northwind.example"));
    let mail_path = outbox
        .body
        .split("href=\"/console/outbox/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let mail = b.get(&format!("/console/outbox/{mail_path}")).await;
    assert_eq!(mail.status, 200);
    assert!(mail.body.contains("<a href=\"http"), "{}", mail.body);

    // The new admin's console is about its own account only.
    let admin_id = admin["id"].as_str().unwrap();
    set_password(&app, &account_id, admin_id).await;
    let a = console_as(&app, "ada@northwind.example").await;
    let dash = a.get("/console").await;
    assert!(
        dash.body
            .contains(&format!("/console/a/{account_id}/users/new"))
    );
    assert!(!dash.body.contains("href=\"/console/accounts\""));
    assert!(!dash.body.contains("/console/managers"));
    assert!(!dash.body.contains("/console/outbox"));
    assert_eq!(a.get("/console/outbox").await.status, 404);
}

async fn forms_need_the_session_csrf_token(app: TestApp) {
    let b = partner_console(&app).await;
    let before = account_count(&app).await;
    let mut fields = new_account_fields("Forged", "x@forged.example");
    fields.push(("csrf", "not-the-token"));
    let r = b.post("/console/accounts/new", &fields).await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("Not allowed"));
    assert_eq!(account_count(&app).await, before);
}

async fn user_id_in(app: &TestApp, account: &str, email: &str) -> Option<Value> {
    let (_, users) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{account}/users?property=inactive"),
        )
        .await;
    let (_, active) = app
        .get(&app.token, &format!("/api/v1/accounts/{account}/users"))
        .await;
    users["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(active["items"].as_array().unwrap())
        .find(|u| u["email"] == email)
        .cloned()
}

async fn an_admin_adds_edits_deactivates_and_deletes_users(app: TestApp) {
    let account = app.create_account("Users Co").await;
    let aid = account["id"].as_str().unwrap();
    let (admin, _) = app
        .create_user(aid, "boss@users.example", "account_admin")
        .await;
    set_password(&app, aid, admin["id"].as_str().unwrap()).await;
    let b = console_as(&app, "boss@users.example").await;
    let base = format!("/console/a/{aid}/users");

    let form = b.get(&format!("{base}/new")).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let user = |email: &'static str| {
        vec![
            ("first_name", "Grace"),
            ("last_name", "Hopper"),
            ("display_name", ""),
            ("email", email),
            ("login_id", ""),
            ("mobile", ""),
            ("extension", "204"),
            ("role", "user"),
        ]
    };
    let bad = submit(&b, &form, &format!("{base}/new"), &user("grace@@users")).await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("id=\"e-email\""), "{}", bad.body);
    assert!(user_id_in(&app, aid, "grace@@users").await.is_none());

    let ok = submit(
        &b,
        &form,
        &format!("{base}/new"),
        &user("grace@users.example"),
    )
    .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let list = b.get(ok.location.as_deref().unwrap()).await;
    assert!(list.body.contains("User added."));
    assert!(list.body.contains("grace@users.example"));

    // The same e-mail again: the conflict is shown at the Email field.
    let dup = submit(
        &b,
        &form,
        &format!("{base}/new"),
        &user("grace@users.example"),
    )
    .await;
    assert_eq!(dup.status, 400);
    assert!(dup.body.contains("id=\"e-email\""), "{}", dup.body);

    // Search and the Property filter.
    let found = b.get(&format!("{base}?q=hopp")).await;
    // (The signed-in admin's own address is in the header's avatar menu; look at the table cells.)
    assert!(found.body.contains("<td>grace@users.example</td>"));
    assert!(!found.body.contains("<td>boss@users.example</td>"));
    let admins = b.get(&format!("{base}?property=admins")).await;
    assert!(admins.body.contains("<td>boss@users.example</td>"));
    assert!(!admins.body.contains("<td>grace@users.example</td>"));

    // Deactivate access, then reactivate.
    let grace = user_id_in(&app, aid, "grace@users.example").await.unwrap();
    let gid = grace["id"].as_str().unwrap();
    let edit = b.get(&format!("{base}/{gid}")).await;
    assert_eq!(edit.status, 200);
    let mut fields = user("grace@users.example");
    fields[2] = ("display_name", "Grace Hopper");
    let saved = submit(&b, &edit, &format!("{base}/{gid}"), &fields).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(
        user_id_in(&app, aid, "grace@users.example").await.unwrap()["active"],
        false
    );
    let inactive = b.get(&format!("{base}?property=inactive")).await;
    assert!(inactive.body.contains("<td>grace@users.example</td>"));
    assert!(
        inactive
            .body
            .contains("<span class=\"tag\">Inactive</span>")
    );
    fields.push(("active", "on"));
    let saved = submit(&b, &edit, &format!("{base}/{gid}"), &fields).await;
    assert_eq!(saved.status, 303);
    assert_eq!(
        user_id_in(&app, aid, "grace@users.example").await.unwrap()["active"],
        true
    );

    // Delete needs the typed word.
    let dialog = b.get(&format!("{base}/{gid}/delete")).await;
    assert!(
        dialog
            .body
            .contains("Type delete in the box below to continue.")
    );
    let wrong = submit(
        &b,
        &dialog,
        &format!("{base}/{gid}/delete"),
        &[("confirm", "remove")],
    )
    .await;
    assert_eq!(wrong.status, 400);
    assert!(wrong.body.contains("id=\"e-confirm\""));
    assert!(user_id_in(&app, aid, "grace@users.example").await.is_some());
    let gone = submit(
        &b,
        &dialog,
        &format!("{base}/{gid}/delete"),
        &[("confirm", "delete")],
    )
    .await;
    assert_eq!(gone.status, 303);
    assert!(user_id_in(&app, aid, "grace@users.example").await.is_none());

    // Every change is audited with the admin as actor.
    let (_, events) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{aid}/events?asset=User"),
        )
        .await;
    let actions: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor_name"] != "System")
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in ["Create", "Edit", "Delete"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
}

async fn other_tenants_are_not_found_and_missing_rights_are_not_allowed(app: TestApp) {
    let mine = app.create_account("Mine").await;
    let theirs = app.create_account("Theirs").await;
    let (mid, tid) = (mine["id"].as_str().unwrap(), theirs["id"].as_str().unwrap());
    let (admin, _) = app
        .create_user(mid, "admin@mine.example", "account_admin")
        .await;
    let (plain, _) = app.create_user(mid, "plain@mine.example", "user").await;
    let (other, _) = app.create_user(tid, "someone@theirs.example", "user").await;
    set_password(&app, mid, admin["id"].as_str().unwrap()).await;
    set_password(&app, mid, plain["id"].as_str().unwrap()).await;

    let a = console_as(&app, "admin@mine.example").await;
    for path in [
        format!("/console/a/{tid}"),
        format!("/console/a/{tid}/users"),
        format!("/console/a/{tid}/users/{}", other["id"].as_str().unwrap()),
        format!("/console/a/{mid}/users/{}", other["id"].as_str().unwrap()),
        format!("/console/a/{}/users", theirs["number"]),
    ] {
        let r = a.get(&path).await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        assert!(r.body.contains("Not found"));
        assert!(!r.body.contains("someone@theirs.example"));
    }
    // Posting into another tenant is refused the same way, and changes nothing.
    let page = a.get("/console").await;
    let r = submit(
        &a,
        &page,
        &format!(
            "/console/a/{tid}/users/{}/delete",
            other["id"].as_str().unwrap()
        ),
        &[("confirm", "delete")],
    )
    .await;
    assert_eq!(r.status, 404);
    assert!(
        user_id_in(&app, tid, "someone@theirs.example")
            .await
            .is_some()
    );

    let u = console_as(&app, "plain@mine.example").await;
    let dash = u.get("/console").await;
    assert!(
        dash.body
            .contains("Your role has no administration rights.")
    );
    assert!(!dash.body.contains("/users\""));
    let r = u.get(&format!("/console/a/{mid}/users")).await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("Not allowed"));
}

async fn an_account_is_deactivated_and_reactivated_with_the_typed_word(app: TestApp) {
    let account = app.create_account("Lifecycle Co").await;
    let aid = account["id"].as_str().unwrap();
    let b = partner_console(&app).await;
    let dialog = b.get(&format!("/console/a/{aid}/deactivate")).await;
    assert_eq!(dialog.status, 200);
    assert!(dialog.body.contains("Deactivate Customer?"));
    let wrong = submit(
        &b,
        &dialog,
        &format!("/console/a/{aid}/deactivate"),
        &[("confirm", "Deactivate!")],
    )
    .await;
    assert_eq!(wrong.status, 400);
    assert!(wrong.body.contains("type \\\"deactivate\\\"") || wrong.body.contains("deactivate"));
    let (_, a) = app
        .get(&app.token, &format!("/api/v1/accounts/{aid}"))
        .await;
    assert_eq!(a["status"], "active");

    let done = submit(
        &b,
        &dialog,
        &format!("/console/a/{aid}/deactivate"),
        &[("confirm", "deactivate")],
    )
    .await;
    assert_eq!(done.status, 303);
    let (_, a) = app
        .get(&app.token, &format!("/api/v1/accounts/{aid}"))
        .await;
    assert_eq!(a["status"], "deactivated");
    let list = b.get("/console/accounts?status=deactivated").await;
    assert!(list.body.contains("Lifecycle Co"));
    assert!(
        !b.get("/console/accounts")
            .await
            .body
            .contains("Lifecycle Co")
    );
    // A deactivated account cannot be viewed until it is reactivated.
    let info = b.get(&format!("/console/a/{aid}")).await;
    assert_eq!(info.status, 303);
    assert_eq!(
        info.location.unwrap(),
        format!("/console/a/{aid}/reactivate")
    );
    let dialog = b.get(&format!("/console/a/{aid}/reactivate")).await;
    let back = submit(
        &b,
        &dialog,
        &format!("/console/a/{aid}/reactivate"),
        &[("confirm", "reactivate")],
    )
    .await;
    assert_eq!(back.status, 303);
    let (_, a) = app
        .get(&app.token, &format!("/api/v1/accounts/{aid}"))
        .await;
    assert_eq!(a["status"], "active");
}

async fn column_choices_are_remembered_per_admin(app: TestApp) {
    let account = app.create_account("Columns Co").await;
    let aid = account["id"].as_str().unwrap();
    app.create_user(aid, "x@columns.example", "user").await;
    let b = partner_console(&app).await;
    let list = b.get(&format!("/console/a/{aid}/users")).await;
    assert!(list.body.contains("<th scope=\"col\">Email Address</th>"));
    assert!(!list.body.contains("<th scope=\"col\">Source</th>"));
    let r = submit(
        &b,
        &list,
        &format!("/console/a/{aid}/users/columns"),
        &[("column", "source"), ("column", "role")],
    )
    .await;
    assert_eq!(r.status, 303);
    // A second browser of the same admin sees the same choice.
    let (_, me) = app.get(&app.token, "/api/v1/me").await;
    let other = console_as(&app, me["email"].as_str().unwrap()).await;
    let list = other.get(&format!("/console/a/{aid}/users")).await;
    assert!(list.body.contains("<th scope=\"col\">Source</th>"));
    assert!(!list.body.contains("<th scope=\"col\">Email Address</th>"));
    let _ = hidden(&list.body, "csrf");
}

/// Waits (through the API, as the partner administrator) for a job the console started to finish.
async fn wait_for_job(app: &TestApp, id: &str) -> Value {
    let (status, job) = app
        .get(&app.token, &format!("/api/v1/jobs/{id}?wait=20"))
        .await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["state"], "succeeded", "{job}");
    job
}

async fn bulk_actions_leave_a_notification_with_the_failures(app: TestApp) {
    let account = app.create_account("Bulk Co").await;
    let aid = account["id"].as_str().unwrap();
    let (a, _) = app.create_user(aid, "a@bulk.example", "user").await;
    let (b_user, _) = app.create_user(aid, "b@bulk.example", "user").await;
    let b = partner_console(&app).await;
    let list = b.get(&format!("/console/a/{aid}/users")).await;
    assert!(!list.body.contains("data-testid=\"unread\""));
    let (aid_a, aid_b) = (a["id"].as_str().unwrap(), b_user["id"].as_str().unwrap());

    let r = submit(
        &b,
        &list,
        &format!("/console/a/{aid}/users/manage"),
        &[("action", "welcome"), ("user", aid_a), ("user", aid_b)],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    // The action runs as a job: the Users page follows it; the test waits for it through the API.
    let params = r.location_params();
    assert_eq!(params["notice"], "job-started");
    wait_for_job(&app, &params["job"]).await;
    // Delete both, one of them gone already: one deleted, one failure with its reason.
    app.delete(
        &app.token,
        &format!("/api/v1/accounts/{aid}/users/{aid_b}?confirm=delete"),
    )
    .await;
    let dialog = submit(
        &b,
        &list,
        &format!("/console/a/{aid}/users/manage"),
        &[("action", "delete"), ("user", aid_a), ("user", aid_b)],
    )
    .await;
    assert_eq!(dialog.status, 200);
    assert!(dialog.body.contains("Delete Selected User(s)?"));
    let done = submit(
        &b,
        &dialog,
        &format!("/console/a/{aid}/users/manage"),
        &[
            ("action", "delete"),
            ("user", aid_a),
            ("user", aid_b),
            ("confirm", "delete"),
        ],
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let job = wait_for_job(&app, &done.location_params()["job"]).await;
    assert_eq!(job["summary"], "Delete users: 1 of 2 users");
    assert!(user_id_in(&app, aid, "a@bulk.example").await.is_none());

    let page = b.get(&format!("/console/a/{aid}/users")).await;
    assert!(
        page.body
            .contains("<span class=\"badge\" data-testid=\"unread\">2</span>"),
        "{}",
        page.body
    );
    let bell = b.get("/console/notifications").await;
    assert!(bell.body.contains("Send welcome emails: 2 of 2 users"));
    assert!(bell.body.contains("Delete users: 1 of 2 users"));
    assert!(bell.body.contains("See details"));
    assert!(bell.body.contains("user not found"));
    // Seen: the badge is gone; deleting one removes it for good.
    let again = b.get("/console").await;
    assert!(!again.body.contains("data-testid=\"unread\""));
    let first = bell
        .body
        .split("action=\"/console/notifications/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let r = submit(&b, &bell, &format!("/console/notifications/{first}"), &[]).await;
    assert_eq!(r.status, 303);
    let after = b.get("/console/notifications").await;
    assert_eq!(after.body.matches("data-notification").count(), 1);
    // Someone else's notification cannot be deleted.
    let r = submit(
        &b,
        &after,
        "/console/notifications/00000000-0000-0000-0000-000000000000/delete",
        &[],
    )
    .await;
    assert_eq!(r.status, 404);
}

async fn the_outbox_is_only_for_the_partner_administrator(app: TestApp) {
    // A partner user with a custom Partner-based role could otherwise read an Administrator's reset link.
    let (status, role) = app
        .post(
            &app.token,
            "/api/v1/roles",
            &json!({ "name": "Helpers", "base": "partner", "permissions": ["accounts.view", "users.view", "users.add", "users.edit"] }),
        )
        .await;
    assert_eq!(status, 201, "{role}");
    let (helper, _) = app
        .create_user(
            &app.partner_id,
            "helper@partner.example",
            role["id"].as_str().unwrap(),
        )
        .await;
    set_password(&app, &app.partner_id, helper["id"].as_str().unwrap()).await;
    let h = console_as(&app, "helper@partner.example").await;
    assert!(!h.get("/console").await.body.contains("/console/outbox"));
    let r = h.get("/console/outbox").await;
    assert_eq!(r.status, 404);
    assert!(
        r.body.contains("Not found") && !r.body.contains("<table>"),
        "no mail listed: {}",
        r.body
    );

    let admin = partner_console(&app).await;
    let list = admin.get("/console/outbox").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("helper@partner.example"));
}

async fn an_account_manager_adds_an_account_with_its_admin(app: TestApp) {
    let (mgr, _) = app
        .create_user(&app.partner_id, "mgr@partner.example", "partner")
        .await;
    let mid = mgr["id"].as_str().unwrap();
    let (status, body) = app
        .post(
            &app.token,
            "/api/v1/account-managers/convert",
            &json!({ "user_ids": [mid] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    set_password(&app, &app.partner_id, mid).await;
    let b = console_as(&app, "mgr@partner.example").await;
    let form = b.get("/console/accounts/new").await;
    let done = submit(
        &b,
        &form,
        "/console/accounts/new",
        &new_account_fields("Managed Co", "first@managed.example"),
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let location = done.location.unwrap();
    let account_id = location
        .trim_start_matches("/console/a/")
        .split('?')
        .next()
        .unwrap();
    // The manager manages the new account, and its first admin exists.
    assert!(location.ends_with("?notice=account-created"), "{location}");
    let (_, users) = app
        .get(&app.token, &format!("/api/v1/accounts/{account_id}/users"))
        .await;
    assert_eq!(users["items"][0]["email"], "first@managed.example");
    assert_eq!(b.get(&location).await.status, 200);
}

async fn the_phone_conflict_search_finds_the_holder(app: TestApp) {
    let account = app.create_account("Phones Co").await;
    let aid = account["id"].as_str().unwrap();
    let (status, user) = app
        .post(
            &app.token,
            &format!("/api/v1/accounts/{aid}/users"),
            &json!({ "first_name": "Pat", "last_name": "Phone", "email": "pat@phones.example", "mobile": "+16135922122" }),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    let b = partner_console(&app).await;
    let list = b.get(&format!("/console/a/{aid}/users")).await;
    assert!(
        list.body
            .contains(&format!("/console/a/{aid}/users/phone-conflicts"))
    );
    let found = b
        .get(&format!(
            "/console/a/{aid}/users/phone-conflicts?phone=%2B1%20613%20592%202122"
        ))
        .await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.body.matches("data-testid=\"holder\"").count(), 1);
    assert!(found.body.contains("pat@phones.example"));
    let none = b
        .get(&format!(
            "/console/a/{aid}/users/phone-conflicts?phone=%2B16135550000"
        ))
        .await;
    assert!(
        none.body
            .contains("No user of this account holds this number.")
    );
    let bad = b
        .get(&format!(
            "/console/a/{aid}/users/phone-conflicts?phone=call-me"
        ))
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("id=\"e-phone\""), "{}", bad.body);
}

backend_tests!(
    the_first_administrator_sets_a_password_with_the_setup_link,
    the_phone_conflict_search_finds_the_holder,
    the_outbox_is_only_for_the_partner_administrator,
    an_account_manager_adds_an_account_with_its_admin,
    bulk_actions_leave_a_notification_with_the_failures,
    the_frame_is_strict_and_needs_a_session,
    a_partner_adds_an_account_with_its_admin,
    forms_need_the_session_csrf_token,
    an_admin_adds_edits_deactivates_and_deletes_users,
    other_tenants_are_not_found_and_missing_rights_are_not_allowed,
    an_account_is_deactivated_and_reactivated_with_the_typed_word,
    column_choices_are_remembered_per_admin,
);
