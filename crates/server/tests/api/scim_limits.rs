//! The per-account rate limit of the SCIM endpoint, on a manual clock so the bucket's refill is exact.

use std::sync::Arc;

use skybridge_server::clock::ManualClock;
use skybridge_testkit::{Backend, TestApp};

#[tokio::test]
async fn scim_rate_limit_answers_429_with_retry_after_per_account() {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000_000));
    // Two requests per second sustained, a burst of four.
    let app = TestApp::spawn_with(Backend::Sqlite, clock.clone(), |c| {
        c.scim_requests_per_second = 2;
    })
    .await;
    let a = app.create_account("Limited A").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = app.create_account("Limited B").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (ka, kb) = (app.scim_keys(&a).await, app.scim_keys(&b).await);
    let http = reqwest::Client::new();
    let get = |keys: &skybridge_testkit::ScimKeys| {
        http.get(format!("{}/Users", keys.tenant_url))
            .bearer_auth(&keys.secret_token)
            .send()
    };
    for i in 0..4 {
        assert_eq!(
            get(&ka).await.unwrap().status(),
            200,
            "request {i} of the burst"
        );
    }
    let refused = get(&ka).await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    assert!(
        refused.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/scim+json")
    );
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["status"], "429");
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    // Another account has its own bucket.
    assert_eq!(get(&kb).await.unwrap().status(), 200);
    // Half a second refills one request, not two.
    clock.advance(500_000);
    assert_eq!(get(&ka).await.unwrap().status(), 200);
    assert_eq!(get(&ka).await.unwrap().status(), 429);
    // A wrong token is refused before the limit is spent: 401, not 429.
    let wrong = http
        .get(format!("{}/Users", ka.tenant_url))
        .bearer_auth("sbscim_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
}
