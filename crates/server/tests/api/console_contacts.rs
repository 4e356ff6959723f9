//! Support contacts in the console's account forms: Partner users chosen from a list box (sent to the API as
//! `{ "user_id": … }`) beside the text area of bare e-mail addresses, as a browser without JavaScript posts
//! them; errors at their field; the htmx filter of the list; a customer's Account Admin keeps the partner's
//! contacts without seeing the Partner Account's users.

use serde_json::Value;
use skybridge_testkit::{TestApp, backend_tests};

use crate::browser::Page;
use crate::console::{console_as, partner_console, set_password, submit};

/// The Add Account form's fields, with the chosen Partner users and the e-mail text area.
fn new_fields<'a>(name: &'a str, users: &[&'a str], emails: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
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
        ("support_contacts", emails),
        ("admin_first_name", ""),
        ("admin_last_name", ""),
        ("admin_email", ""),
    ];
    f.extend(users.iter().map(|u| ("contact_user", *u)));
    f
}

/// The Account Information form's fields.
fn edit_fields<'a>(name: &'a str, users: &[&'a str], emails: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("name", name),
        ("country", "CA"),
        ("province", "ON"),
        ("address", "1 Front Street"),
        ("address2", ""),
        ("city", "Ottawa"),
        ("postal_code", "K1A 0B1"),
        ("default_language", "en-US"),
        ("business_type", ""),
        ("support_contacts", emails),
    ];
    f.extend(users.iter().map(|u| ("contact_user", *u)));
    f
}

async fn account_count(app: &TestApp) -> usize {
    let (_, page) = app.get(&app.token, "/api/v1/accounts?limit=200").await;
    page["items"].as_array().unwrap().len()
}

async fn contacts_of(app: &TestApp, account: &str) -> Vec<Value> {
    let (status, a) = app
        .get(&app.token, &format!("/api/v1/accounts/{account}"))
        .await;
    assert_eq!(status, 200, "{a}");
    a["support_contacts"].as_array().unwrap().clone()
}

/// The text of the error shown at `field`.
fn error_at(page: &Page, field: &str) -> String {
    let marker = format!("id=\"e-{field}\">");
    let start = page
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("no error at {field} in {}", page.body))
        + marker.len();
    page.body[start..].split('<').next().unwrap().to_string()
}

/// The `<option>`s of the Partner users list box that are selected, by value.
fn selected_users(page: &Page) -> Vec<String> {
    let select = page
        .body
        .split("<select id=\"f-contact_users\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no Partner users list in {}", page.body))
        .split("</select>")
        .next()
        .unwrap();
    select
        .split("<option value=\"")
        .skip(1)
        .filter(|o| o.split('>').next().unwrap().ends_with(" selected"))
        .map(|o| o.split('"').next().unwrap().to_string())
        .collect()
}

