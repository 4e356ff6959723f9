//! Concurrent writes: PATCHes of one user each change another attribute, and none is lost (the write checks the
//! version it read and redoes the PATCH on a newer one); creates that race for the same userName (on SQLite
//! committed together, in one group) create each user once.

use serde_json::json;
use skybridge_testkit::{TestApp, backend_tests};

backend_tests!(
    concurrent_patches_of_one_user_lose_nothing,
    concurrent_creates_of_one_user_name_create_it_once
);

async fn concurrent_patches_of_one_user_lose_nothing(app: TestApp) {
    let (_, scim) = app.scim_account("Concurrent").await;
    let created = scim
        .post(
            "/Users",
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "busy@contoso.com",
                "emails": [{ "type": "work", "value": "busy@contoso.com", "primary": true }],
                "name": { "givenName": "Busy", "familyName": "Bee" },
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let attrs = [
        "title".to_string(),
        "nickName".to_string(),
        "preferredLanguage".to_string(),
        "name.middleName".to_string(),
        format!("{ENT}:employeeNumber"),
        format!("{ENT}:costCenter"),
        format!("{ENT}:department"),
        format!("{ENT}:division"),
    ];
    let patches = attrs.iter().enumerate().map(|(i, path)| {
        let scim = scim.clone();
        let id = id.clone();
        let path = path.clone();
        async move {
            let r = scim
                .patch(
                    &format!("/Users/{id}"),
                    &json!({
                        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{ "op": "replace", "path": path, "value": format!("v{i}") }],
                    }),
                )
                .await;
            assert_eq!(r.status, 200, "{path}: {}", r.body);
        }
    });
    futures_util::future::join_all(patches).await;
    let got = scim.get(&format!("/Users/{id}")).await.body;
    assert_eq!(got["title"], "v0", "{got}");
    assert_eq!(got["nickName"], "v1", "{got}");
    assert_eq!(got["preferredLanguage"], "v2", "{got}");
    assert_eq!(got["name"]["middleName"], "v3", "{got}");
    assert_eq!(got[ENT]["employeeNumber"], "v4", "{got}");
    assert_eq!(got[ENT]["costCenter"], "v5", "{got}");
    assert_eq!(got[ENT]["department"], "v6", "{got}");
    assert_eq!(got[ENT]["division"], "v7", "{got}");
    assert_eq!(got["name"]["givenName"], "Busy");
    // Nine writes: the create and eight changes, each its own version.
    assert_eq!(got["meta"]["version"], "W/\"9\"", "{got}");
}

async fn concurrent_creates_of_one_user_name_create_it_once(app: TestApp) {
    let (_, scim) = app.scim_account("Racing").await;
    // Twelve users, each created twice at once under another externalId (so never a retried create): one of
    // each pair is created, the other refused, and a refused write leaves nothing of itself behind.
    let creates = (0..24).map(|i| {
        let scim = scim.clone();
        async move {
            let who = i % 12;
            let r = scim
                .post(
                    "/Users",
                    &json!({
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "userName": format!("racer{who}@contoso.com"),
                        "externalId": format!("ext-{i}"),
                        "emails": [{ "type": "work", "value": format!("racer{who}@contoso.com"), "primary": true }],
                        "name": { "givenName": "Racer", "familyName": format!("No{who}") },
                    }),
                )
                .await;
            (who, r.status, r.body)
        }
    });
    let answers = futures_util::future::join_all(creates).await;
    for who in 0..12 {
        let mut statuses: Vec<u16> = answers
            .iter()
            .filter(|(w, ..)| *w == who)
            .map(|(_, s, _)| s.as_u16())
            .collect();
        statuses.sort_unstable();
        assert_eq!(statuses, vec![201, 409], "racer{who}: {answers:?}");
    }
    for (_, status, body) in &answers {
        if *status == 409 {
            assert_eq!(body["scimType"], "uniqueness", "{body}");
        }
    }
    let listed = scim.get("/Users?count=100").await.body;
    assert_eq!(listed["totalResults"], 12, "{listed}");
    let created: std::collections::BTreeSet<String> = answers
        .iter()
        .filter(|(_, s, _)| *s == 201)
        .map(|(_, _, b)| b["externalId"].as_str().unwrap().to_string())
        .collect();
    let kept: std::collections::BTreeSet<String> = listed["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["externalId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(created, kept, "the users kept are the ones answered 201");
}
