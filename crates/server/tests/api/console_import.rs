//! Import Users in the console over HTTP, as a browser without JavaScript uses it: the panel, a CSV uploaded
//! through its multipart form, the preview with per-cell errors, the row forms (save, trash, Add Row), Upload
//! (a job followed to its end) and Cancel; the CSRF token of the upload, tenant isolation, rights, and bad
//! files reported at the file field. The users export through the console's routes.

use serde_json::Value;
use skybridge_testkit::reqwest::{self, redirect};
use skybridge_testkit::{TestApp, backend_tests};

use crate::browser::{Browser, Page};
use crate::console::{console_as, partner_console, set_password, submit};

const SHEET: &str = "FIRST NAME,LAST NAME,NAME,EMAIL,ROLE\r\n\
Ada,Lovelace,,ada@import.example,User\r\n\
Bob,,,not-an-email,User\r\n\
Cy,Young,,taken@import.example,Account Admin\r\n\
Dee,Dee,,ADA@import.example,\r\n\
Eve,Evans,,eve@import.example,Boss\r\n";

/// Posts `bytes` as the file of the Import Users form, with `csrf` as its token: what a browser sends.
pub async fn upload(b: &Browser, account: &str, csrf: &str, file_name: &str, bytes: &[u8]) -> Page {
    const BOUNDARY: &str = "----skybridge-test-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
             --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let http = reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    let resp = http
        .post(format!("{}/console/a/{account}/users/import", b.base))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .header(
            "cookie",
            format!("sb_session={}", b.cookie("sb_session").expect("signed in")),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    Page {
        status: resp.status(),
        location: resp
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string()),
        headers: resp.headers().clone(),
        body: resp.text().await.unwrap(),
    }
}

/// The .xlsx template's bytes, downloaded through the console with the browser's session (the test
/// browser reads bodies as text).
async fn template_bytes(b: &Browser, account: &str) -> Vec<u8> {
    let resp = reqwest::Client::new()
        .get(format!(
            "{}/console/a/{account}/users/import/template?format=xlsx",
            b.base
        ))
        .header(
            "cookie",
            format!("sb_session={}", b.cookie("sb_session").expect("signed in")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().await.unwrap().to_vec();
    assert!(bytes.starts_with(b"PK"), "a zip container");
    bytes
}

/// The staged imports of `account`, through the API.
async fn imports_of(app: &TestApp, account: &str) -> Vec<Value> {
    let (status, body) = app
        .get(&app.token, &format!("/api/v1/accounts/{account}/imports"))
        .await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

/// Whether the preview shows row `line`, and if so whether it is valid.
fn row_valid(html: &str, line: i64) -> Option<bool> {
    let marker = format!("data-testid=\"import-row\" data-line=\"{line}\" data-valid=\"");
    let start = html.find(&marker)? + marker.len();
    Some(html[start..].starts_with("true"))
}

/// The `<input>` of a preview cell.
fn cell<'a>(html: &'a str, line: i64, key: &str) -> &'a str {
    let marker = format!("<input id=\"c-{line}-{key}\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no cell {line}/{key} in {html}"));
    let end = html[start..].find('>').unwrap() + start;
    &html[start..=end]
}

/// The STATUS message of a cell.
fn message(html: &str, line: i64, key: &str) -> String {
    let marker = format!("<li id=\"m-{line}-{key}\">");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no message for {line}/{key} in {html}"))
        + marker.len();
    html[start..].split("</li>").next().unwrap().to_string()
}

fn row_fields<'a>(
    first: &'a str,
    last: &'a str,
    name: &'a str,
    email: &'a str,
    role: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("first_name", first),
        ("last_name", last),
        ("name", name),
        ("email", email),
        ("role", role),
    ]
}

