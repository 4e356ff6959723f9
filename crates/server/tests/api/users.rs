use skybridge_testkit::{TestApp, backend_tests, json};

async fn crud_search_and_filters(app: TestApp) {
    let a = app.create_account("Users Co").await;
    let aid = a["id"].as_str().unwrap();
    let path = format!("/api/v1/accounts/{aid}/users");
    let (status, ada) = app
        .post(&app.token, &path, &json!({ "first_name": "Ada", "last_name": "Lovelace", "email": "Ada@Example.com", "mobile": "+1 415 555 0123", "extension": "1001" }))
        .await;
    assert_eq!(status, 201, "{ada}");
    assert_eq!(ada["display_name"], "Ada Lovelace");
    assert_eq!(ada["mobile"], "+14155550123");
    assert_eq!(ada["role"], "user");
    assert_eq!(ada["registered"], false);
    assert_eq!(ada["source"], "api");
    let (status, _) = app
        .post(&app.token, &path, &json!({ "first_name": "Alan", "last_name": "Turing", "email": "alan@example.com", "extension": "2002", "role": "account_admin" }))
        .await;
    assert_eq!(status, 201);

    // E-mail is unique per account, case-insensitively.
    let (status, problem) = app
        .post(
            &app.token,
            &path,
            &json!({ "first_name": "A", "last_name": "L", "email": "ada@EXAMPLE.com" }),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("already in use")
    );
    // …but may repeat across accounts.
    let b = app.create_account("Other Co").await;
    let (status, _) = app
        .post(
            &app.token,
            &format!("/api/v1/accounts/{}/users", b["id"].as_str().unwrap()),
            &json!({ "first_name": "A", "last_name": "L", "email": "ada@example.com" }),
        )
        .await;
    assert_eq!(status, 201);

    for (query, expected) in [
        ("q=love", vec!["Ada Lovelace"]),
        ("q=ALAN%40", vec!["Alan Turing"]),
        ("q=100", vec!["Ada Lovelace"]),
        ("property=admins", vec!["Alan Turing"]),
        ("property=users", vec!["Ada Lovelace"]),
        ("property=unregistered", vec!["Ada Lovelace", "Alan Turing"]),
        ("property=registered", vec![]),
        ("q=nobody", vec![]),
    ] {
        let (status, page) = app.get(&app.token, &format!("{path}?{query}")).await;
        assert_eq!(status, 200, "{query}: {page}");
        let names: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["display_name"].as_str().unwrap())
            .collect();
        assert_eq!(names, expected, "{query}");
    }
    let (status, body) = app
        .get(&app.token, &format!("{path}?property=wizards"))
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["field"], "property");

    let uid = ada["id"].as_str().unwrap();
    let (status, edited) = app
        .patch(
            &app.token,
            &format!("{path}/{uid}"),
            &json!({ "display_name": "Countess", "mobile": null, "extension": "1002" }),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["display_name"], "Countess");
    assert!(edited["mobile"].is_null());
    assert_eq!(edited["modified_by"], "admin");

    let (status, _) = app.delete(&app.token, &format!("{path}/{uid}")).await;
    assert_eq!(status, 400, "confirmation required");
    let (status, _) = app
        .delete(&app.token, &format!("{path}/{uid}?confirm=delete"))
        .await;
    assert_eq!(status, 204);
    let (status, _) = app.get(&app.token, &format!("{path}/{uid}")).await;
    assert_eq!(status, 404);
}

async fn user_bad_input(app: TestApp) {
    let a = app.create_account("Bad Users").await;
    let path = format!("/api/v1/accounts/{}/users", a["id"].as_str().unwrap());
    let ok = json!({ "first_name": "A", "last_name": "B", "email": "a@b.com" });
    let with = |k: &str, v: serde_json::Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    for (body, status, field) in [
        (with("email", json!("nope")), 400, "email"),
        (
            with("email", json!(format!("{}@example.com", "a".repeat(250)))),
            400,
            "email",
        ),
        (with("mobile", json!("555-0123")), 400, "mobile"),
        (with("mobile", json!("+1999")), 400, "mobile"),
        (with("extension", json!("12ab")), 400, "extension"),
        (with("first_name", json!("")), 400, "first_name"),
        (with("role", json!("wizard")), 400, "role"),
        (with("role", json!("partner")), 422, "role"),
        (
            with("role", json!("01234567-89ab-7def-8123-456789abcdef")),
            422,
            "role",
        ),
    ] {
        let (got, problem) = app.post(&app.token, &path, &body).await;
        assert_eq!(got.as_u16(), status, "{body} -> {problem}");
        assert_eq!(problem["field"], field, "{problem}");
    }
    let (_, page) = app.get(&app.token, &path).await;
    assert!(
        page["items"].as_array().unwrap().is_empty(),
        "refused requests wrote nothing"
    );
}

