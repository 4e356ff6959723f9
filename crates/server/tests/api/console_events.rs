//! The console's Event History and Integrations & Apps pages over HTTP, as an Account Admin's browser uses
//! them (no JavaScript): the event table with its filters, facets, columns, paging, details and CSV export;
//! adding, completing and removing integrations; privileges; the Chat setting; Entra ID Sync keys.

use serde_json::Value;
use skybridge_testkit::reqwest::StatusCode;
use skybridge_testkit::{ScimClient, TestApp, backend_tests, json};

use crate::browser::{Browser, Page};
use crate::console::{console_as, set_password};

/// A customer account with a registered Account Admin signed in to the console: (account id, admin id,
/// browser).
async fn admin_console(app: &TestApp, name: &str, email: &str) -> (String, String, Browser) {
    let a = app.create_account(name).await;
    let aid = a["id"].as_str().unwrap().to_string();
    let (user, _) = app.create_user(&aid, email, "account_admin").await;
    let uid = user["id"].as_str().unwrap().to_string();
    set_password(app, &aid, &uid).await;
    (aid.clone(), uid, console_as(app, email).await)
}

/// Posts a console form with the CSRF token of `page`.
async fn submit(b: &Browser, page: &Page, action: &str, fields: &[(&str, &str)]) -> Page {
    let csrf = page.hidden("csrf");
    let mut all: Vec<(&str, &str)> = vec![("csrf", &csrf)];
    all.extend_from_slice(fields);
    b.post(action, &all).await
}

