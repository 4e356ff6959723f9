//! Bulk import of users (issue 6, spec §9) through the API: the template, an upload previewed, fixed and
//! committed as a job (no welcome mail, an event per user, invalid rows left staged), a commit whose node died
//! taken over without creating a row twice, sheets written by LibreOffice, every kind of bad file refused with
//! a sentence and nothing staged, and the users export.
//!
//! LibreOffice (Debian's `libreoffice-calc`; scripts/test.sh installs it) writes the fixtures the way a person
//! saving from Calc would: `soffice --headless --convert-to` from a hand-written CSV, each test with its own
//! profile directory, since two conversions cannot share one. Without it the tests that need it are skipped
//! with a message, except under CI, where that fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use serde_json::Value;
use skybridge_server::clock::{Clock, ManualClock};
use skybridge_server::domain::policy::AccountScope;
use skybridge_server::store::imports as import_store;
use skybridge_server::store::jobs::{self as job_store, JobRow};
use skybridge_sheet::{Limits, read_table};
use skybridge_testkit::reqwest::Method;
use skybridge_testkit::{TestApp, backend_tests, clock_tests, json, url_encode};

const HEADER: &str = "FIRST NAME,LAST NAME,NAME,EMAIL,ROLE";

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_string()
}

/// Uploads `bytes` as `file_name` into `account` as `token`: the status and the decoded answer.
async fn upload(
    app: &TestApp,
    token: &str,
    account: &str,
    file_name: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    let resp = app
        .http
        .post(app.url(&format!(
            "/api/v1/accounts/{account}/imports?file_name={}",
            url_encode(file_name)
        )))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .expect("upload sent");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body read");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Uploads a sheet as the partner administrator, which must be staged; the import.
async fn stage(app: &TestApp, account: &str, file_name: &str, bytes: Vec<u8>) -> Value {
    let (status, import) = upload(app, &app.token, account, file_name, bytes).await;
    assert_eq!(status, 201, "{import}");
    import
}

fn import_path(account: &str, import: &Value) -> String {
    format!("/api/v1/accounts/{account}/imports/{}", s(&import["id"]))
}

/// The import and every staged row, by line.
async fn preview(app: &TestApp, account: &str, import: &Value) -> (Value, BTreeMap<i64, Value>) {
    let mut rows = BTreeMap::new();
    let mut after = 0;
    loop {
        let (status, page) = app
            .get(
                &app.token,
                &format!("{}?limit=200&after={after}", import_path(account, import)),
            )
            .await;
        assert_eq!(status, 200, "{page}");
        for r in page["items"].as_array().unwrap() {
            rows.insert(r["line"].as_i64().unwrap(), r.clone());
        }
        match page["next_after"].as_i64() {
            Some(n) => after = n,
            None => return (page["import"].clone(), rows),
        }
    }
}

/// (column, code) of each issue of a row.
type Codes = Vec<(String, String)>;

/// (email, display name, first name, last name, role, source) of a user.
type UserLine<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    &'a str,
    &'a str,
);

/// (column, code) of a row's issues.
fn codes(row: &Value) -> Codes {
    row["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (s(&i["column"]), s(&i["code"])))
        .collect()
}

fn issue(column: &str, code: &str) -> (String, String) {
    (column.to_string(), code.to_string())
}

/// The message of a row's issue with `code`.
fn message(row: &Value, code: &str) -> String {
    row["issues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == code)
        .map(|i| s(&i["message"]))
        .unwrap_or_else(|| panic!("no {code} issue in {row}"))
}

/// Commits an import: the job as the commit answered it.
async fn start_commit(app: &TestApp, account: &str, import: &Value) -> Value {
    let resp = app
        .send(
            &app.token,
            Method::POST,
            &format!("{}/commit", import_path(account, import)),
            None,
        )
        .await;
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let job: Value = resp.json().await.unwrap();
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["kind"], "import_commit");
    assert_eq!(location, format!("/api/v1/jobs/{}", s(&job["id"])));
    job
}

/// Waits for a job to finish, through the API's long poll.
async fn wait(app: &TestApp, job: &str) -> Value {
    let (status, job) = app
        .get(&app.token, &format!("/api/v1/jobs/{job}?wait=30"))
        .await;
    assert_eq!(status, 200, "{job}");
    assert!(
        ["succeeded", "failed", "cancelled"].contains(&job["state"].as_str().unwrap()),
        "still not finished: {job}"
    );
    job
}

/// Commits and waits: the finished job.
async fn commit(app: &TestApp, account: &str, import: &Value) -> Value {
    let job = start_commit(app, account, import).await;
    wait(app, &s(&job["id"])).await
}

/// The account's users by lower-cased e-mail.
async fn users(app: &TestApp, account: &str) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = app
            .get(
                &app.token,
                &format!("/api/v1/accounts/{account}/users?limit=200{cursor}"),
            )
            .await;
        assert_eq!(status, 200, "{page}");
        for u in page["items"].as_array().unwrap() {
            out.insert(s(&u["email"]).to_lowercase(), u.clone());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={}", url_encode(c)),
            None => return out,
        }
    }
}

/// The account's events matching `query`.
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

/// The recipients of the account's mail.
async fn mail(app: &TestApp, account: &str) -> Vec<String> {
    let (status, list) = app
        .get(&app.token, &format!("/api/v1/accounts/{account}/mail"))
        .await;
    assert_eq!(status, 200, "{list}");
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| s(&m["recipient"]))
        .collect()
}

async fn imports(app: &TestApp, account: &str) -> Vec<Value> {
    let (status, list) = app
        .get(&app.token, &format!("/api/v1/accounts/{account}/imports"))
        .await;
    assert_eq!(status, 200, "{list}");
    list.as_array().unwrap().clone()
}

async fn account(app: &TestApp, name: &str) -> String {
    s(&app.create_account(name).await["id"])
}

fn csv(lines: &[&str]) -> Vec<u8> {
    let mut text = lines.join("\r\n");
    text.push_str("\r\n");
    text.into_bytes()
}

// --- The template ---------------------------------------------------------------------------------------

async fn the_template_downloads_as_xlsx_and_csv(app: TestApp) {
    let aid = account(&app, "Template Co").await;
    let path = format!("/api/v1/accounts/{aid}/users/import/template");

    let resp = app
        .send(
            &app.token,
            Method::GET,
            &format!("{path}?format=xlsx"),
            None,
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert_eq!(
        resp.headers()["content-disposition"],
        "attachment; filename=\"users-import-template.xlsx\""
    );
    let xlsx = resp.bytes().await.unwrap().to_vec();
    let table = read_table(&xlsx, &Limits::default()).unwrap();
    assert_eq!(
        table.headers,
        ["FIRST NAME", "LAST NAME", "NAME", "EMAIL", "ROLE"]
    );
    let example: Vec<&str> = table.rows[0]
        .cells
        .iter()
        .map(|c| c.value.as_str())
        .collect();
    assert_eq!(
        example,
        ["Jane", "Doe", "Jane Doe", "jane.doe@example.com", "User"]
    );
    assert_eq!(table.rows.len(), 1);
    // The ROLE column's drop-down, as Excel stores it: a list validation over E2 downwards.
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&xlsx)).unwrap();
    let mut sheet = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(),
        &mut sheet,
    )
    .unwrap();
    let validation = sheet
        .split("<dataValidation ")
        .nth(1)
        .unwrap_or_else(|| panic!("no data validation in {sheet}"));
    let validation = &validation[..validation.find("</dataValidation>").unwrap()];
    assert!(validation.contains("type=\"list\""), "{validation}");
    assert!(validation.contains("sqref=\"E2:E"), "{validation}");
    assert!(
        validation.contains("<formula1>\"User,Account Admin\"</formula1>"),
        "{validation}"
    );

    let resp = app
        .send(&app.token, Method::GET, &format!("{path}?format=csv"), None)
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        resp.headers()["content-disposition"],
        "attachment; filename=\"users-import-template.csv\""
    );
    let text = resp.bytes().await.unwrap().to_vec();
    assert_eq!(
        text,
        b"\xEF\xBB\xBFFIRST NAME,LAST NAME,NAME,EMAIL,ROLE\r\nJane,Doe,Jane Doe,jane.doe@example.com,User\r\n"
    );
    let rows = skybridge_sheet::users::read_users(&text, &Limits::default()).unwrap();
    assert_eq!(
        (rows[0].line, rows[0].name.as_str(), rows[0].role.as_str()),
        (2, "Jane Doe", "User")
    );

    // The template, uploaded as it is, stages the example row, valid.
    let import = stage(&app, &aid, "users-import-template.xlsx", xlsx).await;
    assert_eq!(
        (import["rows"].clone(), import["invalid"].clone()),
        (json!(1), json!(0))
    );

    let (status, body) = app.get(&app.token, &format!("{path}?format=ods")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "format");
    let (_, user_token) = app
        .create_user(&aid, "plain@template.example", "user")
        .await;
    let (status, _) = app.get(&user_token, &path).await;
    assert_eq!(status, 403);
}

