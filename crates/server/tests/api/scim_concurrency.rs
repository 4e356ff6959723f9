//! Concurrent PATCHes of one user: each changes another attribute, and none is lost (the write checks the
//! version it read and redoes the PATCH on a newer one).

use serde_json::json;
use skybridge_testkit::{TestApp, backend_tests};

backend_tests!(concurrent_patches_of_one_user_lose_nothing);

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
