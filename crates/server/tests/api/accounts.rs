use skybridge_testkit::{TestApp, account_body, backend_tests, json};

async fn create_read_list_edit(app: TestApp) {
    let a = app.create_account("Acme Corp").await;
    let id = a["id"].as_str().unwrap();
    let number = a["number"].as_i64().unwrap();
    assert!((100_000_000..=999_999_999).contains(&number));
    assert_eq!(a["status"], "active");
    assert_eq!(a["cloud_location"], "North America");
    assert_eq!(a["default_language"], "en-US");
    assert_eq!(a["support_contacts"][0]["email"], "support@example.com");

    let (status, by_number) = app
        .get(&app.token, &format!("/api/v1/accounts/{number}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(by_number["id"], id);

    app.create_account("Beta Ltd").await;
    let (_, list) = app.get(&app.token, "/api/v1/accounts?q=acme").await;
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Acme Corp"]);

    let (status, edited) = app
        .patch(
            &app.token,
            &format!("/api/v1/accounts/{id}"),
            &json!({ "name": "Acme Inc", "address2": "Suite 5", "bandwidth_optimization": true }),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["name"], "Acme Inc");
    assert_eq!(edited["address2"], "Suite 5");
    assert_eq!(edited["bandwidth_optimization"], true);
    let (_, cleared) = app
        .patch(
            &app.token,
            &format!("/api/v1/accounts/{id}"),
            &json!({ "address2": null }),
        )
        .await;
    assert!(cleared["address2"].is_null());

    let (status, body) = app
        .patch(
            &app.token,
            &format!("/api/v1/accounts/{id}"),
            &json!({ "cloud_location": "Europe" }),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["field"], "cloud_location");
}

async fn pagination_is_stable_and_bounded(app: TestApp) {
    for i in 0..7 {
        app.create_account(&format!("Paged {i:02}")).await;
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = app
            .get(
                &app.token,
                &format!("/api/v1/accounts?q=paged&limit=3&cursor={cursor}"),
            )
            .await;
        assert_eq!(status, 200, "{page}");
        for a in page["items"].as_array().unwrap() {
            seen.push(a["name"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    let expected: Vec<String> = (0..7).map(|i| format!("Paged {i:02}")).collect();
    assert_eq!(seen, expected);
    let (status, body) = app.get(&app.token, "/api/v1/accounts?limit=201").await;
    assert_eq!(status, 400);
    assert_eq!(body["field"], "limit");
    let (status, body) = app.get(&app.token, "/api/v1/accounts?cursor=bogus").await;
    assert_eq!(status, 400);
    assert_eq!(body["field"], "cursor");
}

async fn bad_input_names_the_problem(app: TestApp) {
    let cases = [
        (json!({ "name": "" }), 400, "invalid JSON body"),
        (json!({ "country": "US" }), 400, "missing field `name`"),
        (
            account_body("x")
                .as_object()
                .unwrap()
                .clone()
                .into_iter()
                .chain([("extra".to_string(), json!(1))])
                .collect(),
            400,
            "unknown field `extra`",
        ),
        (
            {
                let mut b = account_body("x");
                b["name"] = json!(42);
                b
            },
            400,
            "invalid type",
        ),
        (
            {
                let mut b = account_body("x");
                b["name"] = json!("   ");
                b
            },
            400,
            "name: is required",
        ),
        (
            {
                let mut b = account_body("x");
                b["name"] = json!("n".repeat(101));
                b
            },
            400,
            "at most 100 characters",
        ),
        (
            {
                let mut b = account_body("x");
                b["country"] = json!("USA");
                b
            },
            400,
            "country",
        ),
        (
            {
                let mut b = account_body("x");
                b["support_contacts"] = json!([]);
                b
            },
            422,
            "at least one support contact",
        ),
        (
            {
                let mut b = account_body("x");
                b["support_contacts"] = json!([{ "email": "not-an-email" }]);
                b
            },
            400,
            "Contains an invalid email",
        ),
        (
            {
                let mut b = account_body("x");
                b["support_contacts"] = json!([{ "email": "a@b.com", "user_id": "x" }]);
                b
            },
            400,
            "exactly one",
        ),
        (
            {
                let mut b = account_body("x");
                b["cloud_location"] = json!("Mars");
                b
            },
            400,
            "unknown cloud location",
        ),
        (
            {
                let mut b = account_body("x");
                b["default_language"] = json!("english please");
                b
            },
            400,
            "language tag",
        ),
    ];
    for (body, status, needle) in cases {
        let (got, problem) = app.post(&app.token, "/api/v1/accounts", &body).await;
        assert_eq!(got.as_u16(), status, "{body} -> {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(needle),
            "{needle:?} not in {problem}"
        );
    }
    let r = app
        .http
        .post(app.url("/api/v1/accounts"))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = app
        .http
        .post(app.url("/api/v1/accounts"))
        .bearer_auth(&app.token)
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let huge = format!("{{\"name\":\"{}\"}}", "x".repeat(1_100_000));
    let r = app
        .http
        .post(app.url("/api/v1/accounts"))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // Nothing was written by any of the refused requests.
    let (_, list) = app.get(&app.token, "/api/v1/accounts").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
}

async fn lifecycle_with_confirmation_words(app: TestApp) {
    let a = app.create_account("Lifecycle").await;
    let id = a["id"].as_str().unwrap().to_string();
    let (_admin, admin_token) = app
        .create_user(&id, "admin@lifecycle.com", "account_admin")
        .await;
    let (status, _) = app
        .get(&admin_token, &format!("/api/v1/accounts/{id}/users"))
        .await;
    assert_eq!(status, 200);

    let (status, body) = app
        .post(
            &app.token,
            &format!("/api/v1/accounts/{id}/deactivate"),
            &json!({ "confirm": "yes" }),
        )
        .await;
    assert_eq!(status, 400);
    assert!(body["detail"].as_str().unwrap().contains("deactivate"));
    let (status, body) = app
        .post(
            &admin_token,
            &format!("/api/v1/accounts/{id}/deactivate"),
            &json!({ "confirm": "deactivate" }),
        )
        .await;
    assert_eq!(status, 403, "an account admin cannot deactivate: {body}");
    let (status, body) = app
        .post(
            &app.token,
            &format!("/api/v1/accounts/{id}/deactivate"),
            &json!({ "confirm": "deactivate" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "deactivated");

    // The account's users and their tokens stop working.
    let (status, _) = app.get(&admin_token, "/api/v1/me").await;
    assert_eq!(status, 401);
    let (_, list) = app
        .get(&app.token, "/api/v1/accounts?status=deactivated")
        .await;
    assert_eq!(list["items"][0]["id"], id.as_str());
    let (_, list) = app.get(&app.token, "/api/v1/accounts?status=active").await;
    assert!(list["items"].as_array().unwrap().is_empty());
    let (status, _) = app
        .patch(
            &app.token,
            &format!("/api/v1/accounts/{id}"),
            &json!({ "name": "Nope" }),
        )
        .await;
    assert_eq!(status, 409);
    let (status, _) = app
        .delete(&app.token, &format!("/api/v1/accounts/{id}?confirm=delete"))
        .await;
    assert_eq!(
        status, 409,
        "a deactivated account must be reactivated before deletion"
    );

    let (status, body) = app
        .post(
            &app.token,
            &format!("/api/v1/accounts/{id}/reactivate"),
            &json!({ "confirm": "reactivate" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = app.get(&admin_token, "/api/v1/me").await;
    assert_eq!(status, 200);

    let (status, _) = app
        .delete(&app.token, &format!("/api/v1/accounts/{id}"))
        .await;
    assert_eq!(status, 400, "confirmation required");
    let (status, _) = app
        .delete(&app.token, &format!("/api/v1/accounts/{id}?confirm=delete"))
        .await;
    assert_eq!(status, 204);
    let (status, _) = app.get(&app.token, &format!("/api/v1/accounts/{id}")).await;
    assert_eq!(status, 404);
    let (status, _) = app.get(&admin_token, "/api/v1/me").await;
    assert_eq!(status, 401);

    // The Partner Account cannot be deactivated or deleted.
    let partner = app.partner_id.clone();
    let (status, body) = app
        .post(
            &app.token,
            &format!("/api/v1/accounts/{partner}/deactivate"),
            &json!({ "confirm": "deactivate" }),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    let (status, _) = app
        .delete(
            &app.token,
            &format!("/api/v1/accounts/{partner}?confirm=delete"),
        )
        .await;
    assert_eq!(status, 409);
}

async fn support_contacts_partner_users(app: TestApp) {
    let partner = app.partner_id.clone();
    let (colleague, _) = app
        .create_user(&partner, "colleague@partner.com", "partner")
        .await;
    let mut body = account_body("Contacts");
    body["support_contacts"] =
        json!([{ "user_id": colleague["id"] }, { "email": "Desk@Example.COM" }]);
    let (status, a) = app.post(&app.token, "/api/v1/accounts", &body).await;
    assert_eq!(status, 201, "{a}");
    assert_eq!(a["support_contacts"][0]["email"], "colleague@partner.com");
    assert_eq!(a["support_contacts"][0]["name"], "Test colleague");
    assert_eq!(a["support_contacts"][1]["email"], "Desk@example.com");

    let other = app.create_account("Other").await;
    let (customer_user, _) = app
        .create_user(other["id"].as_str().unwrap(), "u@other.com", "user")
        .await;
    body["support_contacts"] = json!([{ "user_id": customer_user["id"] }]);
    let (status, problem) = app.post(&app.token, "/api/v1/accounts", &body).await;
    assert_eq!(status, 422, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("Partner Account")
    );
}

backend_tests!(
    create_read_list_edit,
    pagination_is_stable_and_bounded,
    bad_input_names_the_problem,
    lifecycle_with_confirmation_words,
    support_contacts_partner_users,
);