// --- Upload, preview, fix, commit -------------------------------------------------------------------------

async fn an_upload_is_previewed_fixed_and_committed(app: TestApp) {
    let aid = account(&app, "Import Co").await;
    app.create_user(&aid, "existing@imp.example", "user").await;
    let sheet = csv(&[
        HEADER,
        "Ann,Valid,,ann@imp.example,",                    // 2: valid
        ",,,nonames@imp.example,User",                    // 3: no name
        "Bob,NoMail,,,",                                  // 4: no e-mail
        "Carl,BadMail,,not-an-address,",                  // 5: invalid e-mail
        "Dup,First,,dup@imp.example,",                    // 6: valid
        "Dup,Second,,DUP@Imp.Example,",                   // 7: repeats row 6
        "Ex,Isting,,Existing@imp.example,",               // 8: a user has it
        "Rol,Bad,,role@imp.example,Boss",                 // 9: no such role
        "Ada,Admin,,ada@imp.example,Account Admin",       // 10: valid, an Account Admin
        ",,Grace Brewster Hopper,grace@imp.example,user", // 11: valid, NAME only
    ]);
    let import = stage(&app, &aid, "people.csv", sheet).await;
    assert_eq!(import["file_name"], "people.csv");
    assert_eq!(import["account_id"], aid.as_str());
    assert_eq!(
        (
            import["rows"].clone(),
            import["invalid"].clone(),
            import["created"].clone(),
            import["job_id"].clone()
        ),
        (json!(10), json!(6), json!(0), Value::Null)
    );
    assert_eq!(imports(&app, &aid).await.len(), 1);

    let (_, rows) = preview(&app, &aid, &import).await;
    let got: Vec<(i64, bool, Codes)> = rows
        .values()
        .map(|r| {
            (
                r["line"].as_i64().unwrap(),
                r["valid"].as_bool().unwrap(),
                codes(r),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (2, true, vec![]),
            (3, false, vec![issue("name", "required")]),
            (4, false, vec![issue("email", "required")]),
            (5, false, vec![issue("email", "invalid")]),
            (6, true, vec![]),
            (7, false, vec![issue("email", "duplicate")]),
            (8, false, vec![issue("email", "exists")]),
            (9, false, vec![issue("role", "role")]),
            (10, true, vec![]),
            (11, true, vec![]),
        ]
    );
    assert_eq!(
        message(&rows[&7], "duplicate"),
        "This EMAIL is already in row 6"
    );
    assert_eq!(
        message(&rows[&3], "required"),
        "Fill in at least one of FIRST NAME, LAST NAME or NAME"
    );
    assert_eq!(message(&rows[&4], "required"), "EMAIL is required");
    assert_eq!(
        message(&rows[&9], "role"),
        "ROLE must be User or Account Admin (blank means User)"
    );
    assert_eq!(
        (
            s(&rows[&7]["first_name"]),
            s(&rows[&7]["email"]),
            s(&rows[&10]["role"])
        ),
        (
            "Dup".into(),
            "DUP@Imp.Example".into(),
            "Account Admin".into()
        )
    );
    // Only the rows with problems, a page at a time.
    let (status, page) = app
        .get(
            &app.token,
            &format!("{}?invalid=true&limit=4", import_path(&aid, &import)),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let lines: Vec<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_i64().unwrap())
        .collect();
    assert_eq!(lines, [3, 4, 5, 7]);
    assert_eq!(page["next_after"], 7);
    let (_, page) = app
        .get(
            &app.token,
            &format!(
                "{}?invalid=true&limit=4&after=7",
                import_path(&aid, &import)
            ),
        )
        .await;
    let lines: Vec<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_i64().unwrap())
        .collect();
    assert_eq!(lines, [8, 9]);
    assert_eq!(page["next_after"], Value::Null);

    // Fix two rows: a name for row 3, a role for row 9 (any case and spacing).
    let row_path = |line: i64| format!("{}/rows/{line}", import_path(&aid, &import));
    let (status, fixed) = app
        .patch(&app.token, &row_path(3), &json!({ "first_name": " Nora " }))
        .await;
    assert_eq!(status, 200, "{fixed}");
    assert_eq!(
        (fixed["valid"].clone(), fixed["first_name"].clone()),
        (json!(true), json!("Nora"))
    );
    assert_eq!(
        fixed["email"], "nonames@imp.example",
        "other cells are kept"
    );
    let (status, fixed) = app
        .patch(
            &app.token,
            &row_path(9),
            &json!({ "role": "account  ADMIN" }),
        )
        .await;
    assert_eq!(status, 200, "{fixed}");
    assert_eq!(fixed["valid"], true, "{fixed}");
    // An edit that makes a duplicate marks it, pointing at the earlier row; undoing it clears it.
    let (_, carl) = app
        .patch(
            &app.token,
            &row_path(5),
            &json!({ "email": "ann@imp.example" }),
        )
        .await;
    assert_eq!(codes(&carl), [issue("email", "duplicate")]);
    assert_eq!(
        message(&carl, "duplicate"),
        "This EMAIL is already in row 2"
    );
    // Row 5 back to a bad address; row 2, the first holder, kept its verdict throughout.
    let (_, carl) = app
        .patch(&app.token, &row_path(5), &json!({ "email": "still bad" }))
        .await;
    assert_eq!(codes(&carl), [issue("email", "invalid")]);
    let (_, rows) = preview(&app, &aid, &import).await;
    assert_eq!(rows[&2]["valid"], true);
    // Deleting the first of a duplicate pair makes the second valid.
    let (status, _) = app.delete(&app.token, &row_path(6)).await;
    assert_eq!(status, 204);
    let (status, _) = app.delete(&app.token, &row_path(6)).await;
    assert_eq!(status, 404, "a deleted row is gone");
    // Add Row: one repeating row 2's address (a duplicate, numbered after the sheet's last row), one valid.
    let rows_path = format!("{}/rows", import_path(&aid, &import));
    let (status, added) = app
        .post(
            &app.token,
            &rows_path,
            &json!({ "first_name": "Zed", "email": "ANN@imp.example" }),
        )
        .await;
    assert_eq!(status, 201, "{added}");
    assert_eq!(added["line"], 12);
    assert_eq!(codes(&added), [issue("email", "duplicate")]);
    let (status, added) = app
        .post(
            &app.token,
            &rows_path,
            &json!({ "name": "New Row", "email": "new@imp.example", "role": "" }),
        )
        .await;
    assert_eq!(status, 201, "{added}");
    assert_eq!(
        (added["line"].clone(), added["valid"].clone()),
        (json!(13), json!(true))
    );
    let (status, body) = app
        .patch(&app.token, &row_path(2), &json!({ "nickname": "x" }))
        .await;
    assert_eq!(status, 400, "unknown cells are refused: {body}");

    let (import_now, rows) = preview(&app, &aid, &import).await;
    let got: Vec<(i64, bool)> = rows
        .values()
        .map(|r| (r["line"].as_i64().unwrap(), r["valid"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            (2, true),
            (3, true),
            (4, false),
            (5, false),
            (7, true),
            (8, false),
            (9, true),
            (10, true),
            (11, true),
            (12, false),
            (13, true)
        ]
    );
    assert_eq!(
        (import_now["rows"].clone(), import_now["invalid"].clone()),
        (json!(11), json!(4))
    );

    // Commit: the seven valid rows become users, without a welcome mail.
    let mail_before = mail(&app, &aid).await;
    assert_eq!(mail_before, ["existing@imp.example"]);
    let job = commit(&app, &aid, &import).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(
        (
            job["total"].clone(),
            job["done"].clone(),
            job["failed"].clone()
        ),
        (json!(7), json!(7), json!(0))
    );
    assert_eq!(job["summary"], "Import users: 7 of 7 rows");
    let all = users(&app, &aid).await;
    let created: Vec<UserLine> = all
        .values()
        .filter(|u| u["source"] == "import")
        .map(|u| {
            (
                u["email"].as_str().unwrap(),
                u["display_name"].as_str().unwrap(),
                u["first_name"].as_str(),
                u["last_name"].as_str(),
                u["role"].as_str().unwrap(),
                u["source"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        created,
        [
            (
                "ada@imp.example",
                "Ada Admin",
                Some("Ada"),
                Some("Admin"),
                "account_admin",
                "import"
            ),
            (
                "ann@imp.example",
                "Ann Valid",
                Some("Ann"),
                Some("Valid"),
                "user",
                "import"
            ),
            (
                "DUP@imp.example",
                "Dup Second",
                Some("Dup"),
                Some("Second"),
                "user",
                "import"
            ),
            (
                "grace@imp.example",
                "Grace Brewster Hopper",
                Some("Grace"),
                Some("Brewster Hopper"),
                "user",
                "import"
            ),
            (
                "new@imp.example",
                "New Row",
                Some("New"),
                Some("Row"),
                "user",
                "import"
            ),
            (
                "nonames@imp.example",
                "Nora",
                Some("Nora"),
                None,
                "user",
                "import"
            ),
            (
                "role@imp.example",
                "Rol Bad",
                Some("Rol"),
                Some("Bad"),
                "account_admin",
                "import"
            ),
        ]
    );
    assert!(
        created
            .iter()
            .all(|u| !all[&u.0.to_lowercase()]["registered"].as_bool().unwrap())
    );
    assert_eq!(all.len(), 8, "the existing user and the seven imported");
    // One event per created user, tagged import, naming the import and the row.
    let created_events = events(&app, &aid, "asset=User&action=Create&tag=import").await;
    assert_eq!(created_events.len(), 7);
    let mut event_users: Vec<String> = created_events.iter().map(|e| s(&e["asset_id"])).collect();
    event_users.sort();
    let mut user_ids: Vec<String> = all
        .values()
        .filter(|u| u["source"] == "import")
        .map(|u| s(&u["id"]))
        .collect();
    user_ids.sort();
    assert_eq!(event_users, user_ids);
    let ann = created_events
        .iter()
        .find(|e| e["asset_id"] == all["ann@imp.example"]["id"])
        .unwrap()
        .to_string();
    assert!(
        ann.contains(&s(&import["id"])) && ann.contains("\"row\""),
        "{ann}"
    );
    // No mail was queued by the import.
    assert_eq!(mail(&app, &aid).await, mail_before);
    // The invalid rows stay staged, the import remembers its job and what it created.
    let (import_now, rows) = preview(&app, &aid, &import).await;
    assert_eq!(rows.keys().copied().collect::<Vec<_>>(), [4, 5, 8, 12]);
    assert_eq!(
        (
            import_now["rows"].clone(),
            import_now["invalid"].clone(),
            import_now["created"].clone(),
            import_now["job_id"].clone()
        ),
        (json!(4), json!(4), json!(7), job["id"].clone())
    );
    // Row 12 repeated row 2, which is now a user: it says so, rather than point at a row that left the stage.
    assert_eq!(codes(&rows[&12]), [issue("email", "exists")]);

    // Fix one more row and commit again: only that row is created.
    let (_, carl) = app
        .patch(
            &app.token,
            &row_path(5),
            &json!({ "email": "carl@imp.example" }),
        )
        .await;
    assert_eq!(carl["valid"], true, "{carl}");
    // Checked again after an edit, row 12 is still `exists`.
    let (_, zed) = app
        .patch(&app.token, &row_path(12), &json!({ "last_name": "Late" }))
        .await;
    assert_eq!(codes(&zed), [issue("email", "exists")]);
    let job = commit(&app, &aid, &import).await;
    assert_eq!(
        (
            job["state"].clone(),
            job["total"].clone(),
            job["done"].clone()
        ),
        (json!("succeeded"), json!(1), json!(1)),
        "{job}"
    );
    let all = users(&app, &aid).await;
    assert_eq!(all.len(), 9);
    assert_eq!(all["carl@imp.example"]["display_name"], "Carl BadMail");
    assert_eq!(
        events(&app, &aid, "asset=User&action=Create&tag=import")
            .await
            .len(),
        8
    );
    assert_eq!(mail(&app, &aid).await, mail_before);

    // Nothing valid left: a commit is refused, and nothing is created.
    let (status, body) = app
        .post(
            &app.token,
            &format!("{}/commit", import_path(&aid, &import)),
            &json!({}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["detail"],
        "no row is ready: fix or delete the rows with errors first"
    );
    assert_eq!(users(&app, &aid).await.len(), 9);

    // Cancel discards the stage.
    let (status, _) = app.delete(&app.token, &import_path(&aid, &import)).await;
    assert_eq!(status, 204);
    let (status, _) = app.get(&app.token, &import_path(&aid, &import)).await;
    assert_eq!(status, 404);
    let (status, _) = app
        .patch(
            &app.token,
            &row_path(4),
            &json!({ "email": "b@imp.example" }),
        )
        .await;
    assert_eq!(status, 404);
    assert!(imports(&app, &aid).await.is_empty());
    assert_eq!(users(&app, &aid).await.len(), 9);
    // The stage's life is in the event history.
    let import_events = events(&app, &aid, "asset=User%20Import").await;
    let actions: Vec<String> = import_events.iter().map(|e| s(&e["action"])).collect();
    assert!(
        actions.contains(&"Create".to_string()) && actions.contains(&"Delete".to_string()),
        "{actions:?}"
    );
}

/// An importer without the right to hand out Account Admin sees that row refused, on the ROLE cell.
async fn a_role_the_importer_may_not_give_is_marked(app: TestApp) {
    let aid = account(&app, "Limited Co").await;
    let (status, role) = app
        .post(
            &app.token,
            "/api/v1/roles",
            &json!({
                "name": "Importer",
                "base": "account_admin",
                "permissions": ["users.view", "users.add"],
            }),
        )
        .await;
    assert_eq!(status, 201, "{role}");
    let (status, body) = app
        .put(
            &app.token,
            &format!("/api/v1/roles/{}/accounts/{aid}", s(&role["id"])),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let (_, importer) = app
        .create_user(&aid, "importer@limited.example", &s(&role["id"]))
        .await;
    let (status, import) = upload(
        &app,
        &importer,
        &aid,
        "boss.csv",
        csv(&[
            HEADER,
            "Bo,Ss,,boss@limited.example,Account Admin",
            "Wo,Rker,,worker@limited.example,User",
        ]),
    )
    .await;
    assert_eq!(status, 201, "{import}");
    let (_, rows) = preview(&app, &aid, &import).await;
    assert_eq!(codes(&rows[&2]), [issue("role", "not_allowed")]);
    assert_eq!(rows[&3]["valid"], true);
    // An Account Admin row staged by the partner administrator is valid; committed by the importer, the job
    // acts as the importer and skips it: a commit never hands out more than its committer may.
    let staged_by_partner = stage(
        &app,
        &aid,
        "partner.csv",
        csv(&[HEADER, "Big,Boss,,bigboss@limited.example,Account Admin"]),
    )
    .await;
    assert_eq!(staged_by_partner["invalid"], 0);
    let resp = app
        .send(
            &importer,
            Method::POST,
            &format!("{}/commit", import_path(&aid, &staged_by_partner)),
            None,
        )
        .await;
    assert_eq!(resp.status(), 202);
    let job: Value = resp.json().await.unwrap();
    let job = wait(&app, &s(&job["id"])).await;
    assert_eq!(
        (
            job["state"].clone(),
            job["done"].clone(),
            job["failed"].clone()
        ),
        (json!("succeeded"), json!(0), json!(1)),
        "{job}"
    );
    assert_eq!(
        job["skipped"],
        json!(["row 2 (bigboss@limited.example): You may not give the Account Admin role"])
    );
    assert!(
        !users(&app, &aid)
            .await
            .contains_key("bigboss@limited.example")
    );
    let (_, rows) = preview(&app, &aid, &staged_by_partner).await;
    assert_eq!(codes(&rows[&2]), [issue("role", "not_allowed")]);

    // A plain user may not import at all, and a Partner Account takes no imports.
    let (_, plain) = app.create_user(&aid, "plain@limited.example", "user").await;
    let (status, _) = upload(
        &app,
        &plain,
        &aid,
        "x.csv",
        csv(&[HEADER, "A,B,,a@b.example,"]),
    )
    .await;
    assert_eq!(status, 403);
    let (status, body) = upload(
        &app,
        &app.token,
        &app.partner_id,
        "x.csv",
        csv(&[HEADER, "A,B,,a@b.example,"]),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(s(&body["detail"]).contains("customer accounts"), "{body}");
}

/// Edits of one import that race each other are serialised: two rows changed to the same address at the same
/// moment end as the first row and its duplicate, never as two valid rows; two commits at once start one job.
async fn concurrent_changes_to_one_import_are_serialised(app: TestApp) {
    let aid = account(&app, "Race Co").await;
    let import = stage(
        &app,
        &aid,
        "race.csv",
        csv(&[
            HEADER,
            "Ann,One,,one@race.example,",
            "Bob,Two,,two@race.example,",
            ",,,,",
        ]),
    )
    .await;
    let row = |line: i64| format!("{}/rows/{line}", import_path(&aid, &import));
    for round in 0..10 {
        let email = json!({ "email": format!("same{round}@race.example") });
        let (two, three) = (row(2), row(3));
        let ((s2, r2), (s3, r3)) = tokio::join!(
            app.patch(&app.token, &two, &email),
            app.patch(&app.token, &three, &email)
        );
        assert_eq!((s2.as_u16(), s3.as_u16()), (200, 200), "{r2} {r3}");
        let (_, rows) = preview(&app, &aid, &import).await;
        assert_eq!(
            (codes(&rows[&2]), codes(&rows[&3])),
            (vec![], vec![issue("email", "duplicate")]),
            "round {round}: {} {}",
            rows[&2],
            rows[&3]
        );
        let (s2, r2) = app
            .patch(
                &app.token,
                &row(2),
                &json!({ "email": format!("one{round}@race.example") }),
            )
            .await;
        assert_eq!(s2, 200, "{r2}");
        let (_, r3) = app.get(&app.token, &import_path(&aid, &import)).await;
        assert_eq!(r3["import"]["invalid"], 0, "round {round}: {r3}");
    }
    // Two commits at once: one starts the job; the other is told it is under way (or, if the job has already
    // finished, that nothing is left to commit).
    let path = format!("{}/commit", import_path(&aid, &import));
    let empty = json!({});
    let ((s1, b1), (s2, b2)) = tokio::join!(
        app.post(&app.token, &path, &empty),
        app.post(&app.token, &path, &empty)
    );
    let mut statuses = [s1.as_u16(), s2.as_u16()];
    statuses.sort();
    assert!(
        statuses == [202, 409] || statuses == [202, 422],
        "{s1} {b1} / {s2} {b2}"
    );
    let job = if s1 == 202 { b1 } else { b2 };
    let done = wait(&app, &s(&job["id"])).await;
    assert_eq!(
        (done["state"].clone(), done["done"].clone()),
        (json!("succeeded"), json!(2)),
        "{done}"
    );
    assert_eq!(users(&app, &aid).await.len(), 2);
}

// --- A commit whose node died ------------------------------------------------------------------------------

const LEASE: i64 = 60_000_000;

fn scope(account: &str) -> AccountScope {
    AccountScope::for_system(account.parse().unwrap())
}

/// The commit job of `import` as a node that claimed it would hold it: running, leased on the server's manual
/// clock, so the server's own worker leaves it alone until the lease runs out.
async fn claimed_commit(
    app: &TestApp,
    clock: &ManualClock,
    account: &str,
    import: &Value,
) -> JobRow {
    let now = clock.now_micros();
    let row = JobRow {
        id: uuid::Uuid::now_v7().to_string(),
        account_id: account.to_string(),
        created_by: app.admin_id.clone(),
        created_by_account: app.partner_id.clone(),
        kind: "import_commit".into(),
        params: json!({ "import_id": import["id"] }).to_string(),
        state: "running".into(),
        total: import["rows"].as_i64().unwrap() - import["invalid"].as_i64().unwrap(),
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
    job_store::insert(&mut tx, &scope(account), &row, &[])
        .await
        .unwrap();
    import_store::set_job(
        &mut tx,
        &scope(account),
        &s(&import["id"]),
        &row.id,
        now + 24 * 3600 * 1_000_000,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    row
}

async fn a_commit_taken_over_after_a_crash_creates_each_user_once(
    app: TestApp,
    clock: Arc<ManualClock>,
) {
    let aid = account(&app, "Crash Co").await;
    let mut lines = vec![HEADER.to_string()];
    for i in 0..5 {
        lines.push(format!("Crash,No{i},,crash{i}@imp.example,"));
    }
    lines.push("Bad,Row,,not an address,".into());
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let import = stage(&app, &aid, "crash.csv", csv(&lines)).await;
    assert_eq!(
        (import["rows"].clone(), import["invalid"].clone()),
        (json!(6), json!(1))
    );

    // A node claims the commit and does one chunk of two rows, committed with its progress; then it dies.
    let mut job = claimed_commit(&app, &clock, &aid, &import).await;
    let step = skybridge_server::jobs::step(&app.state, &mut job, 2)
        .await
        .unwrap();
    assert_eq!(step, skybridge_server::jobs::Step::More);
    assert_eq!(users(&app, &aid).await.len(), 2);
    // While its lease holds, nobody takes the job over, and the import cannot be committed again or cancelled.
    let (_, seen) = app
        .get(&app.token, &format!("/api/v1/jobs/{}?wait=1", job.id))
        .await;
    assert_eq!(
        (
            seen["state"].clone(),
            seen["done"].clone(),
            seen["total"].clone()
        ),
        (json!("running"), json!(2), json!(5))
    );
    let (status, body) = app
        .post(
            &app.token,
            &format!("{}/commit", import_path(&aid, &import)),
            &json!({}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = app.delete(&app.token, &import_path(&aid, &import)).await;
    assert_eq!(status, 409, "{body}");
    let (staged, _) = preview(&app, &aid, &import).await;
    assert_eq!(
        (staged["rows"].clone(), staged["created"].clone()),
        (json!(4), json!(2))
    );

    // The lease runs out: the server's worker takes the job over and finishes it from where it stood.
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
    // Every row became exactly one user, with one event.
    let all = users(&app, &aid).await;
    assert_eq!(all.len(), 5, "{:?}", all.keys());
    for i in 0..5 {
        assert!(all.contains_key(&format!("crash{i}@imp.example")), "{i}");
    }
    let created = events(&app, &aid, "asset=User&action=Create&tag=import").await;
    assert_eq!(created.len(), 5);
    let mut ids: Vec<String> = created.iter().map(|e| s(&e["asset_id"])).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    let (staged, rows) = preview(&app, &aid, &import).await;
    assert_eq!(rows.keys().copied().collect::<Vec<_>>(), [7]);
    assert_eq!(staged["created"], 5);
    // The dead node, back, is fenced off; a commit now finds nothing to do.
    let step = skybridge_server::jobs::step(&app.state, &mut job, 2)
        .await
        .unwrap();
    assert_eq!(step, skybridge_server::jobs::Step::Lost);
    let (status, _) = app
        .post(
            &app.token,
            &format!("{}/commit", import_path(&aid, &import)),
            &json!({}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(users(&app, &aid).await.len(), 5);
}

// --- Sheets written by LibreOffice ------------------------------------------------------------------------

/// LibreOffice's `soffice`: `SKYBRIDGE_TEST_SOFFICE` (scripts/test.sh sets it), else /usr/bin/soffice; `None`
/// (outside CI only) when it is not installed.
fn soffice() -> Option<PathBuf> {
    let (path, named) = match std::env::var("SKYBRIDGE_TEST_SOFFICE") {
        Ok(p) if !p.is_empty() => (PathBuf::from(p), true),
        _ => (PathBuf::from("/usr/bin/soffice"), false),
    };
    if path.exists() {
        return Some(path);
    }
    // Named explicitly, or under CI: a missing LibreOffice is an error, never a silent skip.
    assert!(
        !named && std::env::var("CI").is_err(),
        "{} does not exist; scripts/test.sh installs Debian's libreoffice-calc",
        path.display()
    );
    eprintln!(
        "skipped: {} is missing (set SKYBRIDGE_TEST_SOFFICE, or run scripts/test.sh, which installs \
         libreoffice-calc)",
        path.display()
    );
    None
}

/// A headless LibreOffice with a profile of its own (two instances cannot share one), in a directory removed
/// at the end.
struct Office {
    bin: PathBuf,
    dir: PathBuf,
}

impl Drop for Office {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Basic macro saving a workbook as a password-protected Excel file (LibreOffice 7.4's command line cannot
/// pass a password to a filter; a macro in the profile's own library runs without a security prompt).
const PROTECT_MACRO: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE script:module PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "module.dtd">
<script:module xmlns:script="http://openoffice.org/2000/script" script:name="Module1" script:language="StarBasic">
Sub Protect(src As String, dst As String, pass As String)
  Dim load(0) As New com.sun.star.beans.PropertyValue
  load(0).Name = &quot;Hidden&quot;
  load(0).Value = True
  doc = StarDesktop.loadComponentFromURL(ConvertToURL(src), &quot;_blank&quot;, 0, load())
  Dim save(1) As New com.sun.star.beans.PropertyValue
  save(0).Name = &quot;FilterName&quot;
  save(0).Value = &quot;MS Excel 97&quot;
  save(1).Name = &quot;Password&quot;
  save(1).Value = pass
  doc.storeToURL(ConvertToURL(dst), save())
  doc.close(True)
End Sub
</script:module>
"#;

impl Office {
    fn new() -> Option<Office> {
        let bin = soffice()?;
        let dir = std::env::temp_dir().join(format!(
            "skybridge-office-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Some(Office { bin, dir })
    }

    /// Runs soffice headless on this profile; its output (it reports failures there, not in its exit code).
    fn run(&self, args: &[String]) -> String {
        // A conversion takes a few seconds; `timeout` ends one that hangs on a dialog nobody can see.
        let out = Command::new("timeout")
            .args(["--kill-after=10", "180"])
            .arg(&self.bin)
            .arg(format!(
                "-env:UserInstallation=file://{}",
                self.dir.join("profile").display()
            ))
            .args(["--headless", "--norestore", "--nologo", "--nolockcheck"])
            .args(args)
            .output()
            .expect("soffice runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "soffice {args:?}: {:?}\n{text}",
            out.status
        );
        text
    }

    /// Writes a file into the work directory.
    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// `soffice --convert-to <to>` (optionally reading with `--infilter`): the file it wrote.
    fn convert(&self, input: &Path, to: &str, infilter: Option<&str>) -> Vec<u8> {
        let out = self
            .dir
            .join(format!("out-{}", uuid::Uuid::new_v4().simple()));
        let mut args = Vec::new();
        if let Some(f) = infilter {
            args.push(format!("--infilter={f}"));
        }
        args.extend([
            "--convert-to".to_string(),
            to.to_string(),
            "--outdir".to_string(),
            out.display().to_string(),
            input.display().to_string(),
        ]);
        let log = self.run(&args);
        let written: Vec<PathBuf> = std::fs::read_dir(&out)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        assert_eq!(written.len(), 1, "soffice wrote {written:?}: {log}");
        std::fs::read(&written[0]).unwrap()
    }

    /// Whether LibreOffice can open `input` (without a password) at all.
    fn opens(&self, input: &Path) -> bool {
        let out = self
            .dir
            .join(format!("out-{}", uuid::Uuid::new_v4().simple()));
        self.run(&[
            "--convert-to".into(),
            "csv".into(),
            "--outdir".into(),
            out.display().to_string(),
            input.display().to_string(),
        ]);
        std::fs::read_dir(&out).is_ok_and(|mut d| d.next().is_some())
    }

    /// `input` saved by LibreOffice as an Excel workbook protected by `password`.
    fn protect(&self, input: &Path, password: &str) -> Vec<u8> {
        // The profile exists once soffice has run in it; the macro goes into its Standard library.
        let basic = self.dir.join("profile/user/basic/Standard");
        assert!(basic.is_dir(), "soffice has not set up {}", basic.display());
        std::fs::write(basic.join("Module1.xba"), PROTECT_MACRO).unwrap();
        let out = self
            .dir
            .join(format!("protected-{}.xls", uuid::Uuid::new_v4().simple()));
        self.run(&[format!(
            "macro:///Standard.Module1.Protect(\"{}\",\"{}\",\"{password}\")",
            input.display(),
            out.display()
        )]);
        std::fs::read(&out).unwrap_or_else(|e| panic!("the macro wrote no {}: {e}", out.display()))
    }
}

/// The hand-written sheet: headers reordered and in mixed case, a column the template does not have (with a
/// comma and a line break in quoted cells), a name with a comma, non-ASCII names, quotes, and a blank line.
const HAND_WRITTEN: [[&str; 6]; 5] = [
    ["EMAIL", "Role", "Notes", "Last Name", "first name", "NAME"],
    [
        "sean.obrien@lo.example",
        "User",
        "met in Cork, 2023",
        "O'Brien, Jr.",
        "Seán",
        "",
    ],
    ["", "", "", "", "", ""],
    [
        "zoe@lo.example",
        "Account Admin",
        "",
        "Zürcher",
        "Zoë",
        "Zoë \"Z\" Zürcher",
    ],
    [
        "lukasz@lo.example",
        "",
        "line one\nline two",
        "",
        "Łukasz",
        "",
    ],
];

/// The sheet as CSV with `delimiter`, quoting as a spreadsheet program does (only where needed), and a
/// byte-order mark and CRLF if asked.
fn hand_written(delimiter: char, excel_style: bool) -> Vec<u8> {
    let newline = if excel_style { "\r\n" } else { "\n" };
    let mut out = if excel_style {
        "\u{feff}".to_string()
    } else {
        String::new()
    };
    for row in HAND_WRITTEN {
        let cells: Vec<String> = row
            .iter()
            .map(|c| {
                if c.contains([delimiter, '"', '\n']) {
                    format!("\"{}\"", c.replace('"', "\"\""))
                } else {
                    c.to_string()
                }
            })
            .collect();
        if cells.iter().all(String::is_empty) {
            out.push_str(newline);
        } else {
            out.push_str(&cells.join(&delimiter.to_string()));
            out.push_str(newline);
        }
    }
    out.into_bytes()
}

/// The rows the hand-written sheet must stage: (line, first, last, name, email, role).
fn expected_rows() -> Vec<(i64, String, String, String, String, String)> {
    [
        (
            2,
            "Seán",
            "O'Brien, Jr.",
            "",
            "sean.obrien@lo.example",
            "User",
        ),
        (
            4,
            "Zoë",
            "Zürcher",
            "Zoë \"Z\" Zürcher",
            "zoe@lo.example",
            "Account Admin",
        ),
        (5, "Łukasz", "", "", "lukasz@lo.example", ""),
    ]
    .into_iter()
    .map(|(l, f, la, n, e, r)| (l, f.into(), la.into(), n.into(), e.into(), r.into()))
    .collect()
}

async fn staged_rows(
    app: &TestApp,
    account: &str,
    file_name: &str,
    bytes: Vec<u8>,
) -> (Value, Vec<(i64, String, String, String, String, String)>) {
    let import = stage(app, account, file_name, bytes).await;
    let (_, rows) = preview(app, account, &import).await;
    for r in rows.values() {
        assert_eq!(r["valid"], true, "{file_name}: {r}");
    }
    let got = rows
        .values()
        .map(|r| {
            (
                r["line"].as_i64().unwrap(),
                s(&r["first_name"]),
                s(&r["last_name"]),
                s(&r["name"]),
                s(&r["email"]),
                s(&r["role"]),
            )
        })
        .collect();
    (import, got)
}

async fn sheets_written_by_libreoffice_are_read(app: TestApp) {
    let aid = account(&app, "Office Co").await;
    // The hand-made variants as they are: comma with BOM and CRLF, and semicolons with LF (European Excel).
    let comma = hand_written(',', true);
    let semicolon = hand_written(';', false);
    for (name, bytes) in [
        ("comma.csv", comma.clone()),
        ("semicolon.csv", semicolon.clone()),
    ] {
        let (_, got) = staged_rows(&app, &aid, name, bytes).await;
        assert_eq!(got, expected_rows(), "{name}");
    }

    let Some(office) = Office::new() else {
        return;
    };
    // Calc opens each CSV (told its delimiter, UTF-8, as its import dialog would be) and saves it again.
    let comma_path = office.write("comma.csv", &comma);
    let semicolon_path = office.write("semicolon.csv", &semicolon);
    let xlsx = office.convert(&comma_path, "xlsx", Some("CSV:44,34,76,1"));
    assert!(xlsx.starts_with(b"PK\x03\x04"));
    let from_xlsx = office.write("from-calc.xlsx", &xlsx);
    let csv_out = office.convert(
        &from_xlsx,
        "csv:Text - txt - csv (StarCalc):44,34,76,1",
        None,
    );
    let semicolon_out = office.convert(
        &semicolon_path,
        "csv:Text - txt - csv (StarCalc):59,34,76,1",
        Some("CSV:59,34,76,1"),
    );
    // Calc quotes every text cell, and writes the blank row as delimiters only.
    assert!(
        String::from_utf8_lossy(&semicolon_out).starts_with("\"EMAIL\";\"Role\";"),
        "{}",
        String::from_utf8_lossy(&semicolon_out)
    );
    let mut committed = None;
    for (name, bytes) in [
        ("from-calc.xlsx", xlsx),
        ("from-calc.csv", csv_out),
        ("from-calc-semicolon.csv", semicolon_out),
    ] {
        let (import, got) = staged_rows(&app, &aid, name, bytes).await;
        assert_eq!(got, expected_rows(), "{name}");
        committed.get_or_insert(import);
    }

    // Calc's workbook, committed: the names arrive as typed.
    let job = commit(&app, &aid, &committed.unwrap()).await;
    assert_eq!(
        (job["state"].clone(), job["done"].clone()),
        (json!("succeeded"), json!(3)),
        "{job}"
    );
    let all = users(&app, &aid).await;
    let zoe = &all["zoe@lo.example"];
    assert_eq!(
        (
            zoe["first_name"].clone(),
            zoe["display_name"].clone(),
            zoe["role"].clone()
        ),
        (
            json!("Zoë"),
            json!("Zoë \"Z\" Zürcher"),
            json!("account_admin")
        )
    );
    assert_eq!(all["sean.obrien@lo.example"]["last_name"], "O'Brien, Jr.");
    assert_eq!(
        all["sean.obrien@lo.example"]["display_name"],
        "Seán O'Brien, Jr."
    );
    assert_eq!(all["lukasz@lo.example"]["display_name"], "Łukasz");
}

// --- Bad files: a sentence that says what to do, and nothing staged or created -----------------------------

/// Uploads `bytes` into a fresh account; it must be refused with `status`. The problem's detail; the account
/// has no stage, no user and no import event afterwards.
async fn refused(app: &TestApp, file_name: &str, bytes: Vec<u8>, status: u16) -> String {
    let aid = account(app, "Refusing Co").await;
    let (got, body) = upload(app, &app.token, &aid, file_name, bytes).await;
    assert_eq!(got, status, "{file_name}: {body}");
    assert_eq!(body["status"], status, "problem JSON: {body}");
    if status == 422 {
        assert_eq!(body["field"], "file", "{body}");
    }
    assert!(
        imports(app, &aid).await.is_empty(),
        "{file_name} was staged"
    );
    assert!(
        users(app, &aid).await.is_empty(),
        "{file_name} created users"
    );
    assert!(
        events(app, &aid, "asset=User%20Import").await.is_empty(),
        "{file_name} left an import event"
    );
    s(&body["detail"])
}

async fn template_xlsx(app: &TestApp) -> Vec<u8> {
    let aid = account(app, "Template Source").await;
    let resp = app
        .send(
            &app.token,
            Method::GET,
            &format!("/api/v1/accounts/{aid}/users/import/template?format=xlsx"),
            None,
        )
        .await;
    assert_eq!(resp.status(), 200);
    resp.bytes().await.unwrap().to_vec()
}

async fn a_truncated_xlsx_is_refused(app: TestApp) {
    let mut xlsx = template_xlsx(&app).await;
    xlsx.truncate(xlsx.len() / 2);
    let detail = refused(&app, "cut.xlsx", xlsx, 422).await;
    assert!(
        detail.starts_with("The workbook is damaged and cannot be read (")
            && detail.ends_with("); open it, save it again as .xlsx and upload it again."),
        "{detail}"
    );
}

async fn a_password_protected_workbook_is_refused(app: TestApp) {
    let Some(office) = Office::new() else {
        return;
    };
    let sheet = office.write(
        "secret.csv",
        &csv(&[HEADER, "Sec,Ret,,secret@imp.example,"]),
    );
    let xlsx = office.convert(&sheet, "xlsx", Some("CSV:44,34,76,1"));
    let plain = office.write("secret.xlsx", &xlsx);
    let protected = office.protect(&plain, "s3cret");
    // Really protected: LibreOffice itself cannot open it without the password.
    let path = office.write("protected.xls", &protected);
    assert!(!office.opens(&path), "the fixture is not protected");
    let detail = refused(&app, "protected.xlsx", protected, 422).await;
    assert_eq!(
        detail,
        "The file is password-protected or an old .xls workbook; save it as an unprotected .xlsx or .csv file."
    );
}

async fn a_renamed_binary_is_refused(app: TestApp) {
    // A PNG image (signature, header chunk, end chunk) called .xlsx.
    let mut png =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89".to_vec();
    png.extend_from_slice(b"\0\0\0\0IEND\xaeB`\x82");
    let detail = refused(&app, "photo.xlsx", png, 422).await;
    assert_eq!(
        detail,
        "The file is not a spreadsheet; upload an .xlsx workbook or a .csv file."
    );
}

async fn an_empty_file_is_refused(app: TestApp) {
    let detail = refused(&app, "empty.csv", Vec::new(), 422).await;
    assert_eq!(
        detail,
        "The file is empty; fill in the template and upload it again."
    );
    let detail = refused(&app, "header-only.csv", csv(&[HEADER, ",,,,"]), 422).await;
    assert_eq!(
        detail,
        "The file has a header row but no users; fill in at least one row."
    );
}

async fn a_missing_header_is_named(app: TestApp) {
    let detail = refused(
        &app,
        "no-email.csv",
        csv(&[
            "FIRST NAME,LAST NAME,NAME,E-MAIL,ROLE",
            "Ann,Lee,,ann@imp.example,",
        ]),
        422,
    )
    .await;
    assert_eq!(
        detail,
        "The header row has no EMAIL column; the template's columns are FIRST NAME, LAST NAME, NAME, EMAIL, ROLE."
    );
}

async fn reordered_headers_are_accepted(app: TestApp) {
    let aid = account(&app, "Reordered Co").await;
    let import = stage(
        &app,
        &aid,
        "reordered.csv",
        csv(&[
            "role,Email,Name,last name,FIRST NAME",
            "Account Admin,ann@imp.example,Ann Lee,Lee,Ann",
        ]),
    )
    .await;
    let (_, rows) = preview(&app, &aid, &import).await;
    let r = &rows[&2];
    assert_eq!(
        (
            s(&r["first_name"]),
            s(&r["last_name"]),
            s(&r["name"]),
            s(&r["email"]),
            s(&r["role"]),
            r["valid"].as_bool()
        ),
        (
            "Ann".into(),
            "Lee".into(),
            "Ann Lee".into(),
            "ann@imp.example".into(),
            "Account Admin".into(),
            Some(true)
        )
    );
}

async fn a_formula_is_marked_on_its_cell_and_not_imported(app: TestApp) {
    let aid = account(&app, "Formula Co").await;
    let mut sheets = vec![(
        "formula.csv",
        csv(&[
            HEADER,
            "=1+1,Sum,,sum@imp.example,",
            "Plain,Row,,plain@imp.example,",
        ]),
    )];
    // The same sheet as Calc saves it when told to evaluate the formula: an .xlsx with <f>1+1</f> and its value.
    let office = Office::new();
    if let Some(office) = &office {
        let path = office.write("formula.csv", &sheets[0].1);
        let xlsx = office.convert(
            &path,
            "xlsx",
            Some("CSV:44,34,76,1,,0,false,false,false,false,false,-1,true"),
        );
        sheets.push(("formula.xlsx", xlsx));
    }
    for (name, bytes) in sheets {
        let import = stage(&app, &aid, name, bytes).await;
        assert_eq!(
            (import["rows"].clone(), import["invalid"].clone()),
            (json!(2), json!(1)),
            "{name}"
        );
        let (_, rows) = preview(&app, &aid, &import).await;
        assert_eq!(codes(&rows[&2]), [issue("first_name", "formula")], "{name}");
        assert_eq!(
            message(&rows[&2], "formula"),
            "The FIRST NAME cell holds a formula; type the value itself (in Excel: Paste Special → Values)"
        );
        let job = commit(&app, &aid, &import).await;
        assert_eq!(job["done"], 1, "{job}");
        let all = users(&app, &aid).await;
        assert!(
            !all.contains_key("sum@imp.example"),
            "{name}: the formula row was imported"
        );
        let (_, rows) = preview(&app, &aid, &import).await;
        assert_eq!(rows.keys().copied().collect::<Vec<_>>(), [2], "{name}");
        // Typing the value over the formula clears the problem.
        let (_, row) = app
            .patch(
                &app.token,
                &format!("{}/rows/2", import_path(&aid, &import)),
                &json!({ "first_name": "Two" }),
            )
            .await;
        assert_eq!(row["valid"], true, "{row}");
        let (status, _) = app.delete(&app.token, &import_path(&aid, &import)).await;
        assert_eq!(status, 204);
        let (status, body) = app
            .call(
                &app.token,
                Method::DELETE,
                &format!(
                    "/api/v1/accounts/{aid}/users/{}?confirm=delete",
                    s(&all["plain@imp.example"]["id"])
                ),
                None,
            )
            .await;
        assert!(status.is_success(), "{body}");
    }
}

async fn a_megabyte_in_one_cell_is_refused(app: TestApp) {
    let big = format!("Ann,Lee,{},ann@imp.example,", "x".repeat(1 << 20));
    let detail = refused(&app, "big-cell.csv", csv(&[HEADER, &big]), 422).await;
    assert_eq!(
        detail,
        "Cell C2 holds more than 4,096 characters; shorten it."
    );
}

async fn mixed_encodings_name_the_line(app: TestApp) {
    let mut sheet = csv(&[HEADER, "Zoë,Zürcher,,zoe@imp.example,"]);
    // A line pasted from a Latin-1 file: é as the single byte 0xE9.
    sheet.extend_from_slice(b"Jos\xe9,Garc\xeda,,jose@imp.example,\r\n");
    sheet.extend_from_slice("Łukasz,Nowak,,lukasz@imp.example,\r\n".as_bytes());
    let detail = refused(&app, "mixed.csv", sheet, 422).await;
    assert_eq!(
        detail,
        "Row 3 of the file is not UTF-8 text; save the file as \"CSV UTF-8 (Comma delimited)\" and upload it again."
    );
}

async fn more_than_50000_rows_are_refused(app: TestApp) {
    let mut sheet = format!("{HEADER}\r\n");
    for i in 0..50_001 {
        sheet.push_str(&format!("F,L,,u{i}@rows.example,\r\n"));
    }
    let detail = refused(&app, "many.csv", sheet.into_bytes(), 422).await;
    assert_eq!(
        detail,
        "The file has more than 50,000 rows; split it into smaller files."
    );
}

async fn more_than_20_mib_is_refused(app: TestApp) {
    // Just over the limit (read to its end), and far over it (refused while it is still arriving).
    for size in [(20 << 20) + 1, 24 << 20] {
        let mut sheet = format!("{HEADER}\r\n").into_bytes();
        sheet.resize(size, b' ');
        let detail = refused(&app, "huge.csv", sheet, 413).await;
        assert_eq!(
            detail,
            "The file is larger than 20 MB; split it into smaller files."
        );
    }
}

// --- The export -------------------------------------------------------------------------------------------

async fn the_export_neutralises_formulas_and_lists_every_user(app: TestApp) {
    let aid = account(&app, "Export Co").await;
    let mut ids = BTreeMap::new();
    for (first, last, email, role) in [
        (
            "=HYPERLINK(\"http://evil.example\")",
            "+Plus",
            "formula@exp.example",
            "user",
        ),
        ("Ada", "Lovelace", "ada@exp.example", "account_admin"),
        ("Ina", "Ctive", "inactive@exp.example", "user"),
    ] {
        let (status, u) = app
            .post(
                &app.token,
                &format!("/api/v1/accounts/{aid}/users"),
                &json!({ "first_name": first, "last_name": last, "email": email, "role": role }),
            )
            .await;
        assert_eq!(status, 201, "{u}");
        ids.insert(email, s(&u["id"]));
    }
    let (status, u) = app
        .patch(
            &app.token,
            &format!(
                "/api/v1/accounts/{aid}/users/{}",
                ids["inactive@exp.example"]
            ),
            &json!({ "active": false }),
        )
        .await;
    assert_eq!(status, 200, "{u}");
    assert_eq!(u["active"], false);

    for format in ["csv", "xlsx"] {
        let resp = app
            .send(
                &app.token,
                Method::GET,
                &format!("/api/v1/accounts/{aid}/users/export?format={format}"),
                None,
            )
            .await;
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers()["content-disposition"],
            format!("attachment; filename=\"users-{aid}.{format}\"").as_str()
        );
        let bytes = resp.bytes().await.unwrap().to_vec();
        let table = read_table(&bytes, &Limits::default()).unwrap();
        assert_eq!(
            table.headers,
            [
                "FIRST NAME",
                "LAST NAME",
                "NAME",
                "EMAIL",
                "ROLE",
                "ID",
                "REGISTERED",
                "ACTIVE"
            ]
        );
        // Nothing a spreadsheet program would run: no formula cell, no cell starting with = + - @.
        for row in &table.rows {
            for cell in &row.cells {
                assert!(cell.formula.is_none(), "{format}: {cell:?}");
                assert!(
                    !cell.value.starts_with(['=', '+', '-', '@']),
                    "{format}: {cell:?}"
                );
            }
        }
        let rows: BTreeMap<String, Vec<String>> = table
            .rows
            .iter()
            .map(|r| {
                let cells: Vec<String> = r.cells.iter().map(|c| c.value.clone()).collect();
                (cells[3].clone(), cells)
            })
            .collect();
        assert_eq!(rows.len(), 3, "{format}: every user, the inactive one too");
        let f = &rows["formula@exp.example"];
        assert_eq!(f[0], "'=HYPERLINK(\"http://evil.example\")", "{format}");
        assert_eq!(f[1], "'+Plus", "{format}");
        assert_eq!(
            f[2], "'=HYPERLINK(\"http://evil.example\") +Plus",
            "{format}"
        );
        assert_eq!(f[5], ids["formula@exp.example"]);
        let ada = &rows["ada@exp.example"];
        assert_eq!(
            ada[..5],
            [
                "Ada",
                "Lovelace",
                "Ada Lovelace",
                "ada@exp.example",
                "Account Admin"
            ]
        );
        assert_eq!((ada[6].as_str(), ada[7].as_str()), ("no", "yes"));
        assert_eq!(rows["inactive@exp.example"][7], "no");
        if format == "xlsx" {
            let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
            let mut sheet = String::new();
            std::io::Read::read_to_string(
                &mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(),
                &mut sheet,
            )
            .unwrap();
            assert!(!sheet.contains("<f>") && !sheet.contains("<f "), "{sheet}");
        }
    }
    // Reading users is enough to export them; a plain user may not.
    let (_, plain) = app.create_user(&aid, "plain@exp.example", "user").await;
    let (status, _) = app
        .get(
            &plain,
            &format!("/api/v1/accounts/{aid}/users/export?format=csv"),
        )
        .await;
    assert_eq!(status, 403);
}

/// Holding roles.assign is not enough to mint Account Admins: as for one user, the importer must hold every
/// right of the role it gives. A custom admin role with users.add and roles.assign but not, say,
/// integrations.edit sees the Account Admin row refused.
async fn roles_assign_alone_does_not_mint_account_admins(app: TestApp) {
    let aid = account(&app, "Escalation Co").await;
    let (status, role) = app
        .post(
            &app.token,
            "/api/v1/roles",
            &json!({
                "name": "Assigner",
                "base": "account_admin",
                "permissions": ["users.view", "users.add", "roles.view", "roles.assign"],
            }),
        )
        .await;
    assert_eq!(status, 201, "{role}");
    let (status, body) = app
        .put(
            &app.token,
            &format!("/api/v1/roles/{}/accounts/{aid}", s(&role["id"])),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let (_, importer) = app
        .create_user(&aid, "assigner@escalation.example", &s(&role["id"]))
        .await;
    let (status, import) = upload(
        &app,
        &importer,
        &aid,
        "me2.csv",
        csv(&[HEADER, "Me,Two,,me2@escalation.example,Account Admin"]),
    )
    .await;
    assert_eq!(status, 201, "{import}");
    let (_, rows) = preview(&app, &aid, &import).await;
    assert_eq!(codes(&rows[&2]), [issue("role", "not_allowed")]);
}

/// PostgreSQL's text holds no NUL character: one in an uploaded cell is dropped (the row is checked on the
/// rest, on both stores alike) and one typed into a cell edit is refused, instead of a server error.
async fn nul_characters_do_not_break_a_stage(app: TestApp) {
    let aid = account(&app, "Nul Co").await;
    // Past the first 8 KiB, where a NUL no longer marks the file as binary.
    let filler: Vec<String> = (0..300)
        .map(|i| format!("Filler,Row{i},,filler{i}@nul.example,User"))
        .collect();
    let mut lines: Vec<&str> = vec![HEADER];
    lines.extend(filler.iter().map(String::as_str));
    lines.push("Ann,Nul,,ann@nul.example,User");
    let mut bytes = csv(&lines);
    assert!(bytes.len() > 8192);
    let at = bytes.windows(3).rposition(|w| w == b"Nul").unwrap() + 1;
    bytes.insert(at, 0);
    let import = stage(&app, &aid, "nul.csv", bytes).await;
    let (_, rows) = preview(&app, &aid, &import).await;
    let ann = 302;
    assert_eq!(rows[&ann]["last_name"], "Nul");
    assert_eq!(rows[&ann]["valid"], true);
    let (status, problem) = app
        .patch(
            &app.token,
            &format!("{}/rows/{ann}", import_path(&aid, &import)),
            &json!({ "first_name": "A\u{0}nn" }),
        )
        .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["field"], "first_name");
    let (_, rows) = preview(&app, &aid, &import).await;
    assert_eq!(rows[&ann]["first_name"], "Ann", "nothing changed");
}

backend_tests!(
    the_template_downloads_as_xlsx_and_csv,
    an_upload_is_previewed_fixed_and_committed,
    a_role_the_importer_may_not_give_is_marked,
    roles_assign_alone_does_not_mint_account_admins,
    nul_characters_do_not_break_a_stage,
    concurrent_changes_to_one_import_are_serialised,
    sheets_written_by_libreoffice_are_read,
    a_truncated_xlsx_is_refused,
    a_password_protected_workbook_is_refused,
    a_renamed_binary_is_refused,
    an_empty_file_is_refused,
    a_missing_header_is_named,
    reordered_headers_are_accepted,
    a_formula_is_marked_on_its_cell_and_not_imported,
    a_megabyte_in_one_cell_is_refused,
    mixed_encodings_name_the_line,
    more_than_50000_rows_are_refused,
    more_than_20_mib_is_refused,
    the_export_neutralises_formulas_and_lists_every_user,
);

clock_tests!(a_commit_taken_over_after_a_crash_creates_each_user_once);
