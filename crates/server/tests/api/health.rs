use skybridge_testkit::{TestApp, backend_tests};

async fn health_ready_metrics_openapi(app: TestApp) {
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-request-id"));
    let _ = app.get(&app.token, "/api/v1/me").await;
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("skybridge_http_requests_total{status=\"2xx\"}"),
        "{text}"
    );
    let doc: serde_json::Value = app
        .http
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/v1/accounts",
        "/api/v1/accounts/{account}/users",
        "/api/v1/roles",
        "/api/v1/accounts/{account}/events/export.csv",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from OpenAPI"
        );
    }
}

async fn authentication_is_required(app: TestApp) {
    for (token, why) in [
        ("", "missing"),
        ("sbt_not-a-real-token", "invalid"),
        ("garbage", "malformed"),
    ] {
        let mut req = app.http.get(app.url("/api/v1/me"));
        if !token.is_empty() {
            req = req.bearer_auth(token);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401, "{why}");
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    let (status, me) = app.get(&app.token, "/api/v1/me").await;
    assert_eq!(status, 200);
    assert_eq!(me["base_role"], "partner");
    assert_eq!(me["account_kind"], "partner");
}

async fn unknown_routes_are_problem_json(app: TestApp) {
    let (status, body) = app.get(&app.token, "/api/v1/nothing-here").await;
    assert_eq!(status, 404);
    assert_eq!(body["type"], "urn:skybridge:problem:not-found");
}

async fn personal_tokens_can_be_listed_and_revoked(app: TestApp) {
    let (status, created) = app
        .post(
            &app.token,
            "/api/v1/me/tokens",
            &skybridge_testkit::json!({ "name": "ci", "expires_in_days": 30 }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["token"].as_str().unwrap().to_string();
    assert!(created["expires_at"].is_string());
    let (status, _) = app.get(&secret, "/api/v1/me").await;
    assert_eq!(status, 200);
    let (_, list) = app.get(&app.token, "/api/v1/me/tokens").await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("token").is_none()),
        "secrets are never listed"
    );
    let id = created["id"].as_str().unwrap();
    let (status, _) = app
        .delete(&app.token, &format!("/api/v1/me/tokens/{id}"))
        .await;
    assert_eq!(status, 204);
    let (status, _) = app.get(&secret, "/api/v1/me").await;
    assert_eq!(status, 401);
    let (status, body) = app
        .post(
            &app.token,
            "/api/v1/me/tokens",
            &skybridge_testkit::json!({ "name": "x", "expires_in_days": 0 }),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["field"], "expires_in_days");
}

async fn failed_authentication_is_throttled(app: TestApp) {
    for _ in 0..skybridge_server::app::AUTH_FAILURES_PER_MINUTE {
        let (status, _) = app.get("sbt_guess", "/api/v1/me").await;
        assert_eq!(status, 401);
    }
    let r = app
        .send(
            "sbt_guess",
            skybridge_testkit::reqwest::Method::GET,
            "/api/v1/me",
            None,
        )
        .await;
    assert_eq!(r.status(), 429);
    let retry: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    let (status, body) = app.get("sbt_guess", "/api/v1/me").await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["type"], "urn:skybridge:problem:rate-limited");
    // Only failures are throttled: a valid token from the same address (someone else behind the same NAT)
    // still works, while the bad ones keep getting 429.
    for _ in 0..3 {
        let (status, body) = app.get(&app.token, "/api/v1/me").await;
        assert_eq!(status, 200, "{body}");
        let (status, _) = app.get("sbt_guess", "/api/v1/me").await;
        assert_eq!(status, 429);
    }
}

backend_tests!(
    failed_authentication_is_throttled,
    health_ready_metrics_openapi,
    authentication_is_required,
    unknown_routes_are_problem_json,
    personal_tokens_can_be_listed_and_revoked
);
