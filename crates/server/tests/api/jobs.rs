//! Background jobs: the bulk user actions (welcome mail, password reset, delete) as jobs with progress, their
//! rights and validation, tenant isolation, cancelling, waiting with `?wait=`, the notification they leave,
//! the console's progress panel, and a job whose node died mid-way taken over without doing a user twice.
//!
//! The job worker runs in every test server; tests wait for jobs through the API, never by sleeping. Where a
//! test needs a job that does not finish at once, it plays a node that claimed the job (a row written through
//! the store with a lease on the server's manual clock), which the server's worker leaves alone.

use std::sync::Arc;

use serde_json::Value;
use skybridge_server::clock::ManualClock;
use skybridge_server::domain::policy::AccountScope;
use skybridge_server::store::Store;
use skybridge_server::store::jobs::{self, JobRow, Progress};
use skybridge_server::store::notifications::{self, NotificationRow};
use skybridge_testkit::reqwest::Method;
use skybridge_testkit::{TestApp, backend_tests, clock_tests, json};

use crate::console::{partner_console, submit};

const LEASE: i64 = 60_000_000;

fn s(v: &Value) -> String {
    v.as_str().unwrap().to_string()
}

/// Starts a bulk action as `token`; the answer's status, body and Location.
async fn bulk(app: &TestApp, token: &str, account: &str, body: &Value) -> (u16, Value, String) {
    let resp = app
        .send(
            token,
            Method::POST,
            &format!("/api/v1/accounts/{account}/users/bulk"),
            Some(body),
        )
        .await;
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body: Value = resp.json().await.unwrap();
    (status, body, location)
}

/// Starts a bulk action as the partner administrator and waits for its job to finish.
async fn run(app: &TestApp, account: &str, body: Value) -> Value {
    let (status, job, location) = bulk(app, &app.token, account, &body).await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(location, format!("/api/v1/jobs/{}", s(&job["id"])));
    wait(app, &s(&job["id"])).await
}

async fn wait(app: &TestApp, id: &str) -> Value {
    let (status, job) = app
        .get(&app.token, &format!("/api/v1/jobs/{id}?wait=20"))
        .await;
    assert_eq!(status, 200, "{job}");
    assert!(
        ["succeeded", "failed", "cancelled"].contains(&job["state"].as_str().unwrap()),
        "still not finished: {job}"
    );
    job
}

/// The partner administrator's notifications, newest first.
async fn notes(app: &TestApp) -> Vec<NotificationRow> {
    let mut db = app.store.handle().await.unwrap();
    notifications::list(
        &mut db,
        &AccountScope::for_system(app.partner_id.parse().unwrap()),
        app.admin_id.parse().unwrap(),
    )
    .await
    .unwrap()
}

/// (recipient, kind) of the account's mail.
async fn mail(app: &TestApp, account: &str) -> Vec<(String, String)> {
    let (status, list) = app
        .get(&app.token, &format!("/api/v1/accounts/{account}/mail"))
        .await;
    assert_eq!(status, 200, "{list}");
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| (s(&m["recipient"]), s(&m["kind"])))
        .collect()
}

fn count(mail: &[(String, String)], to: &str, kind: &str) -> usize {
    mail.iter().filter(|(r, k)| r == to && k == kind).count()
}

async fn user_ids(app: &TestApp, account: &str) -> Vec<String> {
    let (_, page) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{account}/users?limit=200"),
        )
        .await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| s(&u["id"]))
        .collect()
}

async fn events(app: &TestApp, account: &str, query: &str) -> Vec<Value> {
    let (status, page) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{account}/events?{query}&limit=200"),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

/// Creates `n` users named `prefix-i@…` in `account`; their ids in order.
async fn users(app: &TestApp, account: &str, prefix: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let (u, _) = app
            .create_user(account, &format!("{prefix}-{i}@jobs.example"), "user")
            .await;
        ids.push(s(&u["id"]));
    }
    ids
}

