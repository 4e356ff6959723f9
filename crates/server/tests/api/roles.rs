use skybridge_testkit::{TestApp, backend_tests, json};

async fn custom_roles_restrict_their_base(app: TestApp) {
    let (status, role) = app
        .post(&app.token, "/api/v1/roles", &json!({ "name": "Helpdesk", "base": "account_admin", "permissions": ["users.view", "users.edit"] }))
        .await;
    assert_eq!(status, 201, "{role}");
    let perms: Vec<&str> = role["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(
        perms,
        ["account.view", "users.view", "users.edit"],
        "always-on cells are added"
    );

    for (body, status, needle) in [
        (
            json!({ "name": "Bad", "base": "account_admin", "permissions": ["orders.view"] }),
            422,
            "orders.view is not available",
        ),
        (
            json!({ "name": "Bad", "base": "account_admin", "permissions": ["users.add"] }),
            422,
            "users.add requires users.view",
        ),
        (
            json!({ "name": "Bad", "permissions": ["users.fly"] }),
            400,
            "unknown permission",
        ),
        (
            json!({ "name": "Bad", "base": "user" }),
            400,
            "unknown base role",
        ),
        (
            json!({ "name": "helpdesk", "base": "account_admin" }),
            409,
            "already exists",
        ),
    ] {
        let (got, problem) = app.post(&app.token, "/api/v1/roles", &body).await;
        assert_eq!(got.as_u16(), status, "{body} -> {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(needle),
            "{needle} not in {problem}"
        );
    }

    // Assign it to an account, then to a user there; the user gets exactly those rights.
    let a = app.create_account("Role Co").await;
    let aid = a["id"].as_str().unwrap().to_string();
    let rid = role["id"].as_str().unwrap().to_string();
    let (status, problem) = app
        .post(
            &app.token,
            &format!("/api/v1/accounts/{aid}/users"),
            &json!({ "first_name": "H", "last_name": "D", "email": "hd@role.com", "role": rid }),
        )
        .await;
    assert_eq!(status, 422, "not assigned to the account yet: {problem}");
    let (status, _) = app
        .put(&app.token, &format!("/api/v1/roles/{rid}/accounts/{aid}"))
        .await;
    assert_eq!(status, 204);
    let (_, accounts) = app
        .get(&app.token, &format!("/api/v1/roles/{rid}/accounts"))
        .await;
    assert_eq!(accounts[0]["id"], aid.as_str());
    let (helper, helper_token) = app.create_user(&aid, "hd@role.com", &rid).await;
    assert_eq!(helper["role"], rid.as_str());
    let (_, me) = app.get(&helper_token, "/api/v1/me").await;
    assert_eq!(me["custom_role"], rid.as_str());
    let (status, _) = app
        .get(&helper_token, &format!("/api/v1/accounts/{aid}/users"))
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .post(
            &helper_token,
            &format!("/api/v1/accounts/{aid}/users"),
            &json!({ "first_name": "N", "last_name": "O", "email": "no@role.com" }),
        )
        .await;
    assert_eq!(status, 403, "users.add was cleared");
    let (status, _) = app
        .patch(
            &helper_token,
            &format!("/api/v1/accounts/{aid}"),
            &json!({ "name": "X" }),
        )
        .await;
    assert_eq!(status, 403, "account.edit was cleared");
    // It cannot grant the full Account Admin role it does not hold itself.
    let (_, plain) = app.create_user(&aid, "plain@role.com", "user").await;
    let _ = plain;
    let (_, list) = app
        .get(&app.token, &format!("/api/v1/accounts/{aid}/users?q=plain"))
        .await;
    let plain_id = list["items"][0]["id"].as_str().unwrap();
    let (status, _) = app
        .patch(
            &helper_token,
            &format!("/api/v1/accounts/{aid}/users/{plain_id}"),
            &json!({ "role": "account_admin" }),
        )
        .await;
    assert_eq!(status, 403);

    // Unassigning or deleting is refused while someone holds it.
    let (status, _) = app
        .delete(&app.token, &format!("/api/v1/roles/{rid}/accounts/{aid}"))
        .await;
    assert_eq!(status, 409);
    let (status, _) = app
        .delete(&app.token, &format!("/api/v1/roles/{rid}?confirm=delete"))
        .await;
    assert_eq!(status, 409);
    // Editing the role takes effect on the next request.
    let (status, _) = app
        .patch(
            &app.token,
            &format!("/api/v1/roles/{rid}"),
            &json!({ "permissions": ["users.view"] }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .patch(
            &helper_token,
            &format!("/api/v1/accounts/{aid}/users/{plain_id}"),
            &json!({ "display_name": "P" }),
        )
        .await;
    assert_eq!(status, 403);
    let (status, body) = app
        .patch(
            &app.token,
            &format!("/api/v1/roles/{rid}"),
            &json!({ "base": "partner" }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
}

async fn duplicate_delete_and_partner_roles(app: TestApp) {
    let (_, role) = app
        .post(
            &app.token,
            "/api/v1/roles",
            &json!({ "name": "Sales", "permissions": ["accounts.add", "users.view"] }),
        )
        .await;
    let rid = role["id"].as_str().unwrap().to_string();
    assert_eq!(role["base"], "partner");
    let (status, copy) = app
        .post(
            &app.token,
            &format!("/api/v1/roles/{rid}/duplicate"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 201, "{copy}");
    assert_eq!(copy["name"], "Sales (copy)");
    assert_eq!(copy["permissions"], role["permissions"]);
    assert_eq!(copy["base"], "partner");

    // "Only Account Admin role can be assigned to a customer account."
    let a = app.create_account("No Partner Roles").await;
    let (status, body) = app
        .put(
            &app.token,
            &format!("/api/v1/roles/{rid}/accounts/{}", a["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["detail"],
        "Only Account Admin role can be assigned to a customer account."
    );

    // A partner-based custom role is given to partner staff directly.
    let (sales, sales_token) = app
        .create_user(&app.partner_id.clone(), "sales@partner.com", &rid)
        .await;
    assert_eq!(sales["role"], rid.as_str());
    let (status, created) = app
        .post(
            &sales_token,
            "/api/v1/accounts",
            &skybridge_testkit::account_body("By Sales"),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let (status, _) = app
        .post(
            &sales_token,
            "/api/v1/roles",
            &json!({ "name": "Escalate" }),
        )
        .await;
    assert_eq!(status, 403, "roles.add is not in Sales");

    let (status, _) = app
        .delete(
            &app.token,
            &format!("/api/v1/roles/{}", copy["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = app
        .delete(
            &app.token,
            &format!(
                "/api/v1/roles/{}?confirm=delete",
                copy["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(status, 204);
    let (_, roles) = app.get(&app.token, "/api/v1/roles").await;
    assert_eq!(roles.as_array().unwrap().len(), 1);
}

backend_tests!(
    custom_roles_restrict_their_base,
    duplicate_delete_and_partner_roles
);