async fn account_admin_limits(app: TestApp) {
    let a = app.create_account("Admin Limits").await;
    let aid = a["id"].as_str().unwrap().to_string();
    let (admin, admin_token) = app
        .create_user(&aid, "boss@limits.com", "account_admin")
        .await;
    let (user, user_token) = app.create_user(&aid, "worker@limits.com", "user").await;
    let path = format!("/api/v1/accounts/{aid}/users");

    // An account admin manages users of its own account, including other admins.
    let (status, _) = app
        .patch(
            &admin_token,
            &format!("{path}/{}", user["id"].as_str().unwrap()),
            &json!({ "role": "account_admin" }),
        )
        .await;
    assert_eq!(status, 200);
    // …but cannot hand out the partner role, nor delete itself.
    let (status, _) = app
        .patch(
            &admin_token,
            &format!("{path}/{}", user["id"].as_str().unwrap()),
            &json!({ "role": "partner" }),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = app
        .delete(
            &admin_token,
            &format!("{path}/{}?confirm=delete", admin["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(status, 409);
    // A plain user cannot list or change users.
    let (status, _) = app
        .patch(
            &app.token,
            &format!("{path}/{}", user["id"].as_str().unwrap()),
            &json!({ "role": "user" }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app.get(&user_token, &path).await;
    assert_eq!(status, 403);
    let (status, _) = app
        .post(
            &user_token,
            &path,
            &json!({ "first_name": "X", "last_name": "Y", "email": "x@y.com" }),
        )
        .await;
    assert_eq!(status, 403);
    // An account admin cannot issue a token for a partner, nor reach the Partner Account at all.
    let (status, _) = app
        .get(
            &admin_token,
            &format!("/api/v1/accounts/{}/users", app.partner_id),
        )
        .await;
    assert_eq!(status, 404);
    // Administrators see and revoke the tokens of users they manage; never the secrets.
    let uid = user["id"].as_str().unwrap();
    let (status, tokens) = app.get(&admin_token, &format!("{path}/{uid}/tokens")).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens.as_array().unwrap().len(), 1);
    assert!(tokens[0].get("token").is_none());
    let tid = tokens[0]["id"].as_str().unwrap();
    let (status, _) = app
        .delete(&admin_token, &format!("{path}/{uid}/tokens/{tid}"))
        .await;
    assert_eq!(status, 204);
    let (status, _) = app.get(&user_token, "/api/v1/me").await;
    assert_eq!(status, 401, "the revoked token no longer works");
    let (status, _) = app
        .delete(&admin_token, &format!("{path}/{uid}/tokens/{tid}"))
        .await;
    assert_eq!(status, 404);
    // Partner users cannot be deleted.
    let (status, _) = app
        .delete(
            &app.token,
            &format!(
                "/api/v1/accounts/{}/users/{}?confirm=delete",
                app.partner_id, app.admin_id
            ),
        )
        .await;
    assert_eq!(status, 409);
}

/// The search finds substrings anywhere in names, e-mails and extensions through the trigram index, which
/// follows renames and deletions, and never reaches into another account.
async fn search_follows_changes(app: TestApp) {
    let a = app.create_account("Search Co").await;
    let b = app.create_account("Search Other").await;
    let path =
        |acc: &serde_json::Value| format!("/api/v1/accounts/{}/users", acc["id"].as_str().unwrap());
    let mut ids = Vec::new();
    for (first, last, email, ext) in [
        ("Grace", "Hopper", "grace@navy.example", "3003"),
        ("Élodie", "Durand", "e.durand@example.fr", "4004"),
        ("Quote\"d", "O'Brien_100%", "ob@example.com", "5005"),
    ] {
        let (status, u) = app
            .post(&app.token, &path(&a), &json!({ "first_name": first, "last_name": last, "email": email, "extension": ext }))
            .await;
        assert_eq!(status, 201, "{u}");
        ids.push(u["id"].as_str().unwrap().to_string());
    }
    let (status, _) = app
        .post(
            &app.token,
            &path(&b),
            &json!({ "first_name": "Grace", "last_name": "Hopper", "email": "grace@navy.example" }),
        )
        .await;
    assert_eq!(status, 201);

    let search = |q: &str| {
        let url = format!("{}?q={}", path(&a), urlencoding(q));
        let (app, q) = (&app, q.to_string());
        async move {
            let (status, page) = app.get(&app.token, &url).await;
            assert_eq!(status, 200, "{q}: {page}");
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["display_name"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(search("oppe").await, ["Grace Hopper"], "inside a last name");
    assert_eq!(
        search("NAVY.EX").await,
        ["Grace Hopper"],
        "inside an e-mail, any case"
    );
    assert_eq!(
        search("ace hop").await,
        ["Grace Hopper"],
        "across first and last name"
    );
    assert_eq!(search("élodie").await, ["Élodie Durand"], "beyond ASCII");
    assert_eq!(search("400").await, ["Élodie Durand"], "extension");
    assert_eq!(
        search("_100%").await,
        ["Quote\"d O'Brien_100%"],
        "LIKE wildcards are literal"
    );
    assert_eq!(
        search("e\"d o").await,
        ["Quote\"d O'Brien_100%"],
        "a double quote"
    );
    assert_eq!(
        search("op").await,
        ["Grace Hopper"],
        "two letters: below a trigram"
    );
    assert!(search("xyzzy").await.is_empty());
    assert!(search("%%%").await.is_empty());

    // Renamed: found by the new name only.
    let (status, _) = app
        .patch(&app.token, &format!("{}/{}", path(&a), ids[0]), &json!({ "first_name": "Amazing", "last_name": "Admiral", "display_name": "Amazing Admiral" }))
        .await;
    assert_eq!(status, 200);
    assert!(search("hopper").await.is_empty());
    assert_eq!(search("admira").await, ["Amazing Admiral"]);
    assert_eq!(
        search("navy").await,
        ["Amazing Admiral"],
        "the e-mail is unchanged"
    );

    // Deleted: gone from the search, while another user's entry stays.
    let (status, _) = app
        .delete(
            &app.token,
            &format!("{}/{}?confirm=delete", path(&a), ids[1]),
        )
        .await;
    assert_eq!(status, 204);
    assert!(search("durand").await.is_empty());
    assert_eq!(search("brien").await, ["Quote\"d O'Brien_100%"]);
}

fn urlencoding(q: &str) -> String {
    url::form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

/// Deactivation revokes a user's API tokens for good, on every path that deactivates (the admin API, which
/// the console uses, and SCIM): reactivating the user does not bring them back.
async fn deactivation_revokes_api_tokens_for_good(app: TestApp) {
    let a = app.create_account("Revoke Co").await;
    let aid = a["id"].as_str().unwrap().to_string();
    let (user, token) = app.create_user(&aid, "gone@revoke.example", "user").await;
    let uid = user["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/accounts/{aid}/users/{uid}");
    assert_eq!(app.get(&token, "/api/v1/me").await.0, 200);
    let (s, body) = app
        .patch(&app.token, &path, &json!({ "active": false }))
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(app.get(&token, "/api/v1/me").await.0, 401);
    let (s, body) = app
        .patch(&app.token, &path, &json!({ "active": true }))
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = app.get(&token, "/api/v1/me").await;
    assert_eq!(s, 401, "the old token stays revoked: {body}");
    let (_, tokens) = app.get(&app.token, &format!("{path}/tokens")).await;
    assert_eq!(tokens, json!([]), "the token is gone from the list too");
    // A new token works: the user is active again.
    let fresh = app.token_for(&aid, &uid).await;
    assert_eq!(app.get(&fresh, "/api/v1/me").await.0, 200);

    // SCIM active=false (Entra ID) does the same.
    let (sid, scim) = app.scim_account("Revoke Sync").await;
    let u = crate::scim_entra::create_user(
        &scim,
        &crate::scim_entra::entra_user("synced@contoso.com", "synced@contoso.com"),
    )
    .await;
    let su = u["id"].as_str().unwrap().to_string();
    let token = app.token_for(&sid, &su).await;
    assert_eq!(app.get(&token, "/api/v1/me").await.0, 200);
    for active in [false, true] {
        crate::scim_entra::patch_ok(
            &scim,
            &format!("/Users/{su}"),
            json!([{ "op": "replace", "path": "active", "value": active }]),
        )
        .await;
    }
    let (s, body) = app.get(&token, "/api/v1/me").await;
    assert_eq!(
        s, 401,
        "the old token stays revoked after SCIM reactivation: {body}"
    );
}

backend_tests!(
    deactivation_revokes_api_tokens_for_good,
    crud_search_and_filters,
    user_bad_input,
    account_admin_limits,
    search_follows_changes
);