async fn bulk_welcome_for_selected_and_all_users(app: TestApp) {
    let account = app.create_account("Welcome Co").await;
    let aid = s(&account["id"]);
    let ids = users(&app, &aid, "w", 3).await;
    // One user registers: welcome mail is not for it.
    let (status, _) = app
        .call(
            &app.token,
            Method::PUT,
            &format!("/api/v1/accounts/{aid}/users/{}/password", ids[2]),
            Some(&json!({ "password": "correct horse battery" })),
        )
        .await;
    assert_eq!(status, 204);

    let (status, created, _) = bulk(
        &app,
        &app.token,
        &aid,
        &json!({ "action": "welcome", "user_ids": [ids[0], ids[1]] }),
    )
    .await;
    assert_eq!(status, 202, "{created}");
    assert_eq!(created["kind"], "users_welcome");
    assert_eq!(created["total"], 2);
    assert!(["queued", "running", "succeeded"].contains(&created["state"].as_str().unwrap()));
    let job = wait(&app, &s(&created["id"])).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(
        (job["done"].clone(), job["failed"].clone()),
        (json!(2), json!(0))
    );
    assert_eq!(job["summary"], "Send welcome emails: 2 of 2 users");
    assert!(job["finished_at"].is_string());
    let m = mail(&app, &aid).await;
    // One welcome when each user was added, and one from the job.
    assert_eq!(count(&m, "w-0@jobs.example", "welcome"), 2);
    assert_eq!(count(&m, "w-1@jobs.example", "welcome"), 2);
    assert_eq!(count(&m, "w-2@jobs.example", "welcome"), 1);
    let n = notes(&app).await;
    assert_eq!(n[0].title, "Send welcome emails: 2 of 2 users");
    assert_eq!(n[0].status, "success");
    assert_eq!(n[0].detail, None);
    // The job's creation is in the event history, as is each mail.
    let created_events = events(&app, &aid, "asset=Job&action=Create").await;
    assert_eq!(created_events.len(), 1);

    // "all": the active users not registered yet.
    let job = run(&app, &aid, json!({ "action": "welcome", "all": true })).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(
        (job["total"].clone(), job["done"].clone()),
        (json!(2), json!(2))
    );
    let m = mail(&app, &aid).await;
    assert_eq!(count(&m, "w-0@jobs.example", "welcome"), 3);
    assert_eq!(count(&m, "w-2@jobs.example", "welcome"), 1);

    // Naming the registered user: skipped, with why.
    let job = run(
        &app,
        &aid,
        json!({ "action": "welcome", "user_ids": [ids[2], ids[0]] }),
    )
    .await;
    assert_eq!(
        (job["done"].clone(), job["failed"].clone()),
        (json!(1), json!(1))
    );
    assert!(
        s(&job["skipped"][0]).contains("w-2@jobs.example")
            && s(&job["skipped"][0]).contains("already registered"),
        "{job}"
    );
    let n = notes(&app).await;
    assert_eq!(n[0].title, "Send welcome emails: 1 of 2 users");
    assert_eq!(n[0].status, "error");
    assert!(
        n[0].detail
            .as_deref()
            .unwrap()
            .contains("already registered")
    );

    // The account's list, newest first, with the state filter.
    let (status, list) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{aid}/jobs?state=succeeded&created_by=me&limit=2"),
        )
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert_eq!(list["items"][0]["id"], job["id"]);
    let (_, rest) = app
        .get(
            &app.token,
            &format!(
                "/api/v1/accounts/{aid}/jobs?state=succeeded&limit=2&cursor={}",
                s(&list["next_cursor"])
            ),
        )
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest.get("next_cursor").is_none());
    let (status, _) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{aid}/jobs?state=done"),
        )
        .await;
    assert_eq!(status, 400);
}

