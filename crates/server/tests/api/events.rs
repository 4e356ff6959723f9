use skybridge_testkit::{TestApp, backend_tests, json};

async fn every_mutation_is_recorded(app: TestApp) {
    let a = app.create_account("Audited").await;
    let aid = a["id"].as_str().unwrap().to_string();
    let (user, _) = app.create_user(&aid, "audit@me.com", "user").await;
    let uid = user["id"].as_str().unwrap().to_string();
    app.patch(
        &app.token,
        &format!("/api/v1/accounts/{aid}/users/{uid}"),
        &json!({ "extension": "42" }),
    )
    .await;
    app.post(
        &app.token,
        &format!("/api/v1/accounts/{aid}/integrations"),
        &json!({ "key": "zoom" }),
    )
    .await;
    app.delete(
        &app.token,
        &format!("/api/v1/accounts/{aid}/users/{uid}?confirm=delete"),
    )
    .await;

    let (status, page) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{aid}/events?order=asc"),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let seen: Vec<(String, String)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["asset"].as_str().unwrap().to_string(),
                e["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expect = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        seen,
        [
            expect("Account", "Create"),
            expect("User", "Create"),
            expect("API Token", "Create"),
            expect("User", "Edit"),
            expect("Integration", "Create"),
            expect("User", "Delete"),
        ]
    );
    let edit = &page["items"][3];
    assert_eq!(edit["properties_changed"], json!(["extension"]));
    assert_eq!(edit["actor_id"], app.admin_id.as_str());
    assert_eq!(edit["actor_name"], "admin");
    assert_eq!(edit["event_type"], "Admin");
    assert_eq!(edit["core_details"]["fullname"], "Test audit");

    // Filters combine with AND; newest first by default.
    let (_, users) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{aid}/events?asset=User&action=Edit,Delete"),
        )
        .await;
    let actions: Vec<&str> = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["Delete", "Edit"]);
    let (_, tagged) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{aid}/events?tag=integration"),
        )
        .await;
    assert_eq!(tagged["items"].as_array().unwrap().len(), 1);
    let (_, by_actor) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{aid}/events?actor_id=nobody"),
        )
        .await;
    assert!(by_actor["items"].as_array().unwrap().is_empty());
    let (_, future) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{aid}/events?from=2999-01-01T00:00:00Z"),
        )
        .await;
    assert!(future["items"].as_array().unwrap().is_empty());

    // Facets: with asset=User chosen, only the actions that exist for users remain; assets ignore their own filter.
    let (_, facets) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{aid}/events/facets?asset=User"),
        )
        .await;
    let actions: Vec<&str> = facets["action"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["value"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["Create", "Delete", "Edit"]);
    let assets: Vec<&str> = facets["asset"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["value"].as_str().unwrap())
        .collect();
    assert_eq!(assets, ["API Token", "Account", "Integration", "User"]);
    let (_, facets) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{aid}/events/facets?action=Delete"),
        )
        .await;
    let assets: Vec<&str> = facets["asset"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["value"].as_str().unwrap())
        .collect();
    assert_eq!(assets, ["User"]);

    for (q, field) in [
        ("asset=Spaceship", "asset"),
        ("action=Explode", "action"),
        ("type=Weird", "type"),
        ("from=yesterday", "from"),
        ("order=sideways", "order"),
        ("ids=123", "ids"),
    ] {
        let (status, body) = app
            .get(&app.token, &format!("/api/v1/accounts/{aid}/events?{q}"))
            .await;
        assert_eq!(status, 400, "{q}");
        assert_eq!(body["field"], field, "{q}: {body}");
    }
    let (status, body) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{aid}/events?colour=red"),
        )
        .await;
    assert_eq!(status, 400, "{body}");
}

async fn unknown_actor_once_deleted(app: TestApp) {
    let a = app.create_account("Actors").await;
    let aid = a["id"].as_str().unwrap().to_string();
    let (admin, admin_token) = app
        .create_user(&aid, "temp@actors.com", "account_admin")
        .await;
    let (status, _) = app
        .patch(
            &admin_token,
            &format!("/api/v1/accounts/{aid}"),
            &json!({ "city": "Ottawa" }),
        )
        .await;
    assert_eq!(status, 200);
    let filter = format!(
        "/api/v1/accounts/{aid}/events?actor_id={}",
        admin["id"].as_str().unwrap()
    );
    let (_, before) = app.get(&app.token, &filter).await;
    assert_eq!(before["items"][0]["actor_name"], "Test temp");
    app.delete(
        &app.token,
        &format!(
            "/api/v1/accounts/{aid}/users/{}?confirm=delete",
            admin["id"].as_str().unwrap()
        ),
    )
    .await;
    let (_, after) = app.get(&app.token, &filter).await;
    assert_eq!(after["items"][0]["actor_name"], "Unknown");
}

async fn csv_export(app: TestApp) {
    let a = app.create_account("=HYPERLINK(\"x\")").await;
    let aid = a["id"].as_str().unwrap().to_string();
    for i in 0..5 {
        app.create_user(&aid, &format!("u{i}@csv.com"), "user")
            .await;
    }
    let r = app
        .send(
            &app.token,
            skybridge_testkit::reqwest::Method::GET,
            &format!("/api/v1/accounts/{aid}/events/export.csv?asset=User"),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = r.text().await.unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = rdr.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header[0], "Event ID");
    assert_eq!(header[10], "Log Tags");
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|r| &r[5] == "User"));

    // The selected ids only; and cells that spreadsheets would execute are neutralised.
    let (_, page) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{aid}/events?asset=Account"),
        )
        .await;
    let id = page["items"][0]["id"].as_str().unwrap();
    let r = app
        .send(
            &app.token,
            skybridge_testkit::reqwest::Method::GET,
            &format!("/api/v1/accounts/{aid}/events/export.csv?ids={id}"),
            None,
        )
        .await;
    let text = r.text().await.unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][0], id);
    assert!(rows[0][8].contains("HYPERLINK"));
    let r = app
        .http
        .post(app.url(&format!("/api/v1/accounts/{aid}/events/export.csv")))
        .bearer_auth(&app.token)
        .json(&json!({ "ids": [id] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let posted = r.text().await.unwrap();
    assert_eq!(posted, text, "POST with a selection gives the same CSV");
    let (status, body) = app
        .post(
            &app.token,
            &format!("/api/v1/accounts/{aid}/events/export.csv"),
            &json!({ "ids": ["nope"] }),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["field"], "ids");
    // core_details is JSON text starting with '{', so the formula is inside it; the name itself is stored as typed.
    assert!(
        !rows
            .iter()
            .flat_map(|r| r.iter().map(str::to_string).collect::<Vec<_>>())
            .any(|c| c.starts_with('='))
    );
}

backend_tests!(
    every_mutation_is_recorded,
    unknown_actor_once_deleted,
    csv_export
);
