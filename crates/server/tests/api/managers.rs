use skybridge_testkit::{TestApp, backend_tests, json};

async fn managers_see_only_assigned_accounts(app: TestApp) {
    let partner = app.partner_id.clone();
    let a = app.create_account("Assigned").await;
    let b = app.create_account("Unassigned").await;
    let (aid, bid) = (
        a["id"].as_str().unwrap().to_string(),
        b["id"].as_str().unwrap().to_string(),
    );
    let (mgr, mgr_token) = app
        .create_user(&partner, "mgr@partner.com", "partner")
        .await;
    let mid = mgr["id"].as_str().unwrap().to_string();

    let (_, admins) = app
        .get(&app.token, "/api/v1/account-managers?kind=administrators")
        .await;
    assert_eq!(admins.as_array().unwrap().len(), 2);

    // Converting yourself is refused; converting the colleague restricts them to nothing.
    let (status, body) = app
        .post(
            &app.token,
            "/api/v1/account-managers/convert",
            &json!({ "user_ids": [app.admin_id] }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = app
        .post(
            &app.token,
            "/api/v1/account-managers/convert",
            &json!({ "user_ids": [mid] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["changed"], 1);
    let (_, list) = app.get(&mgr_token, "/api/v1/accounts").await;
    assert!(list["items"].as_array().unwrap().is_empty());

    let (status, body) = app
        .post(
            &app.token,
            "/api/v1/account-managers/assign",
            &json!({ "user_ids": [mid], "account_ids": [aid] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, list) = app.get(&mgr_token, "/api/v1/accounts").await;
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [aid.as_str()]);
    // Never anywhere: direct URL, search, users, events of the unassigned account.
    for path in [
        format!("/api/v1/accounts/{bid}"),
        format!("/api/v1/accounts/{}", b["number"]),
        format!("/api/v1/accounts/{bid}/users"),
        format!("/api/v1/accounts/{bid}/events"),
        format!("/api/v1/accounts/{bid}/integrations"),
    ] {
        let (status, _) = app.get(&mgr_token, &path).await;
        assert_eq!(status, 404, "{path}");
    }
    let (_, search) = app.get(&mgr_token, "/api/v1/accounts?q=unassigned").await;
    assert!(search["items"].as_array().unwrap().is_empty());
    let (status, _) = app
        .get(&mgr_token, &format!("/api/v1/accounts/{aid}/users"))
        .await;
    assert_eq!(status, 200);
    // Managers cannot manage managers.
    let (status, _) = app.get(&mgr_token, "/api/v1/account-managers").await;
    assert_eq!(status, 403);
    let (_, mine) = app
        .get(
            &app.token,
            &format!("/api/v1/account-managers/{mid}/accounts"),
        )
        .await;
    assert_eq!(mine[0]["id"], aid.as_str());
    let (status, overview) = app
        .get(
            &app.token,
            &format!("/api/v1/account-managers/accounts?user_ids={mid}"),
        )
        .await;
    assert_eq!(status, 200, "{overview}");
    let row = |id: &str| {
        overview
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(row(&aid)["assigned_to"], "all");
    assert_eq!(row(&aid)["total_managers"], 1);
    assert_eq!(row(&aid)["selected_managers"], json!([mid]));
    assert_eq!(row(&bid)["assigned_to"], "none");
    assert_eq!(row(&bid)["total_managers"], 0);
    let (_, managers) = app.get(&app.token, "/api/v1/account-managers").await;
    assert_eq!(managers[0]["managed_accounts"], 1);

    // A manager's new account is assigned to them.
    let (status, created) = app
        .post(
            &mgr_token,
            "/api/v1/accounts",
            &skybridge_testkit::account_body("Mine"),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = app
        .get(
            &mgr_token,
            &format!("/api/v1/accounts/{}", created["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(status, 200);

    let (status, _) = app
        .post(
            &app.token,
            "/api/v1/account-managers/unassign",
            &json!({ "user_ids": [mid], "account_ids": [aid] }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .get(&mgr_token, &format!("/api/v1/accounts/{aid}"))
        .await;
    assert_eq!(status, 404);

    let (status, _) = app
        .post(
            &app.token,
            "/api/v1/account-managers/upgrade",
            &json!({ "user_ids": [mid] }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .get(&mgr_token, &format!("/api/v1/accounts/{bid}"))
        .await;
    assert_eq!(status, 200, "an Administrator reaches every account");
    let (status, body) = app
        .post(
            &app.token,
            "/api/v1/account-managers/assign",
            &json!({ "user_ids": [mid], "account_ids": [aid] }),
        )
        .await;
    assert_eq!(
        status, 422,
        "assigning to an Administrator is refused: {body}"
    );
}

backend_tests!(managers_see_only_assigned_accounts);