async fn bulk_reset_mails_each_selected_user(app: TestApp) {
    let account = app.create_account("Reset Co").await;
    let aid = s(&account["id"]);
    let ids = users(&app, &aid, "r", 2).await;
    // Another tenant's user is not found here, like one that does not exist.
    let other = app.create_account("Elsewhere").await;
    let (stranger, _) = app
        .create_user(&s(&other["id"]), "stranger@jobs.example", "user")
        .await;
    let job = run(
        &app,
        &aid,
        json!({ "action": "reset", "user_ids": [ids[0], s(&stranger["id"]), ids[1], ids[0]] }),
    )
    .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    // The duplicate is dropped when the job is created.
    assert_eq!(job["total"], 3);
    assert_eq!(
        (job["done"].clone(), job["failed"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(
        job["skipped"],
        json!([format!("user {}: user not found", s(&stranger["id"]))])
    );
    let m = mail(&app, &aid).await;
    assert_eq!(count(&m, "r-0@jobs.example", "reset"), 1);
    assert_eq!(count(&m, "r-1@jobs.example", "reset"), 1);
    assert!(
        mail(&app, &s(&other["id"]))
            .await
            .iter()
            .all(|(_, k)| k != "reset")
    );
    let n = notes(&app).await;
    assert_eq!(n[0].title, "Reset passwords: 2 of 3 users");
    assert!(n[0].detail.as_deref().unwrap().contains("user not found"));
    let edits = events(&app, &aid, "asset=User&action=Edit&tag=reset_mail").await;
    assert_eq!(edits.len(), 2);
}

/// Marks a user as synced from MiCloud Connect (no API creates one).
async fn make_micloud_user(store: &Store, id: &str) {
    let sql = "UPDATE users SET source = 'micloud_connect' WHERE id = $1";
    match store {
        Store::Sqlite(pool, _) => {
            sqlx::query(sql).bind(id).execute(pool).await.unwrap();
        }
        Store::Postgres(pool) => {
            sqlx::query(sql).bind(id).execute(pool).await.unwrap();
        }
    }
}

async fn bulk_delete_needs_the_word_and_skips_protected_users(app: TestApp) {
    let account = app.create_account("Delete Co").await;
    let aid = s(&account["id"]);
    let ids = users(&app, &aid, "d", 3).await;
    make_micloud_user(&app.store, &ids[2]).await;
    let (admin, admin_token) = app
        .create_user(&aid, "boss@jobs.example", "account_admin")
        .await;
    let admin_id = s(&admin["id"]);
    let all_four = json!([ids[0], ids[1], ids[2], admin_id]);

    // Without the word, or with another: 400 naming `confirm`, and no job.
    for confirm in [None, Some("Delete"), Some("remove")] {
        let mut body = json!({ "action": "delete", "user_ids": all_four });
        if let Some(c) = confirm {
            body["confirm"] = json!(c);
        }
        let (status, problem, _) = bulk(&app, &admin_token, &aid, &body).await;
        assert_eq!(status, 400, "{problem}");
        assert_eq!(problem["field"], "confirm");
    }
    let (_, list) = app
        .get(&app.token, &format!("/api/v1/accounts/{aid}/jobs"))
        .await;
    assert_eq!(list["items"], json!([]));
    assert_eq!(user_ids(&app, &aid).await.len(), 4);

    // With it, as the account's admin: two deleted; the MiCloud Connect user and the admin itself skipped.
    let (status, created, _) = bulk(
        &app,
        &admin_token,
        &aid,
        &json!({ "action": "delete", "user_ids": all_four, "confirm": "delete" }),
    )
    .await;
    assert_eq!(status, 202, "{created}");
    let job = wait(&app, &s(&created["id"])).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(
        (job["done"].clone(), job["failed"].clone()),
        (json!(2), json!(2))
    );
    assert_eq!(job["summary"], "Delete users: 2 of 4 users");
    assert_eq!(job["created_by"], admin_id);
    let skipped: Vec<String> = job["skipped"].as_array().unwrap().iter().map(s).collect();
    assert!(
        skipped[0].starts_with("Test d-2 (d-2@jobs.example): ")
            && skipped[0].contains("MiCloud Connect"),
        "{skipped:?}"
    );
    assert!(
        skipped[1].contains("boss@jobs.example") && skipped[1].contains("yourself"),
        "{skipped:?}"
    );
    let left = user_ids(&app, &aid).await;
    assert_eq!(left.len(), 2);
    assert!(left.contains(&ids[2]) && left.contains(&admin_id));
    // An audit event per deleted user, by the admin.
    let deleted = events(&app, &aid, "asset=User&action=Delete").await;
    assert_eq!(deleted.len(), 2);
    assert!(
        deleted.iter().all(|e| e["actor_id"] == admin_id.as_str()),
        "{deleted:?}"
    );
    // The admin's notification lists each skipped user and why.
    let mut db = app.store.handle().await.unwrap();
    let theirs = notifications::list(
        &mut db,
        &AccountScope::for_system(aid.parse().unwrap()),
        admin_id.parse().unwrap(),
    )
    .await
    .unwrap();
    drop(db);
    assert_eq!(theirs[0].title, "Delete users: 2 of 4 users");
    assert_eq!(theirs[0].status, "error");
    let detail = theirs[0].detail.clone().unwrap();
    assert_eq!(detail.lines().count(), 2, "{detail}");
    assert!(detail.contains("d-2@jobs.example") && detail.contains("boss@jobs.example"));

    // Partner users are protected.
    let (partner_user, _) = app
        .create_user(&app.partner_id, "colleague@jobs.example", "partner")
        .await;
    let job = run(
        &app,
        &app.partner_id,
        json!({ "action": "delete", "user_ids": [s(&partner_user["id"])], "confirm": "delete" }),
    )
    .await;
    assert_eq!(
        (job["done"].clone(), job["failed"].clone()),
        (json!(0), json!(1))
    );
    assert!(
        s(&job["skipped"][0]).contains("partner users cannot be deleted"),
        "{job}"
    );
}

async fn bulk_actions_are_validated_and_need_the_right(app: TestApp) {
    let account = app.create_account("Rights Co").await;
    let aid = s(&account["id"]);
    let ids = users(&app, &aid, "p", 1).await;
    let (_, plain) = app.create_user(&aid, "plain@jobs.example", "user").await;
    let path = format!("/api/v1/accounts/{aid}/users/bulk");
    for (body, field) in [
        (json!({ "action": "promote", "user_ids": ids }), "action"),
        (json!({ "action": "welcome", "user_ids": [] }), "user_ids"),
        (json!({ "action": "welcome" }), "user_ids"),
        (
            json!({ "action": "welcome", "user_ids": ids, "all": true }),
            "all",
        ),
        (
            json!({ "action": "reset", "user_ids": ["nope"] }),
            "user_ids[0]",
        ),
    ] {
        let (status, problem) = app.post(&app.token, &path, &body).await;
        assert_eq!(status, 400, "{body}: {problem}");
        assert_eq!(problem["field"], field, "{problem}");
        assert_eq!(problem["type"], "urn:skybridge:problem:validation");
    }
    let (status, problem) = app
        .post(
            &app.token,
            &path,
            &json!({ "action": "welcome", "user_ids": ids, "extra": 1 }),
        )
        .await;
    assert_eq!(status, 400, "{problem}");
    // More than 50,000 ids (over the API's usual 1 MiB, under this route's limit): refused by count.
    let many: Vec<String> = (0..50_001)
        .map(|_| uuid::Uuid::now_v7().to_string())
        .collect();
    let (status, problem) = app
        .post(
            &app.token,
            &path,
            &json!({ "action": "reset", "user_ids": many }),
        )
        .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["field"], "user_ids");
    assert!(s(&problem["detail"]).contains("50000"), "{problem}");

    // A user without the rights: 403 for each action, nothing started.
    for body in [
        json!({ "action": "welcome", "user_ids": ids }),
        json!({ "action": "reset", "all": true }),
        json!({ "action": "delete", "user_ids": ids, "confirm": "delete" }),
    ] {
        let (status, problem) = app.post(&plain, &path, &body).await;
        assert_eq!(status, 403, "{body}: {problem}");
    }
    // Another tenant's account: not found.
    let other = app.create_account("Other Rights Co").await;
    let (_, outsider) = app
        .create_user(&s(&other["id"]), "boss@other.example", "account_admin")
        .await;
    let (status, _) = app
        .post(
            &outsider,
            &path,
            &json!({ "action": "welcome", "all": true }),
        )
        .await;
    assert_eq!(status, 404);
    let (_, list) = app
        .get(&app.token, &format!("/api/v1/accounts/{aid}/jobs"))
        .await;
    assert_eq!(list["items"], json!([]));
    assert!(events(&app, &aid, "asset=Job").await.is_empty());
}

async fn another_tenants_job_is_not_found(app: TestApp) {
    let account = app.create_account("Mine Co").await;
    let aid = s(&account["id"]);
    let ids = users(&app, &aid, "t", 1).await;
    let job = run(&app, &aid, json!({ "action": "reset", "user_ids": ids })).await;
    let id = s(&job["id"]);
    let jpath = format!("/api/v1/jobs/{id}");

    // The account's own admin may view Users there: it sees the partner's job.
    let (_, admin) = app
        .create_user(&aid, "admin@mine.example", "account_admin")
        .await;
    let (status, seen) = app.get(&admin, &jpath).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["id"], id.as_str());
    // A user of the account without Users VIEW: not allowed.
    let (_, plain) = app.create_user(&aid, "plain@mine.example", "user").await;
    assert_eq!(app.get(&plain, &jpath).await.0, 403);

    // Another tenant: 404 for the job, its cancel and the account's list — as for no job at all.
    let other = app.create_account("Theirs Co").await;
    let (_, outsider) = app
        .create_user(&s(&other["id"]), "admin@theirs.example", "account_admin")
        .await;
    for (method, path) in [
        (Method::GET, jpath.clone()),
        (Method::GET, format!("{jpath}?wait=1")),
        (Method::POST, format!("{jpath}/cancel")),
        (Method::GET, format!("/api/v1/accounts/{aid}/jobs")),
        (
            Method::GET,
            format!("/api/v1/jobs/{}", uuid::Uuid::now_v7()),
        ),
        (Method::GET, "/api/v1/jobs/not-a-job".to_string()),
    ] {
        let (status, problem) = app.call(&outsider, method.clone(), &path, None).await;
        assert_eq!(status, 404, "{method} {path}: {problem}");
    }
    let (status, _) = app.get(&app.token, &format!("{jpath}?wait=31")).await;
    assert_eq!(status, 400);
}

/// A job row as a node that claimed it writes it: running under a lease on the server's (manual) clock, with
/// `ids` as its items. The server's worker leaves it alone until the lease runs out.
async fn claimed_job(
    app: &TestApp,
    clock: &ManualClock,
    account: &str,
    kind: &str,
    ids: &[String],
) -> JobRow {
    claimed_job_by(
        app,
        clock,
        account,
        kind,
        ids,
        (&app.admin_id, &app.partner_id),
    )
    .await
}

/// As [`claimed_job`], started by `creator` (user id, its account id).
async fn claimed_job_by(
    app: &TestApp,
    clock: &ManualClock,
    account: &str,
    kind: &str,
    ids: &[String],
    creator: (&str, &str),
) -> JobRow {
    use skybridge_server::clock::Clock;
    let now = clock.now_micros();
    let row = JobRow {
        id: uuid::Uuid::now_v7().to_string(),
        account_id: account.to_string(),
        created_by: creator.0.to_string(),
        created_by_account: creator.1.to_string(),
        kind: kind.into(),
        params: json!({ "all": false }).to_string(),
        state: "running".into(),
        total: ids.len() as i64,
        done: 0,
        failed: 0,
        position: None,
        result: None,
        summary: None,
        error: None,
        attempts: 1,
        lease_until: now + LEASE,
        created_at: now,
        started_at: Some(now),
        finished_at: None,
    };
    let mut tx = app.store.begin().await.unwrap();
    jobs::insert(&mut tx, &scope(account), &row, ids)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    row
}

fn scope(account: &str) -> AccountScope {
    AccountScope::for_system(account.parse().unwrap())
}

async fn a_job_is_cancelled_and_its_node_stops(app: TestApp, clock: Arc<ManualClock>) {
    let account = app.create_account("Cancel Co").await;
    let aid = s(&account["id"]);
    let ids = users(&app, &aid, "c", 3).await;
    let job = claimed_job(&app, &clock, &aid, "users_reset", &ids).await;
    let jpath = format!("/api/v1/jobs/{}", job.id);
    // Waiting on a job that does not finish answers when the time is up, with the job as it stands.
    let (status, seen) = app.get(&app.token, &format!("{jpath}?wait=1")).await;
    assert_eq!(status, 200);
    assert_eq!(seen["state"], "running");

    let (status, cancelled) = app
        .call(&app.token, Method::POST, &format!("{jpath}/cancel"), None)
        .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["state"], "cancelled");
    assert_eq!(
        cancelled["summary"],
        "Reset passwords: 0 of 3 users (cancelled)"
    );
    // The node that held it finds out at its next chunk, and writes nothing more.
    let mut tx = app.store.begin().await.unwrap();
    assert!(
        !jobs::hold(&mut tx, &scope(&aid), &job.id, 1, i64::MAX)
            .await
            .unwrap()
    );
    let p = Progress {
        total: 3,
        done: 1,
        failed: 0,
        position: Some("1".into()),
        result: None,
    };
    assert!(
        !jobs::progress(&mut tx, &scope(&aid), &job.id, 1, &p)
            .await
            .unwrap()
    );
    drop(tx);
    // Nothing more is claimed or done, even once the lease has run out.
    clock.advance(2 * LEASE);
    let (_, seen) = app.get(&app.token, &format!("{jpath}?wait=2")).await;
    assert_eq!(
        (seen["state"].clone(), seen["done"].clone()),
        (json!("cancelled"), json!(0))
    );
    assert!(mail(&app, &aid).await.iter().all(|(_, k)| k != "reset"));
    let (status, _) = app
        .call(&app.token, Method::POST, &format!("{jpath}/cancel"), None)
        .await;
    assert_eq!(status, 409);
    assert_eq!(
        notes(&app).await[0].title,
        "Reset passwords: 0 of 3 users (cancelled)"
    );
    assert_eq!(events(&app, &aid, "asset=Job&action=Edit").await.len(), 1);
}

