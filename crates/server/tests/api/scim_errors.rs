//! SCIM bad input and security: malformed JSON, wrong types, unknown attributes, bad filters, paths that
//! match nothing, duplicate `type` values, invalid phone numbers, oversized bodies, unknown ids and URLs,
//! writes on the discovery endpoints, and every way of presenting a wrong token or reaching around it. Each
//! error is checked for its RFC 7644 §3.12 shape, and the store for being unchanged.

use std::sync::Arc;

use serde_json::Value;
use skybridge_server::app::AUTH_FAILURES_PER_MINUTE;
use skybridge_server::clock::ManualClock;
use skybridge_testkit::reqwest::Method;
use skybridge_testkit::{
    ScimClient, ScimResponse, TestApp, backend_tests, clock_tests, json, url_encode,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::scim_entra::{
    ENTERPRISE, GROUP_SCHEMA, SEARCH_REQUEST, USER_SCHEMA, assert_list, assert_scim_error,
    create_user, entra_user, event_count, get_group, get_user, ids, list, patch_op, resources,
    total, values,
};

/// 400 with one of the acceptable scimTypes.
fn assert_bad_request(r: &ScimResponse, scim_types: &[&str], what: &str) {
    assert_scim_error(r, 400, None, what);
    if !scim_types.is_empty() {
        let t = r.body["scimType"].as_str().unwrap_or_default();
        assert!(
            scim_types.contains(&t),
            "{what}: scimType {t:?}, expected one of {scim_types:?}: {}",
            r.body
        );
    }
}

/// Everything the account's SCIM endpoint holds, for before/after comparisons.
async fn snapshot(scim: &ScimClient) -> (Value, Value) {
    let users = list(scim, "/Users?count=1000").await;
    let groups = list(scim, "/Groups?count=1000").await;
    (users, groups)
}

async fn post_raw(scim: &ScimClient, method: Method, path: &str, body: &str) -> ScimResponse {
    scim.send_raw(
        method,
        path,
        Some(&scim.token),
        "application/scim+json",
        Some(body.as_bytes().to_vec()),
    )
    .await
}

/// A request written by hand on a TCP connection, so that the path reaches the server exactly as given
/// (an HTTP client would normalise `%2e%2e` and `//`). Returns the status code and the whole response.
async fn raw_get(app: &TestApp, path: &str, token: Option<&str>) -> (u16, String) {
    let host = app.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line for {path}: {text:?}"));
    (status, text)
}

// --- POST bodies and filters -----------------------------------------------------------------------------------

async fn scim_rejects_bad_resources(app: TestApp) {
    let (aid, scim) = app.scim_account("Bad Input").await;
    let seed = create_user(&scim, &entra_user("seed@contoso.com", "seed@contoso.com")).await;
    let before = snapshot(&scim).await;
    let events = event_count(&app, &aid).await;

    // Malformed JSON and bodies that are not a resource.
    for (body, what) in [
        ("{\"userName\": ", "truncated JSON"),
        ("{\"userName\": \"x\",}", "trailing comma"),
        ("not json at all", "not JSON"),
        ("", "empty body"),
    ] {
        let r = post_raw(&scim, Method::POST, "/Users", body).await;
        assert_bad_request(&r, &["invalidSyntax"], what);
    }
    let r = post_raw(&scim, Method::POST, "/Users", "[1, 2]").await;
    assert_bad_request(&r, &["invalidSyntax", "invalidValue"], "an array");

    let ok = entra_user("new@contoso.com", "new@contoso.com");
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    let without = |k: &str| {
        let mut b = ok.clone();
        b.as_object_mut().unwrap().remove(k);
        b
    };
    let type_errors = ["invalidValue", "invalidSyntax"];
    for (body, what) in [
        (with("active", json!(5)), "active: 5"),
        (with("active", json!("maybe")), "active: \"maybe\""),
        (with("userName", json!(7)), "userName: 7"),
        // `{"value": x}` alone is Entra's wrapped simple value (Q8) and accepted; any other object is a type error.
        (
            with("userName", json!({ "first": "x" })),
            "userName: object",
        ),
        (with("userName", json!("")), "userName: empty"),
        (without("userName"), "userName missing"),
        (with("emails", json!("new@contoso.com")), "emails: a string"),
        (with("name", json!("Bob")), "name: a string"),
        (with("favouriteColour", json!("teal")), "unknown attribute"),
        (
            with(ENTERPRISE, json!({ "shoeSize": "44" })),
            "unknown extension attribute",
        ),
        (
            with(
                "emails",
                json!([{ "type": "work", "value": "a@contoso.com" }, { "type": "work", "value": "b@contoso.com" }]),
            ),
            "Q17: two work e-mails",
        ),
        (
            with(
                "phoneNumbers",
                json!([{ "type": "work", "value": "+16135550180" }, { "type": "work", "value": "+16135550181" }]),
            ),
            "Q17: two work phones",
        ),
    ] {
        let r = scim.post("/Users", &body).await;
        assert_bad_request(&r, &type_errors, what);
    }
    // An invalid phone number: 400 invalidValue, and the detail says which attribute.
    for bad in ["6135922122", "+1999", "+1 613 59X 2122", "tel:+16135922122"] {
        let r = scim
            .post(
                "/Users",
                &with("phoneNumbers", json!([{ "type": "mobile", "value": bad }])),
            )
            .await;
        assert_bad_request(&r, &["invalidValue"], bad);
        assert!(
            r.body["detail"].as_str().unwrap().contains("phoneNumbers"),
            "{bad}: the detail names the attribute: {}",
            r.body
        );
    }
    // Groups.
    for (body, what) in [
        (
            json!({ "schemas": [GROUP_SCHEMA], "displayName": 7 }),
            "displayName: 7",
        ),
        (json!({ "schemas": [GROUP_SCHEMA] }), "displayName missing"),
        (
            json!({ "schemas": [GROUP_SCHEMA], "displayName": "G", "members": "everyone" }),
            "members: a string",
        ),
    ] {
        let r = scim.post("/Groups", &body).await;
        assert_bad_request(&r, &type_errors, what);
    }
    let r = post_raw(&scim, Method::POST, "/Groups", "{\"displayName\"").await;
    assert_bad_request(&r, &["invalidSyntax"], "truncated group");

    assert_eq!(
        snapshot(&scim).await,
        before,
        "refused requests stored nothing"
    );
    assert_eq!(
        event_count(&app, &aid).await,
        events,
        "nor audited anything"
    );

    // A member that is no user of the account is never stored as a dangling reference.
    let ghost = uuid::Uuid::new_v4().to_string();
    let r = scim
        .post(
            "/Groups",
            &json!({ "schemas": [GROUP_SCHEMA], "displayName": "Ghosts", "members": [{ "value": ghost }] }),
        )
        .await;
    if r.status == 201 {
        let g = get_group(&scim, r.body["id"].as_str().unwrap()).await;
        assert!(!values(&g, "members").contains(&ghost), "{g}");
    } else {
        assert_bad_request(&r, &["invalidValue"], "unknown member");
    }
    get_user(&scim, seed["id"].as_str().unwrap()).await;
}

async fn scim_rejects_bad_filters(app: TestApp) {
    let (_aid, scim) = app.scim_account("Bad Filters").await;
    let a = create_user(&scim, &entra_user("fa@contoso.com", "fa@contoso.com")).await;
    let b = create_user(&scim, &entra_user("fb@contoso.com", "fb@contoso.com")).await;

    let long = format!("userName eq \"{}\"", "a".repeat(3000));
    for f in [
        "userName eq",
        "userName zz \"x\"",
        "(userName eq \"x\"",
        "userName eq \"x\")",
        "userName eq \"unterminated",
        "userName eq \"x\" and",
        "eq \"x\"",
        "userName[type eq \"work\"",
        long.as_str(),
    ] {
        for endpoint in ["/Users", "/Groups"] {
            let r = scim
                .get(&format!("{endpoint}?filter={}", url_encode(f)))
                .await;
            assert_bad_request(&r, &["invalidFilter"], &format!("{endpoint} {f:.60}"));
        }
        for endpoint in ["/Users/.search", "/.search"] {
            let r = scim
                .post(
                    endpoint,
                    &json!({ "schemas": [SEARCH_REQUEST], "filter": f }),
                )
                .await;
            assert_bad_request(&r, &["invalidFilter"], &format!("{endpoint} {f:.60}"));
        }
    }

    // Just under the 2,048-character limit a filter is read.
    let under = format!("userName eq \"{}\"", "a".repeat(2000));
    let r = scim
        .get(&format!("/Users?filter={}", url_encode(&under)))
        .await;
    assert_list(&r, "a 2,013-character filter");
    assert_eq!(r.body["totalResults"], 0);

    // An attribute that does not exist matches nothing or is refused — never the unfiltered list.
    let r = scim
        .get(&format!(
            "/Users?filter={}",
            url_encode("shoeSize eq \"44\"")
        ))
        .await;
    if r.status == 200 {
        assert_list(&r, "unknown attribute");
        assert_eq!(r.body["totalResults"], 0, "{}", r.body);
    } else {
        assert_bad_request(&r, &["invalidFilter"], "unknown attribute");
    }
    // `or` is RFC syntax: evaluated correctly or refused.
    let r = scim
        .get(&format!(
            "/Users?filter={}",
            url_encode("userName eq \"fa@contoso.com\" or userName eq \"fb@contoso.com\"")
        ))
        .await;
    if r.status == 200 {
        let mut got = ids(&r.body);
        got.sort();
        let mut want = vec![
            a["id"].as_str().unwrap().to_string(),
            b["id"].as_str().unwrap().to_string(),
        ];
        want.sort();
        assert_eq!(got, want);
    } else {
        assert_bad_request(&r, &["invalidFilter"], "or");
    }
    // Values are data, never SQL or LIKE patterns.
    for v in [
        "x' OR '1'='1",
        "x\" or \"1\" eq \"1",
        "%",
        "_a@contoso.com",
        "%@contoso.com",
        "*",
    ] {
        let f = format!("userName eq \"{}\"", v.replace('"', "\\\""));
        let r = scim.get(&format!("/Users?filter={}", url_encode(&f))).await;
        if r.status == 200 {
            assert_list(&r, v);
            assert_eq!(r.body["totalResults"], 0, "{v}: {}", r.body);
        } else {
            assert_bad_request(&r, &["invalidFilter"], v);
        }
    }
    assert_eq!(total(&scim, "/Users").await, 2);
}

// --- PATCH and PUT ------------------------------------------------------------------------------------------------

async fn scim_rejects_bad_patches(app: TestApp) {
    let (aid, scim) = app.scim_account("Bad Patches").await;
    let u = create_user(
        &scim,
        &json!({
            "schemas": [USER_SCHEMA], "userName": "target@contoso.com", "displayName": "Target",
            "emails": [{ "type": "work", "value": "target@contoso.com", "primary": true }],
            "phoneNumbers": [{ "type": "mobile", "value": "+16135550190" }],
        }),
    )
    .await;
    let id = u["id"].as_str().unwrap().to_string();
    let path = format!("/Users/{id}");
    let g = scim
        .post(
            "/Groups",
            &json!({ "schemas": [GROUP_SCHEMA], "displayName": "Targets", "members": [{ "value": id }] }),
        )
        .await;
    assert_eq!(g.status, 201, "{}", g.body);
    let gid = g.body["id"].as_str().unwrap().to_string();
    let gpath = format!("/Groups/{gid}");
    let user_before = get_user(&scim, &id).await;
    let group_before = get_group(&scim, &gid).await;
    let events = event_count(&app, &aid).await;

    for (body, what) in [
        ("{\"Operations\": [", "truncated"),
        ("", "empty"),
        ("[]", "an array"),
    ] {
        let r = post_raw(&scim, Method::PATCH, &path, body).await;
        assert_bad_request(&r, &["invalidSyntax", "invalidValue"], what);
    }
    let any: &[&str] = &[];
    let type_errors = ["invalidValue", "invalidSyntax"];
    for (ops, scim_types, what) in [
        (
            json!({ "op": "replace", "path": "displayName", "value": "x" }),
            &type_errors[..],
            "Operations is not an array",
        ),
        (
            json!([{ "op": "frobnicate", "path": "displayName", "value": "x" }]),
            any,
            "unknown op",
        ),
        (
            json!([{ "op": "replace", "path": "nonexistent", "value": "x" }]),
            &["invalidPath"][..],
            "unknown attribute",
        ),
        (
            json!([{ "op": "replace", "path": format!("{ENTERPRISE}:shoeSize"), "value": "44" }]),
            &["invalidPath"][..],
            "unknown extension attribute",
        ),
        (
            json!([{ "op": "replace", "path": "name.middleInitialish", "value": "x" }]),
            &["invalidPath"][..],
            "unknown sub-attribute",
        ),
        (
            json!([{ "op": "replace", "path": "emails[type eq \"work\"", "value": "x@contoso.com" }]),
            &["invalidPath", "invalidFilter"][..],
            "unbalanced filter in the path",
        ),
        (
            json!([{ "op": "remove" }]),
            &["noTarget"][..],
            "remove without a path",
        ),
        (
            json!([{ "op": "replace", "path": "active", "value": 5 }]),
            &type_errors[..],
            "active: 5",
        ),
        (
            json!([{ "op": "replace", "path": "userName", "value": 7 }]),
            &type_errors[..],
            "userName: 7",
        ),
        (
            json!([{ "op": "replace", "value": { "nonexistent": "x" } }]),
            &["invalidPath", "invalidValue", "invalidSyntax"][..],
            "path-less with an unknown key",
        ),
        (
            json!([{ "op": "remove", "path": "userName" }]),
            any,
            "removing the required userName",
        ),
        (
            json!([{ "op": "replace", "path": "id", "value": "mine" }]),
            &["mutability"][..],
            "replacing the read-only id",
        ),
        (
            json!([{ "op": "add", "path": "phoneNumbers", "value": [
                { "type": "work", "value": "+16135550191" },
                { "type": "work", "value": "+16135550192" },
            ] }]),
            &type_errors[..],
            "Q17: two work phones",
        ),
        // PATCH is atomic: the valid first operation must not stick when the second fails.
        (
            json!([
                { "op": "replace", "path": "displayName", "value": "Should Not Stick" },
                { "op": "replace", "path": "nonexistent", "value": "x" },
            ]),
            &["invalidPath"][..],
            "atomicity",
        ),
    ] {
        let r = scim.patch(&path, &patch_op(ops)).await;
        assert_bad_request(&r, scim_types, what);
    }
    for bad in ["6135922122", "+1999"] {
        let r = scim
            .patch(
                &path,
                &patch_op(json!([{ "op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": bad }])),
            )
            .await;
        assert_bad_request(&r, &["invalidValue"], bad);
        assert!(
            r.body["detail"].as_str().unwrap().contains("phoneNumbers"),
            "{}",
            r.body
        );
    }
    // PUT: a whole resource that is invalid changes nothing either.
    for (body, what) in [
        (
            json!({ "schemas": [USER_SCHEMA], "displayName": "No userName" }),
            "userName missing",
        ),
        (
            json!({ "schemas": [USER_SCHEMA], "userName": "target@contoso.com", "active": "maybe" }),
            "active: \"maybe\"",
        ),
        (
            json!({ "schemas": [USER_SCHEMA], "userName": "target@contoso.com",
                    "phoneNumbers": [{ "type": "mobile", "value": "6135922122" }] }),
            "invalid phone",
        ),
    ] {
        let r = scim.put(&path, &body).await;
        assert_bad_request(&r, &type_errors, what);
    }
    // Groups.
    for (ops, scim_types, what) in [
        (
            json!([{ "op": "replace", "path": "nonexistent", "value": "x" }]),
            &["invalidPath"][..],
            "group: unknown attribute",
        ),
        (
            json!([{ "op": "replace", "path": "displayName", "value": 7 }]),
            &type_errors[..],
            "group: displayName 7",
        ),
        (
            json!([{ "op": "remove", "path": "members[value eq \"x\"" }]),
            &["invalidPath", "invalidFilter"][..],
            "group: unbalanced member filter",
        ),
        (
            json!([
                { "op": "remove", "path": "members" },
                { "op": "replace", "path": "nonexistent", "value": "x" },
            ]),
            &["invalidPath"][..],
            "group: atomicity",
        ),
    ] {
        let r = scim.patch(&gpath, &patch_op(ops)).await;
        assert_bad_request(&r, scim_types, what);
    }

    assert_eq!(get_user(&scim, &id).await, user_before, "user unchanged");
    assert_eq!(
        get_group(&scim, &gid).await,
        group_before,
        "group unchanged"
    );
    assert_eq!(event_count(&app, &aid).await, events, "nothing audited");
}

// --- unknown ids and URLs, read-only discovery, oversized bodies --------------------------------------------

async fn scim_unknown_ids_urls_and_methods(app: TestApp) {
    let (_aid, scim) = app.scim_account("Unknowns").await;
    let u = create_user(&scim, &entra_user("known@contoso.com", "known@contoso.com")).await;
    let id = u["id"].as_str().unwrap().to_string();
    let ghost = uuid::Uuid::new_v4().to_string();
    let patch = patch_op(json!([{ "op": "replace", "path": "displayName", "value": "x" }]));

    for endpoint in ["/Users", "/Groups"] {
        for target in [ghost.as_str(), "not-an-id", "0"] {
            let p = format!("{endpoint}/{target}");
            assert_scim_error(&scim.get(&p).await, 404, None, &format!("GET {p}"));
            assert_scim_error(
                &scim.patch(&p, &patch).await,
                404,
                None,
                &format!("PATCH {p}"),
            );
            assert_scim_error(&scim.delete(&p).await, 404, None, &format!("DELETE {p}"));
            let body = if endpoint == "/Users" {
                entra_user("ghost@contoso.com", "ghost@contoso.com")
            } else {
                json!({ "schemas": [GROUP_SCHEMA], "displayName": "Ghost" })
            };
            assert_scim_error(&scim.put(&p, &body).await, 404, None, &format!("PUT {p}"));
        }
    }
    for p in [
        "/Nope".to_string(),
        format!("/{ghost}"),
        format!("/Users/{id}/extra"),
        "/ResourceTypes/Nope".to_string(),
        "/Schemas/urn:ietf:params:scim:schemas:core:2.0:Nope".to_string(),
    ] {
        assert_scim_error(&scim.get(&p).await, 404, None, &p);
    }
    assert_eq!(
        total(&scim, "/Users").await,
        1,
        "PUT to an unknown id creates nothing"
    );

    // The discovery endpoints are read-only.
    let schemas_before = list(&scim, "/Schemas").await;
    for endpoint in [
        "/ServiceProviderConfig".to_string(),
        "/ResourceTypes".to_string(),
        "/Schemas".to_string(),
        "/ResourceTypes/User".to_string(),
        format!("/Schemas/{USER_SCHEMA}"),
    ] {
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let body = (method != Method::DELETE).then(|| json!({ "schemas": [USER_SCHEMA] }));
            let r = scim.send(method.clone(), &endpoint, body.as_ref()).await;
            assert_scim_error(&r, 405, None, &format!("{method} {endpoint}"));
        }
    }
    assert_eq!(list(&scim, "/Schemas").await, schemas_before);
}