fn id_of(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

async fn partner_users_and_emails_are_support_contacts(app: TestApp) {
    let partner = app.partner_id.clone();
    let (colleague, _) = app
        .create_user(&partner, "colleague@partner.com", "partner")
        .await;
    let (desk, _) = app
        .create_user(&partner, "desk@partner.com", "partner")
        .await;
    let other = app.create_account("Other Customer").await;
    let (customer_user, _) = app.create_user(id_of(&other), "u@other.com", "user").await;
    let (colleague, desk, forged) = (id_of(&colleague), id_of(&desk), id_of(&customer_user));

    let b = partner_console(&app).await;
    let form = b.get("/console/accounts/new").await;
    assert_eq!(form.status, 200, "{}", form.body);
    // The list box offers the Partner Account's users by name and e-mail, none chosen yet; no customer's.
    assert!(
        form.body.contains(&format!(
            "<option value=\"{colleague}\">Test colleague (colleague@partner.com)</option>"
        )),
        "{}",
        form.body
    );
    assert!(form.body.contains("name=\"contact_user\" multiple"));
    assert!(!form.body.contains(forged));
    assert!(selected_users(&form).is_empty());
    let before = account_count(&app).await;

    // No contact at all: refused at the field, nothing created.
    let bad = submit(
        &b,
        &form,
        "/console/accounts/new",
        &new_fields("Harbour", &[], ""),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(error_at(&bad, "support_contacts").contains("at least one support contact"));
    assert!(bad.body.contains("value=\"Harbour\""), "values are kept");
    assert_eq!(account_count(&app).await, before);

    // A forged user id (a customer account's user): the error at the Partner users list, the chosen colleague
    // and the e-mail kept, nothing created.
    let bad = submit(
        &b,
        &form,
        "/console/accounts/new",
        &new_fields("Harbour", &[colleague, forged], "desk@harbour.example"),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(error_at(&bad, "contact_users").contains("Partner Account"));
    assert!(
        bad.body
            .contains("name=\"contact_user\" multiple size=\"3\" aria-invalid=\"true\"")
    );
    assert_eq!(selected_users(&bad), [colleague]);
    assert!(bad.body.contains(">desk@harbour.example</textarea>"));
    assert_eq!(account_count(&app).await, before);

    // A bad e-mail beside a Partner user: at the text area, naming the address.
    let bad = submit(
        &b,
        &form,
        "/console/accounts/new",
        &new_fields(
            "Harbour",
            &[colleague],
            "desk@harbour.example\nnot-an-email",
        ),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(error_at(&bad, "support_contacts").starts_with("not-an-email: "));
    assert!(!bad.body.contains("id=\"e-contact_users\""));
    assert_eq!(account_count(&app).await, before);

    // One Partner user and one e-mail.
    let done = submit(
        &b,
        &form,
        "/console/accounts/new",
        &new_fields("Harbour", &[colleague], "desk@harbour.example"),
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let location = done.location.unwrap();
    let aid = location
        .trim_start_matches("/console/a/")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let contacts = contacts_of(&app, &aid).await;
    assert_eq!(contacts.len(), 2, "{contacts:?}");
    assert_eq!(contacts[0]["user_id"], colleague);
    assert_eq!(contacts[0]["name"], "Test colleague");
    assert_eq!(contacts[0]["email"], "colleague@partner.com");
    assert!(contacts[1].get("user_id").is_none());
    assert!(contacts[1].get("name").is_none());
    assert_eq!(contacts[1]["email"], "desk@harbour.example");

    // The Account Information page names the Partner user; its form has it chosen and the e-mail alone in the
    // text area.
    let info = b.get(&format!("/console/a/{aid}")).await;
    assert_eq!(info.status, 200, "{}", info.body);
    let shown = info
        .body
        .split("data-testid=\"support-contacts\">")
        .nth(1)
        .unwrap()
        .split("</ul>")
        .next()
        .unwrap();
    assert!(
        shown.contains("<li>Test colleague &lt;colleague@partner.com&gt;"),
        "{shown}"
    );
    assert!(shown.contains("<li>desk@harbour.example</li>"), "{shown}");
    assert_eq!(selected_users(&info), [colleague]);
    assert!(info.body.contains(">desk@harbour.example</textarea>"));

    // Editing replaces them: another Partner user and another e-mail.
    let saved = submit(
        &b,
        &info,
        &format!("/console/a/{aid}"),
        &edit_fields("Harbour", &[desk], "ops@harbour.example"),
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let contacts = contacts_of(&app, &aid).await;
    assert_eq!(contacts.len(), 2, "{contacts:?}");
    assert_eq!(contacts[0]["user_id"], desk);
    assert_eq!(contacts[0]["name"], "Test desk");
    assert_eq!(contacts[0]["email"], "desk@partner.com");
    assert_eq!(contacts[1]["email"], "ops@harbour.example");
    let info = b.get(&format!("/console/a/{aid}")).await;
    assert_eq!(selected_users(&info), [desk]);

    // A forged user id in the edit form: the error at the field, nothing changed.
    let bad = submit(
        &b,
        &info,
        &format!("/console/a/{aid}"),
        &edit_fields("Harbour Renamed", &[forged], "ops@harbour.example"),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(error_at(&bad, "contact_users").contains("Partner Account"));
    assert!(
        bad.body.contains("value=\"Harbour Renamed\""),
        "values are kept"
    );
    assert_eq!(contacts_of(&app, &aid).await, contacts);
    let (_, a) = app
        .get(&app.token, &format!("/api/v1/accounts/{aid}"))
        .await;
    assert_eq!(a["name"], "Harbour");

    // No contact at all: refused at the field, nothing changed.
    let bad = submit(
        &b,
        &info,
        &format!("/console/a/{aid}"),
        &edit_fields("Harbour", &[], " \n "),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(error_at(&bad, "support_contacts").contains("at least one support contact"));
    assert_eq!(contacts_of(&app, &aid).await, contacts);
}

/// A customer's Account Admin sees the partner's contacts by name and keeps them when saving, without the
/// Partner Account's other users being offered; the filter is the partner's only.
async fn an_account_admin_keeps_the_partner_contacts(app: TestApp) {
    let partner = app.partner_id.clone();
    let (colleague, _) = app
        .create_user(&partner, "colleague@partner.com", "partner")
        .await;
    app.create_user(&partner, "hidden@partner.com", "partner")
        .await;
    let colleague = id_of(&colleague).to_string();
    let b = partner_console(&app).await;
    let form = b.get("/console/accounts/new").await;
    let done = submit(
        &b,
        &form,
        "/console/accounts/new",
        &new_fields("Bakery", &[&colleague], "help@bakery.example"),
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let aid = done
        .location
        .unwrap()
        .trim_start_matches("/console/a/")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let contacts = contacts_of(&app, &aid).await;

    let (admin, _) = app
        .create_user(&aid, "ada@bakery.example", "account_admin")
        .await;
    set_password(&app, &aid, id_of(&admin)).await;
    let a = console_as(&app, "ada@bakery.example").await;
    let info = a.get(&format!("/console/a/{aid}")).await;
    assert_eq!(info.status, 200, "{}", info.body);
    assert!(
        info.body
            .contains("Test colleague &lt;colleague@partner.com&gt;")
    );
    assert_eq!(selected_users(&info), [colleague.as_str()]);
    assert!(!info.body.contains("hidden@partner.com"), "{}", info.body);
    assert!(
        !info.body.contains("admin@example.com"),
        "no other Partner user offered"
    );

    let saved = submit(
        &a,
        &info,
        &format!("/console/a/{aid}"),
        &edit_fields("Bakery", &[&colleague], "help@bakery.example"),
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(contacts_of(&app, &aid).await, contacts);

    let r = a.get("/console/accounts/contact-users?account=").await;
    assert_eq!(r.status, 403);
    let r = a
        .get(&format!(
            "/console/accounts/contact-users?account={aid}&contact_q=hidden"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!r.body.contains("hidden@partner.com"), "{}", r.body);
}

/// With many Partner users the form loads a filter (htmx) that narrows the list box by name or e-mail and
/// keeps the chosen users.
async fn the_filter_narrows_the_partner_users(app: TestApp) {
    let partner = app.partner_id.clone();
    let mut ids = Vec::new();
    for i in 0..11 {
        let (u, _) = app
            .create_user(&partner, &format!("staff{i:02}@partner.com"), "partner")
            .await;
        ids.push(id_of(&u).to_string());
    }
    let (night, _) = app
        .create_user(&partner, "night@partner.com", "partner")
        .await;
    let b = partner_console(&app).await;
    let form = b.get("/console/accounts/new").await;
    assert_eq!(form.status, 200);
    let loader = "hx-get=\"/console/accounts/contact-users?account=&amp;part=filter\"";
    assert!(form.body.contains(loader), "{}", form.body);
    assert!(form.body.contains("<form id=\"contact-filter\""));

    let filter = b
        .get("/console/accounts/contact-users?account=&part=filter")
        .await;
    assert_eq!(filter.status, 200);
    assert!(
        filter
            .body
            .contains("id=\"f-contact_q\" name=\"contact_q\"")
    );
    assert!(filter.body.contains("form=\"contact-filter\""));

    let list = b
        .get(&format!(
            "/console/accounts/contact-users?account=&contact_q=night&contact_user={}",
            ids[3]
        ))
        .await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.starts_with("<select id=\"f-contact_users\""));
    let options = list.body.matches("<option ").count();
    assert_eq!(options, 2, "the chosen user and the match: {}", list.body);
    assert_eq!(selected_users(&list), [ids[3].as_str()]);
    assert!(list.body.contains(id_of(&night)));
    assert!(list.body.contains("night@partner.com"));
}

backend_tests!(
    partner_users_and_emails_are_support_contacts,
    an_account_admin_keeps_the_partner_contacts,
    the_filter_narrows_the_partner_users,
);