async fn an_abandoned_job_is_taken_over_without_redoing_users(
    app: TestApp,
    clock: Arc<ManualClock>,
) {
    let account = app.create_account("Crash Co").await;
    let aid = s(&account["id"]);
    let ids = users(&app, &aid, "x", 5).await;
    let job = claimed_job(&app, &clock, &aid, "users_reset", &ids).await;
    // The node does the first two users, as the job would (the same API code, as the creator), and commits
    // its progress; then it dies.
    for id in &ids[..2] {
        let (status, body) = app
            .call(
                &app.token,
                Method::POST,
                &format!("/api/v1/accounts/{aid}/users/{id}/reset-password"),
                None,
            )
            .await;
        assert_eq!(status, 202, "{body}");
    }
    let mut tx = app.store.begin().await.unwrap();
    assert!(
        jobs::hold(&mut tx, &scope(&aid), &job.id, 1, job.lease_until)
            .await
            .unwrap()
    );
    let p = Progress {
        total: 5,
        done: 2,
        failed: 0,
        position: Some("2".into()),
        result: None,
    };
    assert!(
        jobs::progress(&mut tx, &scope(&aid), &job.id, 1, &p)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    // While the lease holds, nobody else takes the job.
    let (_, seen) = app
        .get(&app.token, &format!("/api/v1/jobs/{}?wait=1", job.id))
        .await;
    assert_eq!(
        (seen["state"].clone(), seen["done"].clone()),
        (json!("running"), json!(2))
    );

    clock.advance(LEASE + 1);
    let done = wait(&app, &job.id).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(
        (
            done["total"].clone(),
            done["done"].clone(),
            done["failed"].clone()
        ),
        (json!(5), json!(5), json!(0))
    );
    // Each user got exactly one reset mail and one audit event.
    let m = mail(&app, &aid).await;
    for i in 0..5 {
        assert_eq!(
            count(&m, &format!("x-{i}@jobs.example"), "reset"),
            1,
            "user {i}: {m:?}"
        );
    }
    assert_eq!(
        events(&app, &aid, "asset=User&action=Edit&tag=reset_mail")
            .await
            .len(),
        5
    );
    // The dead node, back, is fenced off: its claim no longer holds.
    let mut tx = app.store.begin().await.unwrap();
    assert!(
        !jobs::progress(&mut tx, &scope(&aid), &job.id, 1, &p)
            .await
            .unwrap()
    );
    drop(tx);
    assert_eq!(notes(&app).await[0].title, "Reset passwords: 5 of 5 users");
}

async fn the_console_shows_a_jobs_progress(app: TestApp, clock: Arc<ManualClock>) {
    let account = app.create_account("Panel Co").await;
    let aid = s(&account["id"]);
    let ids = users(&app, &aid, "v", 2).await;
    let b = partner_console(&app).await;
    let list = b.get(&format!("/console/a/{aid}/users")).await;
    assert!(
        list.body.contains("<div id=\"jobs\"></div>"),
        "no panel without jobs"
    );

    // A running job of this admin: a progress bar, polled every second, and a Refresh link without JavaScript.
    let job = claimed_job(&app, &clock, &aid, "users_welcome", &ids).await;
    let mut tx = app.store.begin().await.unwrap();
    jobs::hold(&mut tx, &scope(&aid), &job.id, 1, job.lease_until)
        .await
        .unwrap();
    let p = Progress {
        total: 2,
        done: 1,
        failed: 0,
        position: Some("1".into()),
        result: None,
    };
    jobs::progress(&mut tx, &scope(&aid), &job.id, 1, &p)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let page = b.get(&format!("/console/a/{aid}/users")).await;
    assert!(
        page.body.contains("<progress value=\"1\" max=\"2\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("1 of 2 users"));
    assert!(
        page.body
            .contains(&format!("hx-get=\"/console/a/{aid}/users/jobs\""))
    );
    assert!(page.body.contains("hx-trigger=\"every 1s\""));
    assert!(page.body.contains(">Refresh</a>"));
    assert!(!page.body.contains(" style="));
    let fragment = b.get(&format!("/console/a/{aid}/users/jobs")).await;
    assert_eq!(fragment.status, 200);
    assert!(
        fragment
            .body
            .trim_start()
            .starts_with("<section id=\"jobs\""),
        "{}",
        fragment.body
    );
    assert!(!fragment.body.contains("<html"));
    // Cancel from the panel.
    let r = submit(
        &b,
        &page,
        &format!("/console/a/{aid}/users/jobs/{}/cancel", job.id),
        &[],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location_params()["notice"], "job-cancelled");

    // Manage: a welcome job; the page it lands on shows it, finished, with the summary and the notification.
    let r = submit(
        &b,
        &list,
        &format!("/console/a/{aid}/users/manage"),
        &[("action", "welcome_all")],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let params = r.location_params();
    assert_eq!(params["notice"], "job-started");
    let done = wait(&app, &params["job"]).await;
    assert_eq!(done["summary"], "Send welcome emails: 2 of 2 users");
    let page = b.get(r.location.as_deref().unwrap()).await;
    assert!(
        page.body.contains("Send welcome emails: 2 of 2 users"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("href=\"/console/notifications\">See the notification</a>")
    );
    assert!(
        !page.body.contains("hx-trigger=\"every 1s\""),
        "nothing runs: no polling"
    );
}

/// More users than one chunk holds: the job walks them in several transactions, by item number for a
/// selection and by id for "all", and its progress reaches the total.
async fn a_large_job_runs_in_chunks(app: TestApp) {
    let account = app.create_account("Large Co").await;
    let aid = s(&account["id"]);
    let path = format!("/api/v1/accounts/{aid}/users");
    let mut ids = Vec::new();
    for i in 0..230 {
        let (status, u) = app
            .post(
                &app.token,
                &path,
                &json!({ "first_name": "Bulk", "last_name": format!("No{i}"), "email": format!("bulk{i}@large.example") }),
            )
            .await;
        assert_eq!(status, 201, "{u}");
        ids.push(s(&u["id"]));
    }
    // An inactive user is not among "all" for a reset.
    let (status, _) = app
        .patch(
            &app.token,
            &format!("{path}/{}", ids[229]),
            &json!({ "active": false }),
        )
        .await;
    assert_eq!(status, 200);

    let job = run(&app, &aid, json!({ "action": "reset", "all": true })).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(
        (
            job["total"].clone(),
            job["done"].clone(),
            job["failed"].clone()
        ),
        (json!(229), json!(229), json!(0))
    );
    let resets = events(&app, &aid, "asset=User&action=Edit&tag=reset_mail").await;
    assert_eq!(resets.len(), 200, "a page of them (limit 200)");

    // A selection of 205 in reverse order, one of them twice and one unknown: all but the unknown deleted.
    let mut selection: Vec<String> = ids[..204].iter().rev().cloned().collect();
    selection.push(ids[0].clone());
    selection.push(uuid::Uuid::now_v7().to_string());
    let job = run(
        &app,
        &aid,
        json!({ "action": "delete", "user_ids": selection, "confirm": "delete" }),
    )
    .await;
    assert_eq!(
        (
            job["total"].clone(),
            job["done"].clone(),
            job["failed"].clone()
        ),
        (json!(205), json!(204), json!(1))
    );
    assert_eq!(
        user_ids(&app, &aid).await.len(),
        25,
        "the 25 not selected are left, the inactive one hidden"
    );
}

/// The job acts as its creator as it is when each chunk runs: an admin demoted meanwhile no longer may, and
/// the job fails with that reason, telling the creator.
async fn a_job_stops_when_its_creator_lost_the_right(app: TestApp, clock: Arc<ManualClock>) {
    let account = app.create_account("Demoted Co").await;
    let aid = s(&account["id"]);
    let ids = users(&app, &aid, "z", 2).await;
    let (admin, _) = app
        .create_user(&aid, "demoted@jobs.example", "account_admin")
        .await;
    let admin_id = s(&admin["id"]);
    let job = claimed_job_by(&app, &clock, &aid, "users_delete", &ids, (&admin_id, &aid)).await;
    let (status, _) = app
        .patch(
            &app.token,
            &format!("/api/v1/accounts/{aid}/users/{}", s(&admin["id"])),
            &json!({ "role": "user" }),
        )
        .await;
    assert_eq!(status, 200);
    clock.advance(LEASE + 1);
    let done = wait(&app, &job.id).await;
    assert_eq!(done["state"], "failed", "{done}");
    assert!(s(&done["error"]).contains("no longer allowed"), "{done}");
    assert_eq!(done["summary"], "Delete users: 0 of 2 users (stopped)");
    assert_eq!(user_ids(&app, &aid).await.len(), 3, "nobody deleted");
    let mut db = app.store.handle().await.unwrap();
    let theirs = notifications::list(
        &mut db,
        &AccountScope::for_system(aid.parse().unwrap()),
        s(&admin["id"]).parse().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(theirs[0].status, "error");
    assert!(
        theirs[0]
            .detail
            .as_deref()
            .unwrap()
            .starts_with("Stopped: you are no longer allowed")
    );
}

async fn jobs_are_in_the_openapi_document(app: TestApp) {
    let (status, doc) = app.get(&app.token, "/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    for (path, method) in [
        ("/api/v1/accounts/{account}/users/bulk", "post"),
        ("/api/v1/jobs/{id}", "get"),
        ("/api/v1/jobs/{id}/cancel", "post"),
        ("/api/v1/accounts/{account}/jobs", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    assert!(doc["components"]["schemas"]["JobOut"].is_object());
    assert!(doc["components"]["schemas"]["BulkAction"].is_object());
}

backend_tests!(
    jobs_are_in_the_openapi_document,
    a_large_job_runs_in_chunks,
    bulk_welcome_for_selected_and_all_users,
    bulk_reset_mails_each_selected_user,
    bulk_delete_needs_the_word_and_skips_protected_users,
    bulk_actions_are_validated_and_need_the_right,
    another_tenants_job_is_not_found,
);

/// A job whose node stopped is not left looking as if it ran: once its claim has gone unrenewed for half the
/// lease, the API reports it recovering (with when it resumes at the latest) and the console's panel says it
/// is being resumed; then another node takes it over and it finishes.
async fn a_stalled_job_is_reported_as_recovering(app: TestApp, clock: Arc<ManualClock>) {
    use skybridge_server::clock::rfc3339;
    let account = app.create_account("Stall Co").await;
    let aid = s(&account["id"]);
    let ids = users(&app, &aid, "st", 2).await;
    let job = claimed_job(&app, &clock, &aid, "users_welcome", &ids).await;
    let jpath = format!("/api/v1/jobs/{}", job.id);
    let (_, seen) = app.get(&app.token, &jpath).await;
    assert_eq!(
        (
            seen["state"].clone(),
            seen["recovering"].clone(),
            seen["resumes_by"].clone()
        ),
        (json!("running"), json!(false), Value::Null)
    );
    let b = partner_console(&app).await;
    let page = b.get(&format!("/console/a/{aid}/users")).await;
    assert!(page.body.contains("In progress"), "{}", page.body);
    assert!(!page.body.contains("job-recovering"));

    // Its node stopped right after claiming it: 31 s later nobody has renewed the claim.
    clock.advance(LEASE / 2 + 1_000_000);
    let (_, seen) = app.get(&app.token, &jpath).await;
    assert_eq!(seen["state"], "running");
    assert_eq!(seen["recovering"], true, "{seen}");
    assert_eq!(seen["resumes_by"], rfc3339(job.lease_until), "{seen}");
    let (_, listed) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{aid}/jobs?state=running"),
        )
        .await;
    assert_eq!(listed["items"][0]["recovering"], true, "{listed}");
    let fragment = b.get(&format!("/console/a/{aid}/users/jobs")).await;
    assert!(fragment.body.contains("Being resumed"), "{}", fragment.body);
    assert!(
        fragment.body.contains("data-testid=\"job-recovering\""),
        "{}",
        fragment.body
    );
    assert!(
        fragment.body.contains("hx-trigger=\"every 1s\""),
        "still polled"
    );

    // The lease runs out: this server's worker takes it over and finishes it.
    clock.advance(LEASE / 2);
    let done = wait(&app, &job.id).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["recovering"], false);
    assert_eq!(done["resumes_by"], Value::Null);
}

/// SQLite is one node's store: a job it shows running when the server starts was cut off by that server's
/// stop (kill -9) and is resumed at once, not after its lease.
#[tokio::test]
async fn a_restarted_node_resumes_its_cut_off_jobs_at_once() {
    use skybridge_server::{Application, app::Parts};
    let (app, clock) = TestApp::with_manual_clock(skybridge_testkit::Backend::Sqlite).await;
    let account = app.create_account("Restart Co").await;
    let aid = s(&account["id"]);
    let ids = users(&app, &aid, "rs", 3).await;
    // The node that claimed it is killed; its lease still has a minute to run, and the clock stands still.
    let job = claimed_job(&app, &clock, &aid, "users_welcome", &ids).await;

    // The server starts again on the same store.
    let mut config = app.config.clone();
    config.listen = "127.0.0.1:0".parse().unwrap();
    let restarted = Application::build_with(
        config,
        Parts {
            clock: Some(clock.clone()),
            store: Some(app.store.clone()),
            hasher: None,
            background: false,
        },
    )
    .await
    .unwrap();
    assert!(restarted.bootstrapped.is_none());
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(restarted.run_until(stop.clone()));

    let done = wait(&app, &job.id).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["done"], 3);
    stop.cancel();
    running.await.unwrap().unwrap();
}

clock_tests!(
    a_stalled_job_is_reported_as_recovering,
    a_job_stops_when_its_creator_lost_the_right,
    a_job_is_cancelled_and_its_node_stops,
    an_abandoned_job_is_taken_over_without_redoing_users,
    the_console_shows_a_jobs_progress,
);