async fn scim_refuses_oversized_bodies(app: TestApp) {
    let (aid, scim) = app.scim_account("Oversized").await;
    let u = create_user(&scim, &entra_user("big@contoso.com", "big@contoso.com")).await;
    let id = u["id"].as_str().unwrap().to_string();
    let before = get_user(&scim, &id).await;
    let events = event_count(&app, &aid).await;
    let over = "x".repeat(1024 * 1024 + 1024);

    let mut big_user = entra_user("bigger@contoso.com", "bigger@contoso.com");
    big_user["displayName"] = json!(over);
    let r = scim.post("/Users", &big_user).await;
    assert_scim_error(&r, 413, None, "POST over 1 MiB");
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            &patch_op(json!([{ "op": "replace", "path": "displayName", "value": over }])),
        )
        .await;
    assert_scim_error(&r, 413, None, "PATCH over 1 MiB");
    let r = scim.put(&format!("/Users/{id}"), &big_user).await;
    assert_scim_error(&r, 413, None, "PUT over 1 MiB");
    let r = scim
        .post(
            "/.search",
            &json!({ "schemas": [SEARCH_REQUEST], "filter": format!("userName eq \"{over}\"") }),
        )
        .await;
    assert_scim_error(&r, 413, None, "search over 1 MiB");

    assert_eq!(get_user(&scim, &id).await, before);
    assert_eq!(total(&scim, "/Users").await, 1);
    assert_eq!(event_count(&app, &aid).await, events);

    // Under the limit the size alone is no reason to refuse: a large member list is read.
    let members: Vec<Value> = (0..10000)
        .map(|_| json!({ "$ref": null, "value": uuid::Uuid::new_v4().to_string() }))
        .collect();
    let body = json!({ "schemas": [GROUP_SCHEMA], "displayName": "Crowd", "members": members });
    let size = serde_json::to_vec(&body).unwrap().len();
    assert!(size > 512 * 1024 && size < 1024 * 1024, "{size}");
    let r = scim.post("/Groups", &body).await;
    assert_ne!(r.status, 413, "{size} bytes is under 1 MiB: {}", r.body);
    assert!(!r.status.is_server_error(), "{}", r.body);
}

