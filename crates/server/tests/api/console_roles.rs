//! The console's Roles and Permissions pages and its Account Managers pages, driven like a browser: signed in
//! through the portal, forms posted with the page's CSRF token, the outcome checked through the admin API.

use std::collections::BTreeSet;

use skybridge_testkit::reqwest::Method;
use skybridge_testkit::{TestApp, backend_tests, json};

use crate::browser::{Browser, Page};

const PASSWORD: &str = "a console passphrase";

/// Creates a user with `role` in `account`, gives it a password, and signs it in; (user id, browser).
async fn signed_in(app: &TestApp, account: &str, email: &str, role: &str) -> (String, Browser) {
    let (user, _) = app.create_user(account, email, role).await;
    let uid = user["id"].as_str().unwrap().to_string();
    let (s, body) = app
        .call(
            &app.token,
            Method::PUT,
            &format!("/api/v1/accounts/{account}/users/{uid}/password"),
            Some(&json!({ "password": PASSWORD })),
        )
        .await;
    assert_eq!(s, 204, "{body}");
    let b = Browser::new(&app.base);
    let r = b.sign_in(email, PASSWORD).await;
    assert_eq!(r.status, 303, "{}", r.body);
    (uid, b)
}

/// Every `value` of the inputs named `name` in a page, in order.
fn values(html: &str, name: &str) -> Vec<String> {
    let marker = format!("name=\"{name}\" value=\"");
    html.match_indices(&marker)
        .map(|(i, _)| {
            html[i + marker.len()..]
                .split('"')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// The path of a redirect, without its query.
fn path_of(page: &Page) -> String {
    let loc = page.location.as_deref().expect("a redirect");
    loc.split('?').next().unwrap().to_string()
}

fn assert_status(page: &Page, status: u16) {
    assert_eq!(page.status.as_u16(), status, "{}", page.body);
}

async fn a_partner_builds_assigns_and_deletes_a_role(app: TestApp) {
    let partner = app.partner_id.clone();
    let (_, b) = signed_in(&app, &partner, "boss@partner.example", "partner").await;

    let list = b.get("/console/roles").await;
    assert_status(&list, 200);
    assert!(
        list.body.contains("href=\"/console/roles/new\""),
        "{}",
        list.body
    );

    // The Account Admin matrix: not-applicable cells are "-", always-on ones a checked disabled box, every
    // other box ticked.
    let form = b.get("/console/roles/new?base=account_admin").await;
    assert_status(&form, 200);
    assert!(form.body.contains("<span aria-hidden=\"true\">-</span>"));
    assert!(
        form.body
            .contains("checked disabled aria-label=\"Account VIEW (always on)\"")
    );
    assert!(
        !form.body.contains("value=\"accounts.add\""),
        "a partner-only row"
    );
    let boxes = values(&form.body, "permission");
    assert!(
        boxes.contains(&"users.delete".to_string()) && boxes.contains(&"roles.assign".to_string())
    );
    let unticked = form.body.matches("name=\"permission\"").count()
        - form.body.matches("\" checked aria-label=").count();
    assert_eq!(unticked, 0, "every applicable box starts ticked");
    let csrf = form.hidden("csrf");

    // "Change base" without JavaScript: the partner matrix, with its Accounts row.
    let changed = b
        .post(
            "/console/roles/new",
            &[
                ("csrf", &csrf),
                ("name", "Helpdesk"),
                ("base", "partner"),
                ("matrix_base", "account_admin"),
                ("change_base", "1"),
            ],
        )
        .await;
    assert_status(&changed, 200);
    assert!(changed.body.contains("value=\"accounts.add\""));
    assert!(
        changed.body.contains("value=\"Helpdesk\""),
        "the name is kept"
    );

    // Server errors sit at their field.
    let mut fields: Vec<(&str, &str)> = vec![
        ("csrf", &csrf),
        ("base", "account_admin"),
        ("matrix_base", "account_admin"),
        ("name", " "),
    ];
    let kept: Vec<String> = boxes
        .iter()
        .filter(|b| *b != "users.delete" && *b != "integrations.delete")
        .cloned()
        .collect();
    for k in &kept {
        fields.push(("permission", k));
    }
    let bad = b.post("/console/roles/new", &fields).await;
    assert_status(&bad, 400);
    assert!(bad.body.contains("id=\"e-name\""), "{}", bad.body);
    assert!(!values(&bad.body, "permission").is_empty());
    assert!(
        bad.body.contains("value=\"users.delete\" aria-label")
            && bad.body.contains("value=\"users.view\" checked"),
        "the boxes are kept as posted"
    );
    let no_view: Vec<(&str, &str)> = vec![
        ("csrf", &csrf),
        ("base", "account_admin"),
        ("matrix_base", "account_admin"),
        ("name", "No view"),
        ("permission", "users.add"),
    ];
    let bad = b.post("/console/roles/new", &no_view).await;
    assert_status(&bad, 400);
    assert!(bad.body.contains("id=\"e-permissions\""), "{}", bad.body);
    assert!(bad.body.contains("users.add requires users.view"));

    // Two boxes cleared: the API reports exactly the rest (and the always-on cell).
    fields[3] = ("name", "Helpdesk");
    let created = b.post("/console/roles/new", &fields).await;
    assert_status(&created, 303);
    assert_eq!(created.location_params()["notice"], "role-created");
    let role_path = path_of(&created);
    let rid = role_path.rsplit('/').next().unwrap().to_string();
    let (s, role) = app.get(&app.token, &format!("/api/v1/roles/{rid}")).await;
    assert_eq!(s, 200, "{role}");
    let got: BTreeSet<String> = role["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    let mut want: BTreeSet<String> = kept.iter().cloned().collect();
    want.insert("account.view".into());
    assert_eq!(got, want);
    assert_eq!(role["base"], "account_admin");

    // The edit page shows the cleared boxes unticked.
    let edit = b.get(created.location.as_deref().unwrap()).await;
    assert_status(&edit, 200);
    assert!(edit.body.contains("Role created."));
    assert!(edit.body.contains("value=\"users.delete\" aria-label"));
    assert!(edit.body.contains("value=\"users.view\" checked"));

    // Not yet assigned: a user of the account cannot be given it.
    let acme = app.create_account("Acme").await;
    let acme_id = acme["id"].as_str().unwrap().to_string();
    let (user, _) = app.create_user(&acme_id, "uma@acme.example", "user").await;
    let uid = user["id"].as_str().unwrap().to_string();
    let user_path = format!("/api/v1/accounts/{acme_id}/users/{uid}");
    let (s, body) = app
        .patch(&app.token, &user_path, &json!({ "role": rid }))
        .await;
    assert_eq!(s, 422, "{body}");

    // Accounts tab: Acme is among the other accounts; assign it.
    let tab = b.get(&format!("{role_path}?tab=accounts")).await;
    assert_status(&tab, 200);
    assert!(
        tab.body
            .contains("Only Account Admin role can be assigned to a customer account.")
    );
    assert!(values(&tab.body, "account").contains(&acme_id));
    let csrf = tab.hidden("csrf");
    let nothing = b
        .post(
            &format!("{role_path}/accounts"),
            &[("csrf", &csrf), ("action", "assign")],
        )
        .await;
    assert_status(&nothing, 400);
    let assigned = b
        .post(
            &format!("{role_path}/accounts"),
            &[("csrf", &csrf), ("action", "assign"), ("account", &acme_id)],
        )
        .await;
    assert_status(&assigned, 303);
    assert_eq!(assigned.location_params()["notice"], "role-assigned");
    let (_, accounts) = app
        .get(&app.token, &format!("/api/v1/roles/{rid}/accounts"))
        .await;
    assert_eq!(accounts[0]["id"], acme_id.as_str(), "{accounts}");
    let (s, body) = app
        .patch(&app.token, &user_path, &json!({ "role": rid }))
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["role"], rid.as_str());

    // An Account Admin of Acme sees the role, read-only.
    let (_, admin) = signed_in(&app, &acme_id, "ada@acme.example", "account_admin").await;
    let theirs = admin.get("/console/roles").await;
    assert_status(&theirs, 200);
    assert!(theirs.body.contains("Helpdesk") && theirs.body.contains("Account Admin"));
    assert!(!theirs.body.contains("/console/roles/new"));
    let view = admin.get(&role_path).await;
    assert_status(&view, 200);
    assert!(view.body.contains("value=\"users.view\" checked disabled"));
    assert!(!view.body.contains(">Save</button>"));
    assert!(!view.body.contains("?tab=accounts"));

    // Unassigning while a user holds the role is refused on the tab.
    let refused = b
        .post(
            &format!("{role_path}/accounts"),
            &[
                ("csrf", &csrf),
                ("action", "unassign"),
                ("account", &acme_id),
            ],
        )
        .await;
    assert_status(&refused, 409);
    assert!(refused.body.contains("hold the role"), "{}", refused.body);

    // Duplicate: same base and permissions, then its edit page.
    let dup = b
        .post(&format!("{role_path}/duplicate"), &[("csrf", &csrf)])
        .await;
    assert_status(&dup, 303);
    let copy_path = path_of(&dup);
    assert_ne!(copy_path, role_path);
    let copy_id = copy_path.rsplit('/').next().unwrap();
    let (_, copy) = app
        .get(&app.token, &format!("/api/v1/roles/{copy_id}"))
        .await;
    assert_eq!(copy["name"], "Helpdesk (copy)");
    assert_eq!(copy["permissions"], role["permissions"]);

    // Delete needs the typed word; the wrong one leaves the role in place.
    let dialog = b.get(&format!("{role_path}/delete")).await;
    assert_status(&dialog, 200);
    assert!(dialog.body.contains("Deleting a role cannot be reversed."));
    let wrong = b
        .post(
            &format!("{role_path}/delete"),
            &[("csrf", &csrf), ("confirm", "remove")],
        )
        .await;
    assert_status(&wrong, 400);
    assert!(
        wrong
            .body
            .contains("class=\"field-error\" id=\"e-confirm\""),
        "{}",
        wrong.body
    );
    assert!(wrong.body.contains("to confirm"));
    let (s, _) = app.get(&app.token, &format!("/api/v1/roles/{rid}")).await;
    assert_eq!(s, 200, "the role is still there");

    // With the user moved off it and the account unassigned, the role goes.
    let (s, _) = app
        .patch(&app.token, &user_path, &json!({ "role": "user" }))
        .await;
    assert_eq!(s, 200);
    let unassigned = b
        .post(
            &format!("{role_path}/accounts"),
            &[
                ("csrf", &csrf),
                ("action", "unassign"),
                ("account", &acme_id),
            ],
        )
        .await;
    assert_status(&unassigned, 303);
    assert_eq!(unassigned.location_params()["notice"], "role-unassigned");
    let deleted = b
        .post(
            &format!("{role_path}/delete"),
            &[("csrf", &csrf), ("confirm", "delete")],
        )
        .await;
    assert_status(&deleted, 303);
    assert_eq!(
        deleted.location.as_deref(),
        Some("/console/roles?notice=role-deleted")
    );
    let (s, _) = app.get(&app.token, &format!("/api/v1/roles/{rid}")).await;
    assert_eq!(s, 404);
    let after = b.get("/console/roles?notice=role-deleted").await;
    assert!(after.body.contains("Role deleted.") && after.body.contains("Helpdesk (copy)"));
    assert!(!after.body.contains(&rid));
}

async fn ids(app: &TestApp, kind: &str) -> BTreeSet<String> {
    let (s, list) = app
        .get(&app.token, &format!("/api/v1/account-managers?kind={kind}"))
        .await;
    assert_eq!(s, 200, "{list}");
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

async fn a_partner_converts_assigns_and_upgrades_managers(app: TestApp) {
    let partner = app.partner_id.clone();
    let (boss, b) = signed_in(&app, &partner, "boss@partner.example", "partner").await;
    let (mid, m) = signed_in(&app, &partner, "mia@partner.example", "partner").await;
    let acme = app.create_account("Acme").await;
    let acme_id = acme["id"].as_str().unwrap().to_string();
    app.create_account("Globex").await;

    let admins = b.get("/console/managers?tab=administrators").await;
    assert_status(&admins, 200);
    assert!(
        admins.body.contains("Administrators (3)") && admins.body.contains("Account Managers (0)")
    );
    let boxes = values(&admins.body, "user");
    assert!(boxes.contains(&mid) && boxes.contains(&app.admin_id));
    assert!(!boxes.contains(&boss), "no checkbox on your own row");
    let csrf = admins.hidden("csrf");

    // Convert: a confirmation, then the API.
    let confirm = b
        .post(
            "/console/managers",
            &[("csrf", &csrf), ("action", "convert"), ("user", &mid)],
        )
        .await;
    assert_status(&confirm, 200);
    assert!(confirm.body.contains("mia@partner.example"));
    assert!(
        ids(&app, "managers").await.is_empty(),
        "nothing changes before the confirmation"
    );
    let carried = values(&confirm.body, "confirmed");
    assert_eq!(carried, ["1"]);
    let done = b
        .post(
            "/console/managers",
            &[
                ("csrf", &csrf),
                ("action", "convert"),
                ("confirmed", "1"),
                ("user", &mid),
            ],
        )
        .await;
    assert_status(&done, 303);
    assert_eq!(done.location_params()["notice"], "managers-converted");
    assert_eq!(ids(&app, "managers").await, BTreeSet::from([mid.clone()]));

    // Your own entry is refused by the API, shown on the list.
    let own = b
        .post(
            "/console/managers",
            &[
                ("csrf", &csrf),
                ("action", "convert"),
                ("confirmed", "1"),
                ("user", &boss),
            ],
        )
        .await;
    assert_status(&own, 422);
    assert!(
        own.body.contains("you cannot change your own entry"),
        "{}",
        own.body
    );

    // The Account Manager is not allowed on the page.
    let refused = m.get("/console/managers").await;
    assert_status(&refused, 403);
    assert!(refused.body.contains("Not allowed"), "{}", refused.body);

    // Manage Selected: the assignment page for one manager; assign Acme.
    let managers = b.get("/console/managers?tab=managers").await;
    assert!(managers.body.contains("Account Managers (1)"));
    let manage = b
        .post(
            "/console/managers",
            &[("csrf", &csrf), ("action", "manage"), ("user", &mid)],
        )
        .await;
    assert_status(&manage, 303);
    let page_path = manage.location.clone().unwrap();
    assert_eq!(page_path, format!("/console/managers/assign?manager={mid}"));
    let page = b.get(&page_path).await;
    assert_status(&page, 200);
    assert!(page.body.contains("Accounts assigned (0)"), "{}", page.body);
    assert!(page.body.contains("Accounts not assigned (2)"));
    let not_assigned = b.get(&format!("{page_path}&tab=none")).await;
    assert!(values(&not_assigned.body, "account").contains(&acme_id));
    let assigned = b
        .post(
            "/console/managers/assign",
            &[
                ("csrf", &csrf),
                ("manager", &mid),
                ("tab", "none"),
                ("action", "assign"),
                ("account", &acme_id),
            ],
        )
        .await;
    assert_status(&assigned, 303);
    assert_eq!(assigned.location_params()["notice"], "accounts-assigned");
    let (_, theirs) = app
        .get(
            &app.token,
            &format!("/api/v1/account-managers/{mid}/accounts"),
        )
        .await;
    assert_eq!(theirs.as_array().unwrap().len(), 1, "{theirs}");
    assert_eq!(theirs[0]["id"], acme_id.as_str());
    let page = b.get(&page_path).await;
    assert!(
        page.body.contains("Accounts assigned (1)")
            && page.body.contains("Accounts not assigned (1)")
    );
    assert_eq!(values(&page.body, "account"), [acme_id.as_str()]);
    let managers = b.get("/console/managers?tab=managers").await;
    assert!(
        managers.body.contains("<td data-testid=\"managed\">1</td>"),
        "{}",
        managers.body
    );

    // Upgrade: the dialog, then the manager is an Administrator again.
    let confirm = b
        .post(
            "/console/managers",
            &[("csrf", &csrf), ("action", "upgrade"), ("user", &mid)],
        )
        .await;
    assert_status(&confirm, 200);
    assert!(
        confirm
            .body
            .contains("Confirm Upgrade To Administrator(s)?")
    );
    let done = b
        .post(
            "/console/managers",
            &[
                ("csrf", &csrf),
                ("action", "upgrade"),
                ("confirmed", "1"),
                ("user", &mid),
            ],
        )
        .await;
    assert_status(&done, 303);
    assert_eq!(done.location_params()["notice"], "managers-upgraded");
    assert!(ids(&app, "managers").await.is_empty());
    assert!(ids(&app, "administrators").await.contains(&mid));
    let back = m.get("/console/managers").await;
    assert_status(&back, 200);
}

backend_tests!(
    a_partner_builds_assigns_and_deletes_a_role,
    a_partner_converts_assigns_and_upgrades_managers,
);