async fn emails_of(app: &TestApp, account: &str) -> Vec<String> {
    let (status, body) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{account}/users?limit=200"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut out: Vec<String> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

async fn an_admin_uploads_fixes_and_commits_an_import(app: TestApp) {
    let account = app.create_account("Import Co").await;
    let aid = account["id"].as_str().unwrap().to_string();
    app.create_user(&aid, "taken@import.example", "user").await;
    let b = partner_console(&app).await;

    // The Users page's ⋮ menu leads to the panel and to the exports.
    let users = b.get(&format!("/console/a/{aid}/users")).await;
    assert_eq!(users.status, 200);
    assert!(
        users
            .body
            .contains(&format!("href=\"/console/a/{aid}/users/import\""))
    );
    assert!(users.body.contains("Export users as CSV"));
    assert!(users.body.contains("Export users as .xlsx"));

    let panel = b.get(&format!("/console/a/{aid}/users/import")).await;
    assert_eq!(panel.status, 200, "{}", panel.body);
    for text in [
        "Download the spreadsheet template (*.xlsx)",
        "Fill the spreadsheet in according the template",
        "Upload the spreadsheet below",
        "You will be able to review or edit your upload in the next step.",
        "enctype=\"multipart/form-data\"",
        ">Cancel</a>",
    ] {
        assert!(panel.body.contains(text), "{text} in {}", panel.body);
    }
    let xlsx = b
        .get(&format!(
            "/console/a/{aid}/users/import/template?format=xlsx"
        ))
        .await;
    assert_eq!(xlsx.status, 200);
    assert_eq!(
        xlsx.headers["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    // The workbook goes back through the form as it came: its example row is staged.
    let workbook = template_bytes(&b, &aid).await;
    let back = upload(&b, &aid, &panel.hidden("csrf"), "template.xlsx", &workbook).await;
    assert_eq!(back.status, 303, "{}", back.body);
    let example = b.get(back.location.as_deref().unwrap()).await;
    assert!(
        example.body.contains("value=\"jane.doe@example.com\""),
        "{}",
        example.body
    );
    assert!(example.body.contains("No errors found."));
    let discarded = submit(
        &b,
        &example,
        &format!("{}/cancel", back.location.unwrap()),
        &[],
    )
    .await;
    assert_eq!(discarded.status, 303);
    let csv = b
        .get(&format!(
            "/console/a/{aid}/users/import/template?format=csv"
        ))
        .await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.body
            .trim_start_matches('\u{feff}')
            .starts_with("FIRST NAME,LAST NAME,NAME,EMAIL,ROLE"),
        "{}",
        csv.body
    );

    // Upload: the preview, each problem at its cell.
    let done = upload(
        &b,
        &aid,
        &panel.hidden("csrf"),
        "staff.csv",
        SHEET.as_bytes(),
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let at = done.location.unwrap();
    assert!(
        at.starts_with(&format!("/console/a/{aid}/imports/")),
        "{at}"
    );
    let import_id = at.rsplit('/').next().unwrap().to_string();
    let preview = b.get(&at).await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    let html = &preview.body;
    assert!(html.contains("staff.csv"));
    assert!(html.contains("4 of 5 rows have errors."), "{html}");
    for header in [
        "STATUS",
        "FIRST NAME",
        "LAST NAME",
        "NAME",
        "EMAIL",
        "ROLE",
        "ACTION",
    ] {
        assert!(html.contains(&format!(">{header}</th>")), "{header}");
    }
    assert_eq!(row_valid(html, 2), Some(true));
    for line in 3..=6 {
        assert_eq!(row_valid(html, line), Some(false), "row {line}");
    }
    assert!(cell(html, 2, "email").contains("aria-invalid=\"false\""));
    let bad = cell(html, 3, "email");
    assert!(bad.contains("aria-invalid=\"true\""), "{bad}");
    assert!(bad.contains("aria-describedby=\"m-3-email\""), "{bad}");
    assert!(bad.contains("value=\"not-an-email\""), "{bad}");
    assert!(message(html, 3, "email").starts_with("EMAIL"));
    assert!(message(html, 4, "email").contains("already has this EMAIL"));
    assert!(message(html, 5, "email").contains("already in row 2"));
    assert!(message(html, 6, "role").contains("ROLE must be"));
    assert!(html.contains("id=\"c-6-role\""));
    assert!(html.contains("<option value=\"Boss\" selected>Boss (not a role)</option>"));
    assert!(html.contains("aria-label=\"Delete row 3\""));
    assert!(html.contains(">Add Row</button>"));
    assert!(!html.contains(" style="), "no inline style");

    // Only the rows with errors.
    let only = b.get(&format!("{at}?invalid=1")).await;
    assert_eq!(row_valid(&only.body, 2), None);
    assert_eq!(row_valid(&only.body, 3), Some(false));

    // The no-JS row form: fix Bob's e-mail; only what changed is sent, the row is checked again.
    let fixed = submit(
        &b,
        &preview,
        &format!("{at}/rows/3"),
        &row_fields("Bob", "", "", "bob@import.example", "User"),
    )
    .await;
    assert_eq!(fixed.status, 303, "{}", fixed.body);
    assert_eq!(fixed.location.as_deref(), Some(at.as_str()));
    let page = b.get(&at).await;
    assert_eq!(row_valid(&page.body, 3), Some(true));
    assert!(page.body.contains("3 of 5 rows have errors."));

    // Dee repeated Ada's address: a new one clears the duplicate.
    submit(
        &b,
        &page,
        &format!("{at}/rows/5"),
        &row_fields("Dee", "Dee", "", "dee@import.example", "User"),
    )
    .await;
    // Eve's role from the drop-down.
    submit(
        &b,
        &page,
        &format!("{at}/rows/6"),
        &row_fields("Eve", "Evans", "", "eve@import.example", "Account Admin"),
    )
    .await;
    // The trash: Cy's address belongs to a user already.
    let gone = submit(&b, &page, &format!("{at}/rows/4/delete"), &[]).await;
    assert_eq!(gone.status, 303, "{}", gone.body);
    // Add Row, filled in.
    let added = submit(
        &b,
        &page,
        &format!("{at}/rows"),
        &row_fields("Fay", "Field", "", "fay@import.example", "User"),
    )
    .await;
    assert_eq!(added.status, 303, "{}", added.body);
    assert!(added.location.as_deref().unwrap().ends_with("#row-7"));
    let page = b.get(&at).await;
    let html = &page.body;
    assert_eq!(row_valid(html, 4), None, "deleted");
    for line in [2, 3, 5, 6, 7] {
        assert_eq!(row_valid(html, line), Some(true), "row {line}: {html}");
    }
    assert!(html.contains("No errors found."), "{html}");
    assert!(html.contains("Make any necessary changes below and select \"Upload\" when ready."));
    assert!(html.contains("<option value=\"Account Admin\" selected>"));

    // An empty Add Row: a row that says what it needs, and stays behind on Upload (partial commit).
    submit(
        &b,
        &page,
        &format!("{at}/rows"),
        &row_fields("", "", "", "", "User"),
    )
    .await;
    let page = b.get(&at).await;
    assert_eq!(row_valid(&page.body, 8), Some(false));
    assert!(message(&page.body, 8, "email").contains("EMAIL is required"));
    assert!(page.body.contains("1 of 6 rows have errors."));

    let started = submit(&b, &page, &format!("{at}/commit"), &[]).await;
    assert_eq!(started.status, 303, "{}", started.body);
    let to = started.location.unwrap();
    assert!(
        to.starts_with(&format!(
            "/console/a/{aid}/users?notice=import-started&job="
        )),
        "{to}"
    );
    let job = started_job(&to);
    let (status, finished) = app
        .get(&app.token, &format!("/api/v1/jobs/{job}?wait=30"))
        .await;
    assert_eq!(status, 200, "{finished}");
    assert_eq!(finished["state"], "succeeded", "{finished}");
    assert_eq!(finished["done"], 5, "{finished}");
    assert_eq!(
        emails_of(&app, &aid).await,
        [
            "ada@import.example",
            "bob@import.example",
            "dee@import.example",
            "eve@import.example",
            "fay@import.example",
            "taken@import.example",
        ]
    );
    // The Users page: the panel's summary and the new users.
    let users = b.get(&to).await;
    assert_eq!(users.status, 200);
    assert!(users.body.contains("Upload started"), "{}", users.body);
    assert!(
        users.body.contains("Import users: 5 of 5 rows"),
        "{}",
        users.body
    );
    for email in ["ada@import.example", "fay@import.example"] {
        assert!(users.body.contains(email), "{email}");
    }

    // The row with errors is still staged, and the panel offers to continue.
    let rest = b.get(&at).await;
    assert_eq!(row_valid(&rest.body, 8), Some(false));
    assert!(
        rest.body.contains("1 of 1 rows have errors."),
        "{}",
        rest.body
    );
    assert!(rest.body.contains("5 users have already been created"));
    let panel = b.get(&format!("/console/a/{aid}/users/import")).await;
    assert!(
        panel
            .body
            .contains("Continue the import of staff.csv</a>\n      (1 rows, 1 with errors, 5 users created so far)"),
        "{}",
        panel.body
    );

    // Cancel asks, then discards.
    let dialog = b.get(&format!("{at}/cancel")).await;
    assert_eq!(dialog.status, 200);
    assert!(dialog.body.contains("Cancel the import?"));
    let cancelled = submit(&b, &dialog, &format!("{at}/cancel"), &[]).await;
    assert_eq!(cancelled.status, 303, "{}", cancelled.body);
    assert_eq!(
        cancelled.location.as_deref(),
        Some(format!("/console/a/{aid}/users?notice=import-cancelled").as_str())
    );
    assert_eq!(b.get(&at).await.status, 404);
    assert!(imports_of(&app, &aid).await.is_empty());
    assert!(!import_id.is_empty());

    // The export through the console: every user, as CSV and as a workbook.
    let csv = b
        .get(&format!("/console/a/{aid}/users/export?format=csv"))
        .await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        csv.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    for email in ["ada@import.example", "taken@import.example"] {
        assert!(csv.body.contains(email), "{email} in {}", csv.body);
    }
    let xlsx = b
        .get(&format!("/console/a/{aid}/users/export?format=xlsx"))
        .await;
    assert_eq!(xlsx.status, 200);
    assert_eq!(
        xlsx.headers["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
}

fn started_job(location: &str) -> String {
    location
        .split("job=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string()
}

async fn a_save_sends_only_the_changed_cells(app: TestApp) {
    // A CSV cell starting with `=` is a formula for Excel, and the import marks it so: its value is not taken
    // as data until someone types it or confirms it.
    let account = app.create_account("Quiet Co").await;
    let aid = account["id"].as_str().unwrap().to_string();
    let b = partner_console(&app).await;
    let panel = b.get(&format!("/console/a/{aid}/users/import")).await;
    let sheet = "FIRST NAME,LAST NAME,NAME,EMAIL,ROLE\nAl,,=Al Adams,al-at-quiet.example,\n";
    let done = upload(
        &b,
        &aid,
        &panel.hidden("csrf"),
        "quiet.csv",
        sheet.as_bytes(),
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let at = done.location.unwrap();
    let import_id = at.rsplit('/').next().unwrap().to_string();
    let staged = async || {
        let (_, page) = app
            .get(
                &app.token,
                &format!("/api/v1/accounts/{aid}/imports/{import_id}"),
            )
            .await;
        page["items"][0].clone()
    };
    let page = b.get(&at).await;
    assert!(
        message(&page.body, 2, "name").contains("formula"),
        "{}",
        page.body
    );
    // The blank ROLE shows as User.
    assert!(
        page.body
            .contains("<option value=\"User\" selected>User</option>")
    );

    // Fixing the e-mail leaves the NAME cell's formula mark: only the changed cell was sent, and "User" for a
    // blank ROLE is no change.
    let saved = submit(
        &b,
        &page,
        &format!("{at}/rows/2"),
        &row_fields("Al", "", "=Al Adams", "al@quiet.example", "User"),
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let row = staged().await;
    assert_eq!(row["email"], "al@quiet.example", "{row}");
    assert_eq!(row["role"], "", "{row}");
    assert_eq!(row["valid"], false, "{row}");
    assert_eq!(row["issues"][0]["code"], "formula", "{row}");

    // Save with nothing changed confirms the value shown in the formula's cell.
    let page = b.get(&at).await;
    submit(
        &b,
        &page,
        &format!("{at}/rows/2"),
        &row_fields("Al", "", "=Al Adams", "al@quiet.example", "User"),
    )
    .await;
    let row = staged().await;
    assert_eq!(row["valid"], true, "{row}");

    // A value too long for a cell is refused at its row, with what was typed kept.
    let long = "x".repeat(4097);
    let refused = submit(
        &b,
        &page,
        &format!("{at}/rows/2"),
        &row_fields(&long, "", "", "al@quiet.example", "User"),
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("Not saved:"), "{}", refused.body);
    assert!(refused.body.contains(&long));
    assert_eq!(staged().await["first_name"], "Al");
}

async fn uploads_need_the_token_a_readable_file_and_the_right(app: TestApp) {
    let mine = app.create_account("Mine Co").await;
    let theirs = app.create_account("Theirs Co").await;
    let (mid, tid) = (
        mine["id"].as_str().unwrap().to_string(),
        theirs["id"].as_str().unwrap().to_string(),
    );
    let (admin, _) = app
        .create_user(&mid, "admin@mine.example", "account_admin")
        .await;
    let (plain, _) = app.create_user(&mid, "plain@mine.example", "user").await;
    set_password(&app, &mid, admin["id"].as_str().unwrap()).await;
    set_password(&app, &mid, plain["id"].as_str().unwrap()).await;
    let a = console_as(&app, "admin@mine.example").await;
    let panel = a.get(&format!("/console/a/{mid}/users/import")).await;
    assert_eq!(panel.status, 200, "{}", panel.body);
    let csrf = panel.hidden("csrf");

    // A forged token: refused, nothing staged.
    let forged = upload(&a, &mid, "not-the-token", "staff.csv", SHEET.as_bytes()).await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(forged.body.contains("Not allowed"));
    assert!(imports_of(&app, &mid).await.is_empty());

    // Files the server cannot read: the reason at the file field, nothing staged.
    for (name, bytes, status, text) in [
        (
            "photo.csv",
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01".to_vec(),
            422,
            "not a spreadsheet",
        ),
        ("empty.csv", Vec::new(), 422, "The file is empty"),
        (
            "headers.csv",
            b"FIRST NAME,LAST NAME,NAME,ROLE\nA,B,,User\n".to_vec(),
            422,
            "no EMAIL column",
        ),
        ("", Vec::new(), 400, "Choose the filled-in spreadsheet"),
        (
            "huge.csv",
            vec![b'a'; (20 << 20) + 1024],
            413,
            "larger than 20",
        ),
    ] {
        let r = upload(&a, &mid, &csrf, name, &bytes).await;
        assert_eq!(r.status.as_u16(), status, "{name}: {}", r.body);
        assert!(r.body.contains("id=\"e-file\""), "{name}: {}", r.body);
        assert!(r.body.contains(text), "{name}: {text} in {}", r.body);
        assert!(
            r.body.contains("aria-describedby=\"e-file h-file\""),
            "{name}"
        );
        assert!(r.body.contains("Download the spreadsheet template"));
    }
    assert!(imports_of(&app, &mid).await.is_empty());

    // The Account Admin's own import works; another tenant's is not found, by either account's address.
    let done = upload(&a, &mid, &csrf, "staff.csv", SHEET.as_bytes()).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let their_import = stage_raw(&app, &tid, SHEET).await;
    for path in [
        format!("/console/a/{mid}/imports/{their_import}"),
        format!("/console/a/{tid}/imports/{their_import}"),
        format!("/console/a/{tid}/users/import"),
        format!("/console/a/{tid}/users/export?format=csv"),
    ] {
        let r = a.get(&path).await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        assert!(!r.body.contains("theirs.csv"));
    }
    for path in [
        format!("/console/a/{mid}/imports/{their_import}/rows/3"),
        format!("/console/a/{mid}/imports/{their_import}/rows/3/delete"),
        format!("/console/a/{mid}/imports/{their_import}/commit"),
        format!("/console/a/{mid}/imports/{their_import}/cancel"),
    ] {
        let r = submit(
            &a,
            &panel,
            &path,
            &row_fields("Bob", "", "", "bob@x.example", "User"),
        )
        .await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
    }
    let (_, theirs_now) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{tid}/imports/{their_import}"),
        )
        .await;
    assert_eq!(theirs_now["import"]["rows"], 5, "{theirs_now}");
    assert_eq!(theirs_now["items"][1]["email"], "not-an-email");

    // A plain user has no Users ADD: not allowed, and no menu entry.
    let u = console_as(&app, "plain@mine.example").await;
    let r = u.get(&format!("/console/a/{mid}/users/import")).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = upload(
        &u,
        &mid,
        &u.get("/console").await.hidden("csrf"),
        "s.csv",
        SHEET.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(imports_of(&app, &mid).await.len(), 1);

    // A Partner Account's users are added one by one: no Import Users there.
    let p = partner_console(&app).await;
    let users = p.get(&format!("/console/a/{}/users", app.partner_id)).await;
    assert_eq!(users.status, 200);
    assert!(!users.body.contains("/users/import\""));
    assert!(users.body.contains("Export users as CSV"));
    let r = p
        .get(&format!("/console/a/{}/users/import", app.partner_id))
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("added one by one"));
}

/// Stages `sheet` in `account` through the API (the partner's token); the import's id.
async fn stage_raw(app: &TestApp, account: &str, sheet: &str) -> String {
    let resp = app
        .http
        .post(format!(
            "{}/api/v1/accounts/{account}/imports?file_name=theirs.csv",
            app.base
        ))
        .bearer_auth(&app.token)
        .header("content-type", "text/csv")
        .body(sheet.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

async fn big_imports_are_paged_by_line(app: TestApp) {
    let account = app.create_account("Big Co").await;
    let aid = account["id"].as_str().unwrap().to_string();
    let b = partner_console(&app).await;
    let panel = b.get(&format!("/console/a/{aid}/users/import")).await;
    // 150 rows on lines 2..=151; the last one has a bad address.
    let mut sheet = String::from("FIRST NAME,LAST NAME,NAME,EMAIL,ROLE\n");
    for i in 0..149 {
        sheet.push_str(&format!("U{i},Test,,u{i}@big.example,\n"));
    }
    sheet.push_str("Last,Test,,last-at-big.example,\n");
    let done = upload(&b, &aid, &panel.hidden("csrf"), "big.csv", sheet.as_bytes()).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let at = done.location.unwrap();

    let first = b.get(&at).await;
    assert!(first.body.contains("1 of 150 rows have errors."));
    assert_eq!(row_valid(&first.body, 2), Some(true));
    assert_eq!(row_valid(&first.body, 101), Some(true));
    assert_eq!(row_valid(&first.body, 102), None);
    assert!(
        first
            .body
            .contains(&format!("href=\"{at}?after=101\" rel=\"next\"")),
        "{}",
        first.body
    );
    assert!(!first.body.contains("rel=\"prev\""));

    let second = b.get(&format!("{at}?after=101")).await;
    assert_eq!(row_valid(&second.body, 101), None);
    assert_eq!(row_valid(&second.body, 102), Some(true));
    assert_eq!(row_valid(&second.body, 151), Some(false));
    assert!(!second.body.contains("rel=\"next\""));
    assert!(
        second
            .body
            .contains(&format!("href=\"{at}?after=1\" rel=\"prev\""))
    );
    // The row forms bring a save back to the same page.
    assert!(
        second
            .body
            .contains("<input type=\"hidden\" name=\"after\" value=\"101\">")
    );
    let saved = submit(
        &b,
        &second,
        &format!("{at}/rows/151"),
        &[
            ("first_name", "Last"),
            ("last_name", "Test"),
            ("name", ""),
            ("email", "last@big.example"),
            ("role", "User"),
            ("after", "101"),
        ],
    )
    .await;
    assert_eq!(saved.location, Some(format!("{at}?after=101")));

    // Only the rows with errors: none left now; Add Row shows the page that holds the new row.
    let only = b.get(&format!("{at}?invalid=1")).await;
    assert!(
        only.body.contains("No row on this page has errors."),
        "{}",
        only.body
    );
    assert!(only.body.contains("No errors found."));
    let added = submit(
        &b,
        &only,
        &format!("{at}/rows"),
        &[
            ("first_name", "New"),
            ("email", "new@big.example"),
            ("role", "User"),
        ],
    )
    .await;
    assert_eq!(added.location, Some(format!("{at}?after=52#row-152")));
    let last = b.get(&format!("{at}?after=52")).await;
    assert_eq!(row_valid(&last.body, 152), Some(true));
    assert_eq!(row_valid(&last.body, 53), Some(true));
}

backend_tests!(
    an_admin_uploads_fixes_and_commits_an_import,
    a_save_sends_only_the_changed_cells,
    big_imports_are_paged_by_line,
    uploads_need_the_token_a_readable_file_and_the_right,
);