// --- authentication -----------------------------------------------------------------------------------------------

/// Room for refused credentials: the server throttles an address after `AUTH_FAILURES_PER_MINUTE` failures a
/// minute (wrong ones then get 429 instead of 401), so the test moves its clock past the window
/// before a batch that would reach it — the throttle itself is checked at the end.
struct FailureBudget<'a> {
    clock: &'a ManualClock,
    left: u32,
}

impl FailureBudget<'_> {
    fn reserve(&mut self, n: u32) {
        if n > self.left {
            self.clock.advance(61_000_000);
            self.left = AUTH_FAILURES_PER_MINUTE - 1;
        }
        assert!(
            n <= self.left,
            "a batch of {n} failures cannot fit in one window"
        );
        self.left -= n;
    }
}

async fn scim_authentication(app: TestApp, clock: Arc<ManualClock>) {
    let mut budget = FailureBudget {
        clock: &clock,
        left: 0,
    };
    let (a, scim_a) = app.scim_account("Tenant A").await;
    let (b, scim_b) = app.scim_account("Tenant B").await;
    let u = create_user(
        &scim_a,
        &entra_user("a.user@contoso.com", "a.user@contoso.com"),
    )
    .await;
    let id = u["id"].as_str().unwrap().to_string();
    let before = get_user(&scim_a, &id).await;
    let events = event_count(&app, &a).await;
    let body = entra_user("intruder@contoso.com", "intruder@contoso.com");
    let patch = patch_op(json!([{ "op": "replace", "path": "displayName", "value": "Owned" }]));

    // Missing, wrong, malformed, or another credential: 401 on every route.
    let mut flipped = scim_a.token.clone();
    let last = flipped.pop().unwrap();
    flipped.push(if last == 'A' { 'B' } else { 'A' });
    let wrong_tokens: Vec<(Option<String>, &str)> = vec![
        (None, "no token"),
        (Some(String::new()), "empty token"),
        (Some("nope".into()), "wrong token"),
        (Some(flipped), "token with one character changed"),
        (
            Some(app.token.clone()),
            "the partner administrator's API token",
        ),
    ];
    let routes = [
        (Method::GET, "/Users".to_string(), None),
        (Method::GET, format!("/Users/{id}"), None),
        (Method::POST, "/Users".to_string(), Some(&body)),
        (Method::PATCH, format!("/Users/{id}"), Some(&patch)),
        (Method::PUT, format!("/Users/{id}"), Some(&body)),
        (Method::DELETE, format!("/Users/{id}"), None),
        (Method::GET, "/Groups".to_string(), None),
        (Method::GET, "/ServiceProviderConfig".to_string(), None),
    ];
    for (token, what) in &wrong_tokens {
        budget.reserve(routes.len() as u32 + 1);
        for (method, p, b) in &routes {
            let r = scim_a
                .send_raw(
                    method.clone(),
                    p,
                    token.as_deref(),
                    "application/scim+json",
                    b.map(|v| serde_json::to_vec(v).unwrap()),
                )
                .await;
            assert_scim_error(&r, 401, None, &format!("{what}: {method} {p}"));
            assert!(
                r.headers
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("Bearer")),
                "{what}: RFC 6750 challenge: {:?}",
                r.headers
            );
        }
        let r = scim_a
            .send_raw(
                Method::POST,
                "/.search",
                token.as_deref(),
                "application/scim+json",
                Some(serde_json::to_vec(&json!({ "schemas": [SEARCH_REQUEST] })).unwrap()),
            )
            .await;
        assert_scim_error(&r, 401, None, &format!("{what}: POST /.search"));
    }
    // Other schemes carrying the right token are not Bearer; a token in the query string is no credential.
    budget.reserve(8);
    for header in [
        format!("Basic {}", scim_a.token),
        format!("Token {}", scim_a.token),
        scim_a.token.clone(),
    ] {
        let r = app
            .http
            .get(scim_a.url("/Users"))
            .header("authorization", header.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{header:.12}…");
    }
    let r = scim_a
        .send_raw(
            Method::GET,
            &format!("/Users?access_token={}", scim_a.token),
            None,
            "application/scim+json",
            None,
        )
        .await;
    assert_scim_error(&r, 401, None, "access_token in the query");
    // Account A's token on account B's Tenant URL.
    let a_on_b = scim_b.with_token(&scim_a.token);
    assert_scim_error(&a_on_b.get("/Users").await, 401, None, "A's token, B's URL");
    assert_scim_error(
        &a_on_b.post("/Users", &body).await,
        401,
        None,
        "A's token, B's URL",
    );
    // The SCIM token is no admin API credential.
    let (status, _) = app
        .get(&scim_a.token, &format!("/api/v1/accounts/{a}/users"))
        .await;
    assert_eq!(status, 401);
    let (status, _) = app.get(&scim_a.token, "/api/v1/me").await;
    assert_eq!(status, 401);
    assert_eq!(total(&scim_b, "/Users").await, 0, "B untouched");

    // B's own token cannot reach A's user through B's URL.
    for r in [
        scim_b.get(&format!("/Users/{id}")).await,
        scim_b.patch(&format!("/Users/{id}"), &patch).await,
        scim_b.put(&format!("/Users/{id}"), &body).await,
        scim_b.delete(&format!("/Users/{id}")).await,
    ] {
        assert_scim_error(&r, 404, None, "A's user from B");
    }
    let r = scim_b
        .get(&format!(
            "/Users?filter={}",
            url_encode("userName eq \"a.user@contoso.com\"")
        ))
        .await;
    assert_eq!(r.body["totalResults"], 0, "{}", r.body);
    let r = scim_b
        .post("/.search", &json!({ "schemas": [SEARCH_REQUEST] }))
        .await;
    assert_eq!(r.body["totalResults"], 0, "{}", r.body);

    // Paths written to slip past the authentication or out of the account: never served.
    budget.reserve(16);
    for p in [
        format!("/scim/v2/{a}/%55sers"),
        format!("/scim/v2/{a}/%55sers/{id}"),
    ] {
        let (status, text) = raw_get(&app, &p, None).await;
        assert_eq!(status, 401, "{p}: {text}");
    }
    for p in [
        format!("/scim/v2/{a}//Users"),
        format!("/scim/v2//{a}/Users"),
        format!("/scim/v2/{a}/Users%2f{id}"),
        format!("/scim/v2/{a}%2fUsers"),
        format!("/scim/v2/{a}/./Users"),
        format!("/scim/v2/{a}/x/../Users"),
        format!("/scim/v2/{a}/x/%2e%2e/Users"),
        format!("/scim/v2/{}/Users", a.to_uppercase()),
        format!("/SCIM/V2/{a}/Users"),
        "/scim/v2/%2e%2e/api/v1/accounts".to_string(),
        format!("/scim/v2/{a}/%2e%2e/%2e%2e/%2e%2e/api/v1/accounts/{a}/users"),
        format!("/scim/v2/{a}/..%2f..%2f..%2fapi/v1/accounts/{a}/users"),
    ] {
        let (status, text) = raw_get(&app, &p, None).await;
        assert!(
            matches!(status, 400 | 401 | 404),
            "{p} without a token: {status}\n{text}"
        );
        assert!(!text.contains(&id), "{p} leaked the user: {text}");
    }
    for (p, token) in [
        (format!("/scim/v2/{b}/%2e%2e/{a}/Users"), &scim_b.token),
        (format!("/scim/v2/{b}/../{a}/Users"), &scim_b.token),
        (format!("/scim/v2/{b}//{a}/Users"), &scim_b.token),
        (format!("/scim/v2/{a}/%2e%2e/{b}/Users"), &scim_b.token),
    ] {
        let (status, text) = raw_get(&app, &p, Some(token)).await;
        assert!(
            matches!(status, 400 | 401 | 404),
            "{p} with B's token: {status}\n{text}"
        );
        assert!(!text.contains(&id), "{p} leaked A's user: {text}");
    }

    assert_eq!(get_user(&scim_a, &id).await, before, "A's user untouched");
    assert_eq!(total(&scim_a, "/Users").await, 1);
    assert_eq!(event_count(&app, &a).await, events);

    // Guessing is throttled: past the limit a wrong token gets 429 with Retry-After instead of 401, while the
    // right token still works (Entra calls from addresses its tenants share); the window passes, 401 again.
    clock.advance(61_000_000);
    let wrong = scim_a.with_token("guess");
    for _ in 0..AUTH_FAILURES_PER_MINUTE {
        assert_eq!(wrong.get("/Users").await.status, 401);
    }
    let guess = |token: &str| {
        app.http
            .get(scim_a.url("/Users"))
            .bearer_auth(token.to_string())
            .send()
    };
    let r = guess("guess").await.unwrap();
    assert_eq!(r.status(), 429, "the address is throttled");
    assert!(r.headers().get("retry-after").is_some());
    let r = guess(&scim_a.token).await.unwrap();
    assert_eq!(
        r.status(),
        200,
        "a valid token is never refused for others' failures"
    );
    clock.advance(61_000_000);
    assert_eq!(guess("guess").await.unwrap().status(), 401);
}