/// The account's events as the API lists them (newest first).
async fn api_events(app: &TestApp, aid: &str, query: &str) -> Vec<Value> {
    let (status, page) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{aid}/events?limit=200&{query}"),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

/// The event ids of the table rows, in order.
fn row_ids(html: &str) -> Vec<String> {
    html.split("data-testid=\"event-row\" data-id=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect()
}

/// The option values of a select.
fn options(html: &str, select_id: &str) -> Vec<String> {
    let start = html
        .find(&format!("id=\"{select_id}\""))
        .unwrap_or_else(|| panic!("no {select_id} in {html}"));
    let select = &html[start..];
    let select = &select[..select.find("</select>").unwrap()];
    select
        .split("<option value=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

/// The value of the input with `id`.
fn input_value(html: &str, id: &str) -> String {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no {id} in {html}"));
    let rest = &html[start..];
    let v = rest.find("value=\"").unwrap() + "value=\"".len();
    rest[v..].split('"').next().unwrap().to_string()
}

fn href_with(html: &str, marker: &str) -> String {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {html}"));
    let before = &html[..at];
    let h = before.rfind("href=\"").unwrap() + "href=\"".len();
    before[h..]
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

async fn the_event_table_lists_filters_sorts_and_pages(app: TestApp) {
    let (aid, _, b) = admin_console(&app, "Evented", "eve@evented.example").await;
    let (user, _) = app.create_user(&aid, "kim@evented.example", "user").await;
    let kim = user["id"].as_str().unwrap();
    let (s, _) = app
        .patch(
            &app.token,
            &format!("/api/v1/accounts/{aid}/users/{kim}"),
            &json!({ "extension": "4242" }),
        )
        .await;
    assert_eq!(s, 200);

    let page = b.get(&format!("/console/a/{aid}/events")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let events = api_events(&app, &aid, "").await;
    let edit = events
        .iter()
        .find(|e| e["asset"] == "User" && e["action"] == "Edit")
        .expect("the edit is audited");
    let edit_id = edit["id"].as_str().unwrap();
    // Every event, newest first, as the API has them.
    let api_ids: Vec<String> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(row_ids(&page.body), api_ids);
    // The default columns, the table's date format, the changed property.
    for h in [
        "Actor Name",
        "Action",
        "Asset",
        "Event Date",
        "Properties Changed",
        "Core Details",
    ] {
        assert!(page.body.contains(&format!(">{h}")), "{h}");
    }
    assert!(!page.body.contains("<th scope=\"col\">Event ID</th>"));
    let date = edit["date"].as_str().unwrap();
    let shown = format!("{}, {}", &date[..10], &date[11..19]);
    assert!(page.body.contains(&shown), "{shown}");
    assert!(
        page.body.contains("[&quot;extension&quot;]")
            || page.body.contains("[&#34;extension&#34;]")
    );
    assert!(page.body.contains("No additional events found"));
    assert!(!page.body.contains("No events found"));

    // Sorting by Event Date: the header link turns the order around.
    let sort = href_with(&page.body, "data-testid=\"sort-date\"");
    assert!(sort.contains("order=asc"), "{sort}");
    let asc = b.get(&sort).await;
    assert_eq!(asc.status, 200);
    let mut reversed = api_ids.clone();
    reversed.reverse();
    assert_eq!(row_ids(&asc.body), reversed);
    assert!(asc.body.contains("aria-sort=\"ascending\""));

    // A filter matching nothing: the banner and the chip, whose × drops the filter.
    let none = b
        .get(&format!("/console/a/{aid}/events?actor_id=testID"))
        .await;
    assert_eq!(none.status, 200);
    assert!(none.body.contains("No events found"), "{}", none.body);
    assert!(none.body.contains("Actor ID is testID"));
    assert!(row_ids(&none.body).is_empty());
    let chip_remove = href_with(
        &none.body,
        "aria-label=\"Remove filter: Actor ID is testID\"",
    );
    assert_eq!(chip_remove, format!("/console/a/{aid}/events"));
    assert_eq!(row_ids(&b.get(&chip_remove).await.body), api_ids);

    // Filters from the form: Asset=User and Action=Edit select exactly the user edits.
    let f = b
        .get(&format!("/console/a/{aid}/events?asset=User&action=Edit"))
        .await;
    let user_edits: Vec<String> = api_events(&app, &aid, "asset=User&action=Edit")
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert!(user_edits.contains(&edit_id.to_string()));
    assert!(user_edits.len() < api_ids.len());
    assert_eq!(row_ids(&f.body), user_edits);
    assert!(f.body.contains("Asset is User") && f.body.contains("Action is Edit"));

    // The smart filter, worked out only with the Add Filter panel open: the choices narrow to what the
    // other filters leave.
    assert!(!page.body.contains("id=\"f-action\""));
    let page = b.get(&format!("/console/a/{aid}/events?filter=1")).await;
    let all_actions = options(&page.body, "f-action");
    assert!(all_actions.contains(&"Edit".to_string()), "{all_actions:?}");
    let accounts_only = b
        .get(&format!("/console/a/{aid}/events?asset=Account&filter=1"))
        .await;
    assert_eq!(options(&accounts_only.body, "f-action"), ["Create"]);
    let edits_only = b
        .get(&format!("/console/a/{aid}/events?action=Edit&filter=1"))
        .await;
    assert_eq!(options(&edits_only.body, "f-asset"), ["User"]);
    assert!(options(&page.body, "f-asset").len() > 1);

    // Event Date range from datetime-local values (UTC): the future holds nothing.
    let future = b
        .get(&format!("/console/a/{aid}/events?from=2999-01-01T00:00"))
        .await;
    assert!(future.body.contains("No events found"));
    assert!(future.body.contains("Event Date from is 2999-01-01T00:00"));
    let past = b
        .get(&format!("/console/a/{aid}/events?to=2999-01-01T00:00"))
        .await;
    assert_eq!(row_ids(&past.body), api_ids);
    // A filter the API cannot read.
    let bad = b
        .get(&format!("/console/a/{aid}/events?from=yesterday"))
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("Failed to get events"));

    // Paging: "Load more" links the next page and is an htmx infinite-scroll sentinel.
    let first = b.get(&format!("/console/a/{aid}/events?limit=2")).await;
    assert_eq!(row_ids(&first.body), api_ids[..2]);
    assert!(first.body.contains("hx-trigger=\"revealed\""));
    assert!(
        first.body.contains("hx-select=\"#event-rows &gt; tr\"")
            || first.body.contains("hx-select=\"#event-rows > tr\"")
    );
    assert!(!first.body.contains("No additional events found"));
    let mut seen = row_ids(&first.body);
    let mut next = href_with(&first.body, "data-testid=\"load-more\"");
    for _ in 0..api_ids.len() {
        assert!(next.contains("&cursor="), "{next}");
        let more = b.get(&next).await;
        assert_eq!(more.status, 200);
        seen.extend(row_ids(&more.body));
        if more.body.contains("data-testid=\"load-more\"") {
            next = href_with(&more.body, "data-testid=\"load-more\"");
        } else {
            assert!(more.body.contains("No additional events found"));
            break;
        }
    }
    assert!(next.contains("&cursor="));
    assert_eq!(seen, api_ids);

    // Columns: cols= names them in display order; Reset to Default drops the choice.
    let cols = b
        .get(&format!("/console/a/{aid}/events?cols=event_id,tags,date"))
        .await;
    let heads = cols.body.matches("<th scope=\"col\"").count();
    assert_eq!(heads, 3, "{}", cols.body);
    let at = |label: &str| cols.body.find(&format!(">{label}")).unwrap();
    assert!(at("Event ID</th>") < at("Log Tags</th>"));
    assert!(!cols.body.contains("<th scope=\"col\">Actor Name</th>"));
    assert!(cols.body.contains(edit_id));
    // The column checkboxes submit as repeated col fields.
    let boxes = b
        .get(&format!("/console/a/{aid}/events?col=actor_id&col=action"))
        .await;
    assert!(boxes.body.contains("<th scope=\"col\">Actor ID</th>"));
    assert!(!boxes.body.contains("<th scope=\"col\">Asset</th>"));
    let reset = href_with(&cols.body, ">Reset to Default<");
    assert_eq!(reset, format!("/console/a/{aid}/events"));
}

async fn batch_export_and_event_details(app: TestApp) {
    let (aid, _, b) = admin_console(&app, "Exported", "ed@exported.example").await;
    let (user, _) = app.create_user(&aid, "lou@exported.example", "user").await;
    let lou = user["id"].as_str().unwrap();
    app.patch(
        &app.token,
        &format!("/api/v1/accounts/{aid}/users/{lou}"),
        &json!({ "extension": "77" }),
    )
    .await;
    let events = api_events(&app, &aid, "").await;
    assert!(events.len() >= 3);
    let edit = events
        .iter()
        .find(|e| e["asset"] == "User" && e["action"] == "Edit")
        .unwrap();
    let edit_id = edit["id"].as_str().unwrap().to_string();
    let other_id = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .find(|i| *i != edit_id)
        .unwrap();

    // Tick two rows, press Export (2): exactly those two, under the API's header.
    let page = b.get(&format!("/console/a/{aid}/events")).await;
    assert!(page.body.contains("name=\"event\" value=\""));
    assert!(page.body.contains("data-count-of=\"event\""));
    let csv = submit(
        &b,
        &page,
        &format!("/console/a/{aid}/events/export"),
        &[("event", &edit_id), ("event", &other_id)],
    )
    .await;
    assert_eq!(csv.status, 200, "{}", csv.body);
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
    let mut reader = csv::Reader::from_reader(csv.body.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(header, skybridge_server::api::events::CSV_HEADER);
    let mut ids: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[0].to_string())
        .collect();
    ids.sort();
    let mut want = vec![edit_id.clone(), other_id.clone()];
    want.sort();
    assert_eq!(ids, want);

    // Nothing ticked, or a forged form: no file.
    let none = submit(&b, &page, &format!("/console/a/{aid}/events/export"), &[]).await;
    assert_eq!(none.status, 400);
    let forged = b
        .post(
            &format!("/console/a/{aid}/events/export"),
            &[("csrf", "forged"), ("event", &edit_id)],
        )
        .await;
    assert_eq!(forged.status, 403);

    // Event Details: the fields, the tabs, Copy of the current tab, Export of this event.
    let details = b.get(&format!("/console/a/{aid}/events/{edit_id}")).await;
    assert_eq!(details.status, 200, "{}", details.body);
    for s in [
        "Event Details",
        "Event Id",
        "Actor Name",
        "Actor Id",
        "Type",
        "Event Date",
        "Core Details",
        "Properties Changed",
        "Extra Details",
        "Log Tags",
        "data-copy=\"tab-content\"",
        &edit_id,
    ] {
        assert!(details.body.contains(s), "{s}");
    }
    // The core details tab is the default: the edited user's name.
    assert!(details.body.contains("fullname"), "{}", details.body);
    let props = b
        .get(&format!("/console/a/{aid}/events/{edit_id}?tab=properties"))
        .await;
    assert!(props.body.contains("extension"));
    assert!(!props.body.contains("fullname"));
    assert!(
        props
            .body
            .contains("?tab=properties\" aria-current=\"page\"")
    );
    let one = b
        .get(&format!("/console/a/{aid}/events/{edit_id}/export.csv"))
        .await;
    assert_eq!(one.status, 200);
    assert!(
        one.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let mut reader = csv::Reader::from_reader(one.body.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][0], edit_id.as_str());
    assert!(rows[0][7].contains("extension"));

    // Another tenant's event is not found through this account, and that account is not ours.
    let other = app.create_account("Elsewhere").await;
    let oid = other["id"].as_str().unwrap();
    let theirs = api_events(&app, oid, "").await;
    let their_id = theirs[0]["id"].as_str().unwrap();
    let nope = b.get(&format!("/console/a/{aid}/events/{their_id}")).await;
    assert_eq!(nope.status, 404, "{}", nope.body);
    assert!(nope.body.contains("Not found"));
    assert!(!nope.body.contains(their_id));
    let nope = b
        .get(&format!("/console/a/{aid}/events/{their_id}/export.csv"))
        .await;
    assert_eq!(nope.status, 404);
    let csv = submit(
        &b,
        &page,
        &format!("/console/a/{aid}/events/export"),
        &[("event", their_id)],
    )
    .await;
    assert_eq!(csv.status, 200);
    assert_eq!(
        csv::Reader::from_reader(csv.body.as_bytes())
            .records()
            .count(),
        0,
        "a foreign id exports nothing"
    );
    let theirs_page = b.get(&format!("/console/a/{oid}/events")).await;
    assert!(
        theirs_page.status == 403 || theirs_page.status == 404,
        "{}",
        theirs_page.status
    );
    assert!(
        b.get(&format!("/console/a/{aid}/events/not-an-id"))
            .await
            .status
            == 404
    );
}

async fn integrations_are_managed_and_audited(app: TestApp) {
    let (aid, uid, b) = admin_console(&app, "Integrated", "ian@integrated.example").await;
    let list = b.get(&format!("/console/a/{aid}/integrations")).await;
    assert_eq!(list.status, 200, "{}", list.body);
    for s in [
        "+ Add new",
        "Delegated Authentication",
        "Allow Guest Access",
        "Chat Service Settings",
    ] {
        assert!(list.body.contains(s), "{s}");
    }

    // The catalog's tabs; Add; the item is then marked added; adding again is refused.
    let mitel = b
        .get(&format!("/console/a/{aid}/integrations/catalog?tab=mitel"))
        .await;
    assert_eq!(mitel.status, 200);
    assert!(mitel.body.contains("MiCollab") && !mitel.body.contains("Entra ID Sync"));
    let third = b
        .get(&format!(
            "/console/a/{aid}/integrations/catalog?tab=third_party"
        ))
        .await;
    assert!(third.body.contains("Entra ID Sync") && !third.body.contains("MiCollab"));
    let added = submit(
        &b,
        &mitel,
        &format!("/console/a/{aid}/integrations/catalog"),
        &[("key", "micollab"), ("tab", "mitel")],
    )
    .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let back = added.location.unwrap();
    assert!(back.contains("tab=mitel") && back.contains("notice=integration-added"));
    let mitel = b.get(&back).await;
    assert!(mitel.body.contains("Integration added."));
    assert!(!mitel.body.contains("aria-label=\"Add MiCollab\""));
    assert!(mitel.body.contains("aria-label=\"Add MiCC\""));
    assert!(
        mitel
            .body
            .contains(&format!("href=\"/console/a/{aid}/integrations\">Done"))
    );
    let again = submit(
        &b,
        &mitel,
        &format!("/console/a/{aid}/integrations/catalog"),
        &[("key", "micollab"), ("tab", "mitel")],
    )
    .await;
    assert_eq!(again.status, 422, "{}", again.body);
    assert!(again.body.contains("class=\"banner\""));

    // Listed as "Complete setup"; MiCollab switched Delegated Authentication on.
    let list = b.get(&format!("/console/a/{aid}/integrations")).await;
    assert!(list.body.contains("MiCollab"));
    assert!(
        list.body
            .contains("<span class=\"tag\">Complete setup</span>")
    );
    assert!(
        list.body
            .contains("name=\"delegated_authentication\" value=\"on\" checked")
    );
    let done = submit(
        &b,
        &list,
        &format!("/console/a/{aid}/integrations/micollab/complete"),
        &[],
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let list = b.get(&done.location.unwrap()).await;
    assert!(list.body.contains("Onboarding Complete"));
    assert!(
        !list
            .body
            .contains("<span class=\"tag\">Complete setup</span>")
    );

    // Privileges by hand.
    let saved = submit(
        &b,
        &list,
        &format!("/console/a/{aid}/integrations/privileges"),
        &[("allow_guest_access", "on")],
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let (_, registry) = app
        .get(&app.token, &format!("/api/v1/accounts/{aid}/integrations"))
        .await;
    assert_eq!(registry["privileges"]["delegated_authentication"], false);
    assert_eq!(registry["privileges"]["allow_guest_access"], true);

    // Remove, with the typed word.
    let confirm = b
        .get(&format!("/console/a/{aid}/integrations/micollab/remove"))
        .await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("Type remove"));
    let wrong = submit(
        &b,
        &confirm,
        &format!("/console/a/{aid}/integrations/micollab/remove"),
        &[("confirm", "delete")],
    )
    .await;
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    assert!(wrong.body.contains("id=\"e-confirm\""));
    let (_, registry) = app
        .get(&app.token, &format!("/api/v1/accounts/{aid}/integrations"))
        .await;
    assert_eq!(registry["integrations"].as_array().unwrap().len(), 1);
    let gone = submit(
        &b,
        &confirm,
        &format!("/console/a/{aid}/integrations/micollab/remove"),
        &[("confirm", "remove")],
    )
    .await;
    assert_eq!(gone.status, 303, "{}", gone.body);
    let list = b.get(&gone.location.unwrap()).await;
    assert!(list.body.contains("Integration removed."));
    assert!(!list.body.contains("MiCollab"));
    assert_eq!(
        b.get(&format!("/console/a/{aid}/integrations/micollab/remove"))
            .await
            .status,
        404
    );

    // Each step is audited as the admin who took it, and shows in Event History.
    let audited = api_events(&app, &aid, "asset=Integration&order=asc").await;
    let steps: Vec<(&str, &str)> = audited
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["asset_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("Create", "micollab"),
            ("Edit", "micollab"),
            ("Delete", "micollab")
        ]
    );
    assert!(audited.iter().all(|e| e["actor_id"] == uid.as_str()));
    let history = b
        .get(&format!("/console/a/{aid}/events?asset=Integration"))
        .await;
    assert_eq!(row_ids(&history.body).len(), 3);
    assert!(history.body.contains("Asset is Integration"));
    assert!(history.body.contains("Test ian"));

    // Chat Service Settings: on by default; cleared and saved.
    let chat = b.get(&format!("/console/a/{aid}/integrations/chat")).await;
    assert_eq!(chat.status, 200);
    assert!(chat.body.contains("Chat service is an integration used by the other services from Mitel (e.g. MiCC, MiTeam Meetings, MiCollab, Cloudlink Gateway, MOMA). It controls sending and receiving messages."));
    assert!(
        chat.body
            .contains("value=\"on\" checked> Allow editing and deleting of messages")
    );
    assert!(chat.body.contains(">Cancel<") && chat.body.contains(">Save<"));
    let saved = submit(
        &b,
        &chat,
        &format!("/console/a/{aid}/integrations/chat"),
        &[],
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let (_, registry) = app
        .get(&app.token, &format!("/api/v1/accounts/{aid}/integrations"))
        .await;
    assert_eq!(
        registry["chat"]["allow_editing_and_deleting_of_messages"],
        false
    );
    let chat = b.get(&format!("/console/a/{aid}/integrations/chat")).await;
    assert!(
        chat.body
            .contains("value=\"on\"> Allow editing and deleting of messages")
    );
    assert_eq!(api_events(&app, &aid, "tag=chat").await.len(), 1);
    let on = submit(
        &b,
        &chat,
        &format!("/console/a/{aid}/integrations/chat"),
        &[("allow_editing_and_deleting_of_messages", "on")],
    )
    .await;
    assert_eq!(on.status, 303);
    let (_, registry) = app
        .get(&app.token, &format!("/api/v1/accounts/{aid}/integrations"))
        .await;
    assert_eq!(
        registry["chat"]["allow_editing_and_deleting_of_messages"],
        true
    );

    // A forged form changes nothing.
    let forged = b
        .post(
            &format!("/console/a/{aid}/integrations/catalog"),
            &[("csrf", "forged"), ("key", "micc")],
        )
        .await;
    assert_eq!(forged.status, 403);
    let (_, registry) = app
        .get(&app.token, &format!("/api/v1/accounts/{aid}/integrations"))
        .await;
    assert!(registry["integrations"].as_array().unwrap().is_empty());
}

async fn entra_keys_are_shown_once_and_rotate(app: TestApp) {
    let (aid, _, b) = admin_console(&app, "Synced", "sam@synced.example").await;
    let before = b
        .get(&format!("/console/a/{aid}/integrations/entra_id_sync"))
        .await;
    assert_eq!(before.status, 200, "{}", before.body);
    assert!(before.body.contains("Tenant URL") && before.body.contains("Secret Token"));
    assert!(!before.body.contains("action=\"/console/a/"));
    assert!(before.body.contains("integrations/catalog?tab=third_party"));

    let third = b
        .get(&format!(
            "/console/a/{aid}/integrations/catalog?tab=third_party"
        ))
        .await;
    let added = submit(
        &b,
        &third,
        &format!("/console/a/{aid}/integrations/catalog"),
        &[("key", "entra_id_sync"), ("tab", "third_party")],
    )
    .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let list = b.get(&format!("/console/a/{aid}/integrations")).await;
    assert!(list.body.contains("Entra ID Sync"));
    assert!(list.body.contains("/integrations/entra_id_sync\">"));

    let page = b
        .get(&format!("/console/a/{aid}/integrations/entra_id_sync"))
        .await;
    assert!(page.body.contains(">Generate keys<"), "{}", page.body);
    assert!(!page.body.contains("sbscim_"));
    let first = submit(
        &b,
        &page,
        &format!("/console/a/{aid}/integrations/entra_id_sync"),
        &[],
    )
    .await;
    assert_eq!(first.status, 200, "the keys are the answer, not a redirect");
    assert_eq!(first.headers["cache-control"], "no-store");
    let token = input_value(&first.body, "secret-token");
    let tenant_url = input_value(&first.body, "tenant-url");
    assert!(token.starts_with("sbscim_"), "{token}");
    assert!(
        tenant_url.ends_with(&format!("/scim/v2/{aid}")),
        "{tenant_url}"
    );
    assert!(first.body.contains("data-copy=\"secret-token\""));
    assert!(first.body.contains("data-copy=\"tenant-url\""));
    assert!(first.body.contains("invalidates"));
    assert!(first.body.contains("readonly"));
    let scim = ScimClient::new(&tenant_url, &token);
    assert_eq!(scim.get("/Users").await.status, StatusCode::OK);

    // Shown once: the page does not show it again, but says one is in use.
    let again = b
        .get(&format!("/console/a/{aid}/integrations/entra_id_sync"))
        .await;
    assert!(!again.body.contains(&token));
    assert!(again.body.contains("already in use"));
    assert!(again.body.contains(">Generate new keys<"));

    // A second generation: the old token stops working at once.
    let second = submit(
        &b,
        &again,
        &format!("/console/a/{aid}/integrations/entra_id_sync"),
        &[],
    )
    .await;
    assert_eq!(second.status, 200);
    let new_token = input_value(&second.body, "secret-token");
    assert!(new_token.starts_with("sbscim_") && new_token != token);
    assert_eq!(
        scim.get("/Users").await.status,
        StatusCode::UNAUTHORIZED,
        "the first token is void"
    );
    assert_eq!(
        scim.with_token(&new_token).get("/Users").await.status,
        StatusCode::OK
    );
    let generated = api_events(&app, &aid, "asset=Integration&action=Edit").await;
    assert_eq!(generated.len(), 2);
    assert!(
        generated
            .iter()
            .all(|e| e["properties_changed"] == json!(["secret_token"]))
    );
    // The page must never carry the token in a link or a redirect.
    assert!(second.location.is_none());
}

backend_tests!(
    the_event_table_lists_filters_sorts_and_pages,
    batch_export_and_event_details,
    integrations_are_managed_and_audited,
    entra_keys_are_shown_once_and_rotate,
);
