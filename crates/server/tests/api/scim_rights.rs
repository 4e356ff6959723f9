//! What the SCIM keys stand for, and what SCIM may change: minting the token takes the rights the token
//! exercises, a console role change survives Entra's next update, and the phone-number search takes a number
//! however it arrives.

use serde_json::json;
use skybridge_testkit::reqwest::Method;
use skybridge_testkit::{TestApp, backend_tests};

backend_tests!(
    generating_keys_takes_user_and_role_rights,
    scim_changes_the_role_only_when_entra_changes_it,
    phone_search_normalises_the_number,
    manager_must_be_a_user_of_the_account,
    root_search_pages_users_then_groups
);

async fn generating_keys_takes_user_and_role_rights(app: TestApp) {
    let account = app.create_account("Narrow rights").await;
    let aid = account["id"].as_str().unwrap().to_string();
    app.add_scim_integration(&aid).await;
    let (status, role) = app
        .post(
            &app.token,
            "/api/v1/roles",
            &json!({ "name": "Integrator", "base": "account_admin",
                     "permissions": ["integrations.view", "integrations.add", "integrations.edit", "users.view"] }),
        )
        .await;
    assert_eq!(status, 201, "{role}");
    let rid = role["id"].as_str().unwrap().to_string();
    let (status, body) = app
        .put(&app.token, &format!("/api/v1/roles/{rid}/accounts/{aid}"))
        .await;
    assert!(status.is_success(), "{status} {body}");
    let (_, token) = app
        .create_user(&aid, "integrator@narrow.example", &rid)
        .await;
    // May configure integrations, but not create, change and delete users or grant roles: no SCIM token.
    let (status, body) = app
        .call(
            &token,
            Method::POST,
            &format!("/api/v1/accounts/{aid}/integrations/entra_id_sync/keys"),
            None,
        )
        .await;
    assert_eq!(status, 403, "{body}");
    // The partner administrator may.
    let keys = app.generate_scim_keys(&aid).await;
    assert!(keys.secret_token.starts_with("sbscim_"));
}

async fn scim_changes_the_role_only_when_entra_changes_it(app: TestApp) {
    let (aid, scim) = app.scim_account("Roles kept").await;
    let created = scim
        .post(
            "/Users",
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "promoted@contoso.com",
                "emails": [{ "type": "work", "value": "promoted@contoso.com", "primary": true }],
                "displayName": "Promoted",
                "roles": [{ "primary": true, "value": "User" }],
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    let user_path = format!("/api/v1/accounts/{aid}/users/{id}");
    let (status, body) = app
        .patch(&app.token, &user_path, &json!({ "role": "account_admin" }))
        .await;
    assert_eq!(status, 200, "{body}");
    let patch = |ops: serde_json::Value| {
        let scim = scim.clone();
        let id = id.clone();
        async move {
            let r = scim
                .patch(
                    &format!("/Users/{id}"),
                    &json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops }),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
    };
    // Entra updates the title: the console's promotion stands.
    patch(json!([{ "op": "Replace", "path": "title", "value": "Lead" }])).await;
    let (_, user) = app.get(&app.token, &user_path).await;
    assert_eq!(user["role"], "account_admin", "{user}");
    // Entra changes the role itself: it follows.
    patch(json!([{ "op": "Replace", "path": "roles", "value": [{ "primary": true, "value": "Account Admin" }] }]))
        .await;
    patch(json!([{ "op": "Replace", "path": "roles", "value": [{ "primary": true, "value": "User" }] }])).await;
    let (_, user) = app.get(&app.token, &user_path).await;
    assert_eq!(user["role"], "user", "{user}");
}

async fn phone_search_normalises_the_number(app: TestApp) {
    let (aid, scim) = app.scim_account("Phones").await;
    let created = scim
        .post(
            "/Users",
            &json!({
                "userName": "held@contoso.com",
                "emails": [{ "type": "work", "value": "held@contoso.com" }],
                "phoneNumbers": [{ "type": "mobile", "value": "+16135550123" }],
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let path = |q: &str| format!("/api/v1/accounts/{aid}/users/phone-conflicts?phone={q}");
    // Encoded, unencoded (`+` arrives as a space), and written with spaces and dashes: the same number.
    for q in ["%2B16135550123", "+16135550123", "%2B1%20613-555-0123"] {
        let (status, body) = app.get(&app.token, &path(q)).await;
        assert_eq!(status, 200, "{q}: {body}");
        assert_eq!(body["items"].as_array().unwrap().len(), 1, "{q}: {body}");
        assert_eq!(body["items"][0]["user_name"], "held@contoso.com");
    }
    let (status, body) = app.get(&app.token, &path("12ab")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "phone");
}

async fn manager_must_be_a_user_of_the_account(app: TestApp) {
    let (_, scim_a) = app.scim_account("Managers A").await;
    let (_, scim_b) = app.scim_account("Managers B").await;
    let user = |name: &str| {
        json!({ "userName": format!("{name}@contoso.com"),
                "emails": [{ "type": "work", "value": format!("{name}@contoso.com") }] })
    };
    let boss_b = scim_b.post("/Users", &user("boss")).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let boss_a = scim_a.post("/Users", &user("boss")).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let worker = scim_a.post("/Users", &user("worker")).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let set_manager = |id: String| {
        json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{ "op": "add", "path": "manager", "value": id }] })
    };
    // Another account's user is not a manager here.
    let r = scim_a
        .patch(&format!("/Users/{worker}"), &set_manager(boss_b))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["scimType"], "invalidValue");
    let r = scim_a
        .patch(&format!("/Users/{worker}"), &set_manager(boss_a.clone()))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"]["value"],
        boss_a.as_str()
    );
}

async fn root_search_pages_users_then_groups(app: TestApp) {
    let (_, scim) = app.scim_account("Root search").await;
    let mut users = Vec::new();
    for i in 0..3 {
        let r = scim
            .post(
                "/Users",
                &json!({ "userName": format!("u{i}@contoso.com"),
                         "emails": [{ "type": "work", "value": format!("u{i}@contoso.com") }] }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        users.push(r.body["id"].as_str().unwrap().to_string());
    }
    let mut groups = Vec::new();
    for i in 0..2 {
        let r = scim
            .post("/Groups", &json!({ "displayName": format!("g{i}") }))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        groups.push(r.body["id"].as_str().unwrap().to_string());
    }
    let search = |start: usize, count: usize| {
        let scim = scim.clone();
        async move {
            let r = scim
                .post(
                    "/.search",
                    &json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                             "startIndex": start, "count": count }),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            let ids: Vec<String> = r.body["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["id"].as_str().unwrap().to_string())
                .collect();
            (r.body["totalResults"].as_u64().unwrap(), ids)
        }
    };
    assert_eq!(
        search(1, 10).await,
        (5, [users.clone(), groups.clone()].concat())
    );
    // A page that straddles the two kinds, one inside the groups, one past the end, and a count of zero.
    assert_eq!(
        search(3, 2).await,
        (5, vec![users[2].clone(), groups[0].clone()])
    );
    assert_eq!(search(5, 2).await, (5, vec![groups[1].clone()]));
    assert_eq!(search(9, 2).await, (5, vec![]));
    assert_eq!(search(1, 0).await, (5, vec![]));
}