async fn scim_token_rotation_and_removal(app: TestApp) {
    let account = app.create_account("Rotation").await;
    let aid = account["id"].as_str().unwrap().to_string();
    let first = app.scim_keys(&aid).await;
    let scim1 = app.scim(&first);
    assert_eq!(scim1.get("/Users").await.status, 200);

    // Generating again replaces the token at once.
    let second = app.generate_scim_keys(&aid).await;
    assert_eq!(second.tenant_url, first.tenant_url);
    assert_ne!(second.secret_token, first.secret_token);
    let scim2 = app.scim(&second);
    assert_scim_error(&scim1.get("/Users").await, 401, None, "rotated token");
    let r = scim1
        .post(
            "/Users",
            &entra_user("late@contoso.com", "late@contoso.com"),
        )
        .await;
    assert_scim_error(&r, 401, None, "rotated token");
    let users = scim2.get("/Users").await;
    assert_list(&users, "new token");
    assert!(
        resources(&users.body).is_empty(),
        "the refused create stored nothing"
    );

    // Removing the integration revokes the token; adding it again does not bring the token back.
    let (status, body) = app
        .delete(
            &app.token,
            &format!("/api/v1/accounts/{aid}/integrations/entra_id_sync?confirm=remove"),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    assert_scim_error(&scim2.get("/Users").await, 401, None, "integration removed");
    let (status, _) = app
        .call(
            &app.token,
            Method::POST,
            &format!("/api/v1/accounts/{aid}/integrations/entra_id_sync/keys"),
            None,
        )
        .await;
    assert_eq!(status, 404, "no keys without the integration");
    app.add_scim_integration(&aid).await;
    assert_scim_error(
        &scim2.get("/Users").await,
        401,
        None,
        "integration re-added",
    );
    let third = app.generate_scim_keys(&aid).await;
    assert_eq!(app.scim(&third).get("/Users").await.status, 200);
    assert_scim_error(&scim2.get("/Users").await, 401, None, "still the old token");
}

backend_tests!(
    scim_rejects_bad_resources,
    scim_rejects_bad_filters,
    scim_rejects_bad_patches,
    scim_unknown_ids_urls_and_methods,
    scim_refuses_oversized_bodies,
    scim_token_rotation_and_removal,
);
clock_tests!(scim_authentication);
