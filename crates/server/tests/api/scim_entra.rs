//! The Entra replay suite: every request shape of Microsoft Entra ID's provisioning service catalogued in
//! shared spec scim-entra.md §1.4 (a)–(h), in the default dialect (capitalised ops, string booleans,
//! `[{"$ref":null,"value":…}]` wrapping, the three manager shapes, JSON-encoded roles) and in the
//! `?aadOptscim062020` dialect (lowercase ops, real booleans, path-less replace with dotted and URN-qualified
//! keys), and each tolerance Q1–Q18 of §1.5 — every change followed by a GET of the resulting state, and
//! where the platform user is concerned, by the admin API. Also: keys and Test Connection, paging,
//! attributes/excludedAttributes, the user lifecycle, uniqueness, the phone-number conflict search and the
//! audit trail.

use std::collections::BTreeSet;

use serde_json::Value;
use skybridge_testkit::reqwest::{Method, StatusCode};
use skybridge_testkit::{ScimClient, ScimResponse, TestApp, backend_tests, json, url_encode};

pub(crate) const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub(crate) const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub(crate) const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub(crate) const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub(crate) const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub(crate) const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub(crate) const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const ADSCIM_GROUP: &str =
    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";
/// The Tenant URL flag that switches Entra to RFC-compliant PATCH (MS-KI).
const FLAG: &str = "aadOptscim062020";

// --- helpers shared with scim_errors.rs ---------------------------------------------------------------------

pub(crate) fn patch_op(ops: Value) -> Value {
    json!({ "schemas": [PATCH_OP], "Operations": ops })
}

pub(crate) fn assert_scim_json(r: &ScimResponse, what: &str) {
    assert!(
        r.content_type.starts_with("application/scim+json"),
        "{what}: Content-Type {:?}, expected application/scim+json ({})",
        r.content_type,
        r.body
    );
}

/// An RFC 7644 §3.12 error: the status, the Error schema, `status` as a string, the scimType when given, and a
/// detail worth showing in Entra's provisioning log.
pub(crate) fn assert_scim_error(
    r: &ScimResponse,
    status: u16,
    scim_type: Option<&str>,
    what: &str,
) {
    assert_eq!(r.status.as_u16(), status, "{what}: {}", r.body);
    assert_scim_json(r, what);
    assert_eq!(
        r.body["schemas"],
        json!([ERROR_SCHEMA]),
        "{what}: {}",
        r.body
    );
    assert_eq!(
        r.body["status"],
        json!(status.to_string()),
        "{what}: {}",
        r.body
    );
    if let Some(t) = scim_type {
        assert_eq!(r.body["scimType"], t, "{what}: {}", r.body);
    }
    assert!(
        r.body["detail"]
            .as_str()
            .is_some_and(|d| !d.trim().is_empty()),
        "{what}: no detail in {}",
        r.body
    );
}

/// A ListResponse: its schema, totalResults, and no more Resources than totalResults.
pub(crate) fn assert_list(r: &ScimResponse, what: &str) {
    assert_eq!(r.status, 200, "{what}: {}", r.body);
    assert_scim_json(r, what);
    assert_eq!(
        r.body["schemas"],
        json!([LIST_RESPONSE]),
        "{what}: {}",
        r.body
    );
    let total = r.body["totalResults"]
        .as_u64()
        .unwrap_or_else(|| panic!("{what}: no totalResults in {}", r.body));
    if let Some(res) = r.body.get("Resources") {
        assert!(res.is_array(), "{what}: {}", r.body);
    }
    let n = resources(&r.body).len() as u64;
    assert!(n <= total, "{what}: {n} resources but totalResults {total}");
    // itemsPerPage is the number of resources on this page (RFC 7644 §3.4.2).
    if let Some(per_page) = r.body.get("itemsPerPage") {
        assert_eq!(per_page.as_u64(), Some(n), "{what}: {}", r.body);
    }
}

/// The Resources of a ListResponse (none when absent, which RFC 7644 allows for an empty result).
pub(crate) fn resources(list: &Value) -> Vec<Value> {
    list["Resources"].as_array().cloned().unwrap_or_default()
}

pub(crate) fn ids(list: &Value) -> Vec<String> {
    resources(list)
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

/// GET a list (a query string may follow the endpoint) and check it is a ListResponse.
pub(crate) async fn list(scim: &ScimClient, path: &str) -> Value {
    let r = scim.get(path).await;
    assert_list(&r, path);
    r.body
}

/// The list answering `filter` on `endpoint`, with `extra` query parameters (`&…`) appended.
pub(crate) async fn filter(scim: &ScimClient, endpoint: &str, filter: &str, extra: &str) -> Value {
    list(
        scim,
        &format!("{endpoint}?filter={}{extra}", url_encode(filter)),
    )
    .await
}

pub(crate) async fn total(scim: &ScimClient, endpoint: &str) -> u64 {
    list(scim, endpoint).await["totalResults"].as_u64().unwrap()
}

/// A user as Entra's MS-TUT "Create User" request sends it.
pub(crate) fn entra_user(user_name: &str, email: &str) -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "externalId": uuid::Uuid::new_v4().to_string(),
        "userName": user_name,
        "active": true,
        "emails": [{ "primary": true, "type": "work", "value": email }],
        "meta": { "resourceType": "User" },
        "name": { "formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName" },
        "roles": [],
    })
}

/// POST /Users, expecting 201 with the stored resource.
pub(crate) async fn create_user(scim: &ScimClient, body: &Value) -> Value {
    let r = scim.post("/Users", body).await;
    assert_eq!(r.status, 201, "POST /Users {body}: {}", r.body);
    assert_scim_json(&r, "POST /Users");
    assert!(
        r.body["id"].as_str().is_some_and(|s| !s.is_empty()),
        "{}",
        r.body
    );
    r.body
}

pub(crate) async fn create_users(scim: &ScimClient, prefix: &str, n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let name = format!("{prefix}{i:02}@contoso.com");
        let u = create_user(scim, &entra_user(&name, &name)).await;
        out.push(u["id"].as_str().unwrap().to_string());
    }
    out
}

pub(crate) async fn get_user(scim: &ScimClient, id: &str) -> Value {
    let r = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(r.status, 200, "GET /Users/{id}: {}", r.body);
    assert_scim_json(&r, "GET /Users/{id}");
    assert_eq!(r.body["id"], id);
    r.body
}

pub(crate) async fn get_group(scim: &ScimClient, id: &str) -> Value {
    let r = scim.get(&format!("/Groups/{id}")).await;
    assert_eq!(r.status, 200, "GET /Groups/{id}: {}", r.body);
    assert_scim_json(&r, "GET /Groups/{id}");
    r.body
}

/// PATCH `path` with `ops`; users answer 200 with the resource or 204, groups 204 or 200.
pub(crate) async fn patch_ok(scim: &ScimClient, path: &str, ops: Value) -> ScimResponse {
    let body = patch_op(ops);
    let r = scim.patch(path, &body).await;
    assert!(
        r.status == 200 || r.status == 204,
        "PATCH {path} {body}: {} {}",
        r.status,
        r.body
    );
    if r.status == 200 {
        assert_scim_json(&r, path);
        assert!(r.body["id"].is_string(), "PATCH {path}: {}", r.body);
    }
    r
}

/// The element of the multi-valued `attr` whose `type` is `ty`.
pub(crate) fn typed<'a>(resource: &'a Value, attr: &str, ty: &str) -> Option<&'a Value> {
    resource[attr]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["type"] == ty))
}

pub(crate) fn values(resource: &Value, attr: &str) -> Vec<String> {
    resource[attr]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["value"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Absent, null, `[]` or `{}`: how a cleared or never-set attribute may come back.
pub(crate) fn unset(v: &Value) -> bool {
    v.is_null()
        || v.as_array().is_some_and(|a| a.is_empty())
        || v.as_object().is_some_and(|o| o.is_empty())
}

pub(crate) async fn admin_user(app: &TestApp, aid: &str, id: &str) -> (StatusCode, Value) {
    app.get(&app.token, &format!("/api/v1/accounts/{aid}/users/{id}"))
        .await
}

/// The ids the admin API lists for the account, with an optional `property` filter.
pub(crate) async fn admin_list(app: &TestApp, aid: &str, query: &str) -> Vec<String> {
    let (status, page) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{aid}/users?limit=200&{query}"),
        )
        .await;
    assert_eq!(status, 200, "{query}: {page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect()
}

/// How many audit events the account has.
pub(crate) async fn event_count(app: &TestApp, aid: &str) -> usize {
    let (status, page) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{aid}/events?limit=200"),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().len()
}

fn set(v: &[String]) -> BTreeSet<String> {
    v.iter().cloned().collect()
}

// --- keys and Test Connection (§1.1, §1.2) -------------------------------------------------------------------

async fn entra_keys_and_test_connection(app: TestApp) {
    let a = app.create_account("Contoso").await;
    let aid = a["id"].as_str().unwrap().to_string();
    let keys_path = format!("/api/v1/accounts/{aid}/integrations/entra_id_sync/keys");
    let (_, admin_token) = app
        .create_user(&aid, "it.admin@contoso.com", "account_admin")
        .await;
    let (_, user_token) = app.create_user(&aid, "staff@contoso.com", "user").await;

    // No keys before the integration is added.
    let (status, problem) = app.call(&admin_token, Method::POST, &keys_path, None).await;
    assert_eq!(status, 404, "{problem}");
    assert!(problem["detail"].is_string(), "problem JSON: {problem}");
    // The Partner Account holds no integrations, so no SCIM endpoint either.
    let (status, body) = app
        .post(
            &app.token,
            &format!("/api/v1/accounts/{}/integrations", app.partner_id),
            &json!({ "key": "entra_id_sync" }),
        )
        .await;
    assert!(status.is_client_error(), "{status} {body}");
    let (status, body) = app
        .call(
            &app.token,
            Method::POST,
            &format!(
                "/api/v1/accounts/{}/integrations/entra_id_sync/keys",
                app.partner_id
            ),
            None,
        )
        .await;
    assert!(status.is_client_error(), "{status} {body}");

    // The account administrator adds the integration and generates the keys; a plain user may not.
    let (status, body) = app
        .post(
            &admin_token,
            &format!("/api/v1/accounts/{aid}/integrations"),
            &json!({ "key": "entra_id_sync" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app.call(&user_token, Method::POST, &keys_path, None).await;
    assert_eq!(status, 403, "{body}");
    let (status, keys) = app.call(&admin_token, Method::POST, &keys_path, None).await;
    assert_eq!(status, 201, "{keys}");
    let tenant_url = keys["tenant_url"].as_str().unwrap();
    assert_eq!(
        tenant_url,
        format!("{}/scim/v2/{aid}", app.config.public_url())
    );
    let token = keys["secret_token"].as_str().unwrap();
    assert!(token.len() >= 32, "secret token too short: {token:?}");
    let generated_at = keys["generated_at"].as_str().unwrap();
    assert!(
        time::OffsetDateTime::parse(generated_at, &time::format_description::well_known::Rfc3339)
            .is_ok(),
        "generated_at is not RFC 3339: {generated_at}"
    );
    let scim = ScimClient::new(tenant_url, token);

    // Test Connection: a random GUID as the matching attribute — userName, or externalId (older jobs and
    // some 2026 tenants) — must give 200 with an empty ListResponse, never 404; with and without the flag.
    let guid = uuid::Uuid::new_v4().to_string();
    for f in [
        format!("userName eq \"{guid}\""),
        format!("externalId eq \"{guid}\""),
    ] {
        for extra in ["", "&aadOptscim062020"] {
            let body = filter(&scim, "/Users", &f, extra).await;
            assert_eq!(body["totalResults"], 0, "{f}{extra}: {body}");
            assert!(resources(&body).is_empty(), "{body}");
            assert_eq!(body["startIndex"], 1, "{body}");
        }
    }
    // The old doc's unquoted value (Q15).
    let body = filter(&scim, "/Users", "externalId eq jyoung", "").await;
    assert_eq!(body["totalResults"], 0, "{body}");
    // The group check.
    let body = filter(
        &scim,
        "/Groups",
        &format!("displayName eq \"{guid}\""),
        "&excludedAttributes=members",
    )
    .await;
    assert_eq!(body["totalResults"], 0, "{body}");
    assert!(resources(&body).is_empty());
    // "fetch a random user and group": unknown ids are 404 SCIM errors.
    for endpoint in ["/Users", "/Groups"] {
        let r = scim.get(&format!("{endpoint}/{guid}")).await;
        assert_scim_error(&r, 404, None, endpoint);
    }
    // The legacy ADSCIMVersion header is ignored.
    let r = app
        .http
        .get(scim.url(&format!(
            "/Users?filter={}",
            url_encode(&format!("userName eq \"{guid}\""))
        )))
        .bearer_auth(token)
        .header("ADSCIMVersion", "5.0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// `skybridge admin scim generate-keys --account <id>` prints the Tenant URL and a token that works at once,
/// and the token it replaces stops working.
async fn entra_cli_generates_keys(app: TestApp) {
    let a = app.create_account("Cli Keys").await;
    let aid = a["id"].as_str().unwrap().to_string();

    // Without the integration the CLI fails.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_skybridge"))
        .args(["admin", "--url", &app.base, "--token", &app.token])
        .args(["scim", "generate-keys", "--account", &aid])
        .output()
        .await
        .unwrap();
    assert!(
        !out.status.success(),
        "generate-keys without the integration succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );

    let before = app.scim_keys(&aid).await;
    let old = app.scim(&before);
    assert_eq!(old.get("/Users").await.status, 200);

    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_skybridge"))
        .args(["admin", "--url", &app.base, "--token", &app.token])
        .args(["scim", "generate-keys", "--account", &aid])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tenant_url = format!("{}/scim/v2/{aid}", app.config.public_url());
    assert!(stdout.contains(&tenant_url), "no Tenant URL in {stdout}");
    // The token: the last word of the line that names it.
    // The table's row: the Tenant URL, then the token.
    let token = stdout
        .lines()
        .find(|l| l.contains(&tenant_url))
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or_else(|| panic!("no token line in {stdout}"))
        .to_string();
    assert!(token.len() >= 32, "{token:?} in {stdout}");
    assert_ne!(token, before.secret_token);

    let new = ScimClient::new(&tenant_url, &token);
    assert_eq!(new.get("/Users").await.status, 200);
    assert_scim_error(
        &old.get("/Users").await,
        401,
        None,
        "the replaced token is refused at once",
    );
}

// --- users: create and query (§1.4 a, b, c) -----------------------------------------------------------------

async fn entra_create_and_query_users(app: TestApp) {
    let (aid, scim) = app.scim_account("Contoso").await;

    // (b) MS-TUT "Create User".
    let user_name = "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee";
    let external_id = "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef";
    let email = "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com";
    let create_body = json!({
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "externalId": external_id,
        "userName": user_name,
        "active": true,
        "emails": [{ "primary": true, "type": "work", "value": email }],
        "meta": { "resourceType": "User" },
        "name": { "formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName" },
        "roles": [],
    });
    let r = scim.post("/Users", &create_body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_scim_json(&r, "POST /Users");
    let created = r.body;
    let id = created["id"].as_str().unwrap().to_string();
    // RFC 7644 §3.1: the new resource's URI in Location and in meta.location.
    assert_eq!(
        r.headers.get("location").and_then(|v| v.to_str().ok()),
        created["meta"]["location"].as_str(),
        "{created}"
    );
    assert!(
        created["schemas"]
            .as_array()
            .unwrap()
            .contains(&json!(USER_SCHEMA)),
        "{created}"
    );
    assert_eq!(created["userName"], user_name);
    assert_eq!(created["externalId"], external_id);
    assert_eq!(created["active"], true);
    assert_eq!(typed(&created, "emails", "work").unwrap()["value"], email);
    assert_eq!(created["name"]["givenName"], "givenName");
    assert_eq!(created["name"]["familyName"], "familyName");
    assert_eq!(created["meta"]["resourceType"], "User");
    assert!(created["meta"]["created"].is_string(), "{created}");
    assert_eq!(
        created["meta"]["location"],
        format!("{}/Users/{id}", scim.tenant_url)
    );

    // (c) GET returns what was stored, values exactly as sent.
    let got = get_user(&scim, &id).await;
    for k in ["userName", "externalId", "active", "name"] {
        assert_eq!(got[k], created[k], "{k}");
    }
    assert_eq!(typed(&got, "emails", "work").unwrap()["value"], email);
    assert_eq!(typed(&got, "emails", "work").unwrap()["primary"], true);

    // The SCIM user is the platform user, with the same id.
    let (status, platform) = admin_user(&app, &aid, &id).await;
    assert_eq!(status, 200, "{platform}");
    assert_eq!(platform["id"], id.as_str());
    assert!(
        platform["email"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case(email),
        "{platform}"
    );
    assert_eq!(platform["first_name"], "givenName");
    assert_eq!(platform["last_name"], "familyName");
    assert_eq!(platform["source"], "scim");
    assert_eq!(platform["active"], true);

    // The older doc's variant: explicit nulls, a malformed extension URN, client meta (Q11, Q12).
    let jyoung = create_user(
        &scim,
        &json!({
            "schemas": [USER_SCHEMA, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
            "externalId": "jyoung", "userName": "jyoung@testuser.com", "active": true, "addresses": null,
            "displayName": "Joy Young",
            "emails": [{ "type": "work", "value": "jyoung@Contoso.com", "primary": true }],
            "meta": { "resourceType": "User" }, "name": { "familyName": "Young", "givenName": "Joy" },
            "phoneNumbers": null, "preferredLanguage": null, "title": null, "department": null, "manager": null,
        }),
    )
    .await;
    let jid = jyoung["id"].as_str().unwrap().to_string();
    let got = get_user(&scim, &jid).await;
    assert_eq!(got["displayName"], "Joy Young");
    assert_eq!(
        typed(&got, "emails", "work").unwrap()["value"],
        "jyoung@Contoso.com",
        "stored exactly as sent"
    );
    for k in ["addresses", "phoneNumbers", "preferredLanguage", "title"] {
        assert!(unset(&got[k]), "{k} should be absent: {got}");
    }
    assert!(unset(&got[ENTERPRISE]["manager"]), "{got}");
    let (_, platform) = admin_user(&app, &aid, &jid).await;
    assert_eq!(platform["display_name"], "Joy Young");
    assert_eq!(platform["first_name"], "Joy");
    assert_eq!(platform["last_name"], "Young");

    // Q12: a client-sent id and meta are ignored.
    let q12 = create_user(
        &scim,
        &json!({
            "schemas": [USER_SCHEMA], "id": "client-chosen-id", "userName": "q12@contoso.com",
            "emails": [{ "type": "work", "value": "q12@contoso.com", "primary": true }],
            "meta": { "resourceType": "User", "created": "2001-01-01T00:00:00Z", "location": "https://evil.example/x" },
        }),
    )
    .await;
    assert_ne!(q12["id"], "client-chosen-id");
    assert_ne!(q12["meta"]["created"], "2001-01-01T00:00:00Z");
    assert!(
        !q12["meta"]["location"]
            .as_str()
            .unwrap_or_default()
            .contains("evil")
    );

    // The typical enterprise payload, its extension attributes not listed in `schemas` (Q11).
    let ajones = create_user(
        &scim,
        &json!({
            "schemas": [USER_SCHEMA],
            "externalId": "ajones", "userName": "ajones@contoso.com", "active": true, "title": "Engineer",
            "displayName": "Alice Jones",
            "name": { "givenName": "Alice", "familyName": "Jones" },
            "emails": [{ "type": "work", "value": "ajones@contoso.com", "primary": true }],
            "phoneNumbers": [
                { "type": "work", "value": "+16135922122" },
                { "type": "mobile", "value": "+16135550142" },
                { "type": "fax", "value": "+16135550143" },
            ],
            "addresses": [{ "type": "work", "streetAddress": "350 Legget Dr", "postalCode": "K2K 2W7" }],
            ENTERPRISE: { "department": "R&D", "employeeNumber": "E-1001" },
        }),
    )
    .await;
    let aj = ajones["id"].as_str().unwrap().to_string();
    let got = get_user(&scim, &aj).await;
    assert_eq!(got["title"], "Engineer");
    assert_eq!(
        typed(&got, "phoneNumbers", "work").unwrap()["value"],
        "+16135922122"
    );
    assert_eq!(
        typed(&got, "phoneNumbers", "mobile").unwrap()["value"],
        "+16135550142"
    );
    assert_eq!(
        typed(&got, "phoneNumbers", "fax").unwrap()["value"],
        "+16135550143"
    );
    let address = typed(&got, "addresses", "work").unwrap();
    assert_eq!(address["streetAddress"], "350 Legget Dr");
    assert_eq!(address["postalCode"], "K2K 2W7");
    assert_eq!(got[ENTERPRISE]["department"], "R&D");
    assert_eq!(got[ENTERPRISE]["employeeNumber"], "E-1001");
    let (_, platform) = admin_user(&app, &aid, &aj).await;
    assert_eq!(platform["mobile"], "+16135550142");

    // (a) Query by the matching attribute: always a ListResponse with exactly the match.
    for (f, expect) in [
        (format!("userName eq \"{user_name}\""), &id),
        (format!("userName eq \"{}\"", user_name.to_uppercase()), &id),
        (format!("externalId eq \"{external_id}\""), &id),
        (
            format!("emails[type eq \"work\"].value eq \"{email}\""),
            &id,
        ),
        ("externalId eq jyoung".to_string(), &jid),
        ("displayName eq \"Joy Young\"".to_string(), &jid),
        (
            format!("userName eq \"{user_name}\" and externalId eq \"{external_id}\""),
            &id,
        ),
    ] {
        let body = filter(&scim, "/Users", &f, "").await;
        assert_eq!(body["totalResults"], 1, "{f}: {body}");
        assert_eq!(ids(&body), vec![expect.clone()], "{f}");
    }
    let body = filter(
        &scim,
        "/Users",
        &format!("userName eq \"{user_name}\" and externalId eq \"jyoung\""),
        "",
    )
    .await;
    assert_eq!(body["totalResults"], 0, "{body}");
    // `emails.value eq` is mapped or refused — never the unfiltered list.
    let r = scim
        .get(&format!(
            "/Users?filter={}",
            url_encode("emails.value eq \"jyoung@Contoso.com\"")
        ))
        .await;
    if r.status == 200 {
        assert_list(&r, "emails.value");
        assert_eq!(ids(&r.body), vec![jid.clone()], "{}", r.body);
    } else {
        assert_scim_error(&r, 400, Some("invalidFilter"), "emails.value eq");
    }

    // Q16: Entra retrying a create after a timeout never makes a second user: the identical request either
    // gets the user it created (idempotent) or 409 uniqueness; another user with that userName gets 409.
    let r = scim.post("/Users", &create_body).await;
    if r.status.is_success() {
        assert!(r.status == 200 || r.status == 201, "{}", r.body);
        assert_eq!(r.body["id"], id.as_str(), "the retry answers the same user");
    } else {
        assert_scim_error(&r, 409, Some("uniqueness"), "retried create");
    }
    let mut other = create_body.clone();
    other["externalId"] = json!("another-external-id");
    other["emails"] = json!([{ "type": "work", "value": "another@testuser.com", "primary": true }]);
    let r = scim.post("/Users", &other).await;
    assert_scim_error(&r, 409, Some("uniqueness"), "same userName, another user");
    let body = filter(&scim, "/Users", &format!("userName eq \"{user_name}\""), "").await;
    assert_eq!(body["totalResults"], 1);

    // Q18: attribute names are case-insensitive; Q2: "True" as a string in a POST (MS reference suite).
    let casey = create_user(
        &scim,
        &json!({
            "schemas": [USER_SCHEMA],
            "UserName": "Casey.Q18@contoso.com", "Active": "True",
            "Emails": [{ "Type": "work", "Value": "casey@contoso.com", "Primary": "True" }],
            "Name": { "GivenName": "Casey", "FamilyName": "Quinn" },
        }),
    )
    .await;
    let cid = casey["id"].as_str().unwrap().to_string();
    let got = get_user(&scim, &cid).await;
    assert_eq!(got["userName"], "Casey.Q18@contoso.com");
    assert_eq!(got["active"], true);
    assert_eq!(got["name"]["givenName"], "Casey");
    assert_eq!(
        typed(&got, "emails", "work").unwrap()["value"],
        "casey@contoso.com"
    );
    let body = filter(&scim, "/Users", "USERNAME eq \"casey.q18@CONTOSO.com\"", "").await;
    assert_eq!(ids(&body), vec![cid.clone()]);

    // Q13: no `schemas` at all.
    let bare = create_user(
        &scim,
        &json!({
            "userName": "noschemas@contoso.com",
            "emails": [{ "type": "work", "value": "noschemas@contoso.com", "primary": true }],
        }),
    )
    .await;
    get_user(&scim, bare["id"].as_str().unwrap()).await;

    // Six users, all listed; Q14: an unknown query parameter changes nothing.
    let all = list(&scim, "/Users").await;
    assert_eq!(all["totalResults"], 6, "{all}");
    let flagged = list(&scim, "/Users?aadOptscim062020&foo=bar").await;
    assert_eq!(set(&ids(&flagged)), set(&ids(&all)));
}

// --- PATCH, default dialect (§1.4 d) --------------------------------------------------------------------------

async fn entra_patch_default_dialect(app: TestApp) {
    let (aid, scim) = app.scim_account("Contoso").await;
    let u = create_user(
        &scim,
        &entra_user("Test_User_patch@testuser.com", "patch@testuser.com"),
    )
    .await;
    let id = u["id"].as_str().unwrap().to_string();
    let path = format!("/Users/{id}");
    let new_user_name = "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com";

    // The captured MS-TUT / laravel-scim-server#34 request, verbatim.
    let r = patch_ok(
        &scim,
        &path,
        json!([
            { "op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com" },
            { "op": "Replace", "path": "name.familyName", "value": "updatedFamilyName" },
            { "op": "Replace", "path": "userName", "value": new_user_name },
            { "op": "Replace", "path": "externalId", "value": "Eqpj" },
            { "op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "Eqpj" },
            { "op": "Add", "path": "nickName", "value": "Babs" },
            { "op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Retail" },
            { "op": "Replace", "path": "addresses[type eq \"work\"].formatted", "value": "18/2111" },
        ]),
    )
    .await;
    if r.status == 200 {
        assert_eq!(r.body["userName"], new_user_name, "{}", r.body);
    }
    let got = get_user(&scim, &id).await;
    assert_eq!(
        typed(&got, "emails", "work").unwrap()["value"],
        "updatedEmail@microsoft.com"
    );
    assert_eq!(got["name"]["familyName"], "updatedFamilyName");
    assert_eq!(got["name"]["givenName"], "givenName", "untouched");
    assert_eq!(got["userName"], new_user_name);
    assert_eq!(got["externalId"], "Eqpj");
    assert_eq!(got[ENTERPRISE]["employeeNumber"], "Eqpj");
    assert_eq!(got["nickName"], "Babs");
    assert_eq!(got[ENTERPRISE]["department"], "Retail");
    // Q4: Replace on a typed element that does not exist yet creates it.
    assert_eq!(
        typed(&got, "addresses", "work").unwrap()["formatted"],
        "18/2111",
        "{got}"
    );
    let (_, platform) = admin_user(&app, &aid, &id).await;
    assert!(
        platform["email"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case("updatedEmail@microsoft.com"),
        "{platform}"
    );
    assert_eq!(platform["last_name"], "updatedFamilyName");
    assert_eq!(platform["first_name"], "givenName");
    let old = filter(
        &scim,
        "/Users",
        "userName eq \"Test_User_patch@testuser.com\"",
        "",
    )
    .await;
    assert_eq!(old["totalResults"], 0);

    // Disable with the string "False" (Q2); Entra's Add on active (Q3); booleans as strings in any case.
    for (op, value, expect) in [
        ("Replace", json!("False"), false),
        ("Add", json!("True"), true),
        ("Add", json!("False"), false),
        ("Replace", json!("TRUE"), true),
        ("Replace", json!("false"), false),
        ("Replace", json!("True"), true),
    ] {
        patch_ok(
            &scim,
            &path,
            json!([{ "op": op, "path": "active", "value": value }]),
        )
        .await;
        let got = get_user(&scim, &id).await;
        assert_eq!(got["active"], expect, "{op} active {value}");
        let (_, platform) = admin_user(&app, &aid, &id).await;
        assert_eq!(platform["active"], expect, "{op} active {value}");
    }

    // Q8: a simple attribute's value wrapped as [{"$ref":null,"value":…}] (the old MS library).
    patch_ok(
        &scim,
        &path,
        json!([{ "op": "Replace", "path": "displayName", "value": [{ "$ref": null, "value": "Wrapped Name" }] }]),
    )
    .await;
    assert_eq!(get_user(&scim, &id).await["displayName"], "Wrapped Name");
    let (_, platform) = admin_user(&app, &aid, &id).await;
    assert_eq!(platform["display_name"], "Wrapped Name");

    // Q9: the manager as an array under the bare `manager` path, as a bare string, as {value}; removed.
    let m1 = create_user(&scim, &entra_user("mgr1@contoso.com", "mgr1@contoso.com")).await;
    let m2 = create_user(&scim, &entra_user("mgr2@contoso.com", "mgr2@contoso.com")).await;
    let (m1, m2) = (
        m1["id"].as_str().unwrap().to_string(),
        m2["id"].as_str().unwrap().to_string(),
    );
    let manager_path = format!("{ENTERPRISE}:manager");
    let manager_of = |u: &Value| u[ENTERPRISE]["manager"]["value"].clone();
    patch_ok(
        &scim,
        &path,
        json!([{ "op": "Add", "path": "manager", "value": [{ "$ref": format!("{}/Users/{m1}", scim.tenant_url), "value": m1 }] }]),
    )
    .await;
    assert_eq!(manager_of(&get_user(&scim, &id).await), m1.as_str());
    // Q15: Entra's manager check.
    let hit = filter(
        &scim,
        "/Users",
        &format!("id eq \"{id}\" and manager eq \"{m1}\""),
        "",
    )
    .await;
    assert_eq!(ids(&hit), vec![id.clone()]);
    let miss = filter(
        &scim,
        "/Users",
        &format!("id eq \"{id}\" and manager eq \"{m2}\""),
        "",
    )
    .await;
    assert_eq!(miss["totalResults"], 0);
    patch_ok(
        &scim,
        &path,
        json!([{ "op": "add", "path": manager_path, "value": m2 }]),
    )
    .await;
    assert_eq!(manager_of(&get_user(&scim, &id).await), m2.as_str());
    patch_ok(
        &scim,
        &path,
        json!([{ "op": "Replace", "path": manager_path, "value": { "value": m1 } }]),
    )
    .await;
    assert_eq!(manager_of(&get_user(&scim, &id).await), m1.as_str());
    patch_ok(
        &scim,
        &path,
        json!([{ "op": "Remove", "path": manager_path }]),
    )
    .await;
    assert!(unset(&get_user(&scim, &id).await[ENTERPRISE]["manager"]));

    // Q10: roles — posted as objects, PATCHed as a JSON-encoded string, replaced, targeted by primary "True".
    let r = create_user(
        &scim,
        &json!({
            "schemas": [USER_SCHEMA], "userName": "roles@contoso.com",
            "emails": [{ "type": "work", "value": "roles@contoso.com", "primary": true }],
            "roles": [{ "primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin" }],
        }),
    )
    .await;
    let rid = r["id"].as_str().unwrap().to_string();
    let rpath = format!("/Users/{rid}");
    let got = get_user(&scim, &rid).await;
    assert_eq!(values(&got, "roles"), vec!["Admin"]);
    assert_eq!(got["roles"][0]["primary"], true);
    patch_ok(
        &scim,
        &rpath,
        json!([{ "op": "Add", "path": "roles", "value": [{ "value": "{\"id\":\"06b07648-ecfe-589f-9d2f-6325724a46ee\",\"value\":\"25\",\"displayName\":\"Role1234\"}" }] }]),
    )
    .await;
    let roles = values(&get_user(&scim, &rid).await, "roles");
    assert!(roles.contains(&"25".to_string()), "{roles:?}");
    assert!(
        roles.iter().all(|v| !v.starts_with('{')),
        "the JSON string is parsed, not stored: {roles:?}"
    );
    patch_ok(
        &scim,
        &rpath,
        json!([{ "op": "replace", "path": "roles", "value": [
            { "primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Reader" },
            { "primary": false, "type": "WindowsAzureActiveDirectoryRole", "value": "Writer" },
        ] }]),
    )
    .await;
    let roles = values(&get_user(&scim, &rid).await, "roles");
    assert_eq!(set(&roles), set(&["Reader".into(), "Writer".into()]));
    patch_ok(
        &scim,
        &rpath,
        json!([{ "op": "Replace", "path": "roles[primary eq \"True\"].value", "value": "Owner" }]),
    )
    .await;
    let roles = values(&get_user(&scim, &rid).await, "roles");
    assert_eq!(set(&roles), set(&["Owner".into(), "Writer".into()]));

    // Q4/Q5: Replace on a typed phone number upserts that type and leaves the others alone.
    let p = create_user(
        &scim,
        &entra_user("phones@contoso.com", "phones@contoso.com"),
    )
    .await;
    let pid = p["id"].as_str().unwrap().to_string();
    let ppath = format!("/Users/{pid}");
    patch_ok(
        &scim,
        &ppath,
        json!([{ "op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+16135922122" }]),
    )
    .await;
    let got = get_user(&scim, &pid).await;
    assert_eq!(
        typed(&got, "phoneNumbers", "mobile").unwrap()["value"],
        "+16135922122"
    );
    let (_, platform) = admin_user(&app, &aid, &pid).await;
    assert_eq!(platform["mobile"], "+16135922122");
    patch_ok(
        &scim,
        &ppath,
        json!([{ "op": "Replace", "path": "phoneNumbers[type eq \"work\"].value", "value": "+16135550100" }]),
    )
    .await;
    patch_ok(
        &scim,
        &ppath,
        json!([{ "op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+16135550101" }]),
    )
    .await;
    let got = get_user(&scim, &pid).await;
    assert_eq!(got["phoneNumbers"].as_array().unwrap().len(), 2, "{got}");
    assert_eq!(
        typed(&got, "phoneNumbers", "work").unwrap()["value"],
        "+16135550100"
    );
    assert_eq!(
        typed(&got, "phoneNumbers", "mobile").unwrap()["value"],
        "+16135550101"
    );
    let (_, platform) = admin_user(&app, &aid, &pid).await;
    assert_eq!(platform["mobile"], "+16135550101");
    // …and the e-mail upsert leaves the work e-mail's other typed siblings alone too.
    patch_ok(
        &scim,
        &ppath,
        json!([{ "op": "Replace", "path": "emails[type eq \"home\"].value", "value": "phones@home.example" }]),
    )
    .await;
    let got = get_user(&scim, &pid).await;
    assert_eq!(
        typed(&got, "emails", "home").unwrap()["value"],
        "phones@home.example"
    );
    assert_eq!(
        typed(&got, "emails", "work").unwrap()["value"],
        "phones@contoso.com"
    );
}

// --- PATCH, the aadOptscim062020 dialect (§1.4 e) -------------------------------------------------------------

async fn entra_patch_flagged_dialect(app: TestApp) {
    let (aid, scim) = app.scim_account("Contoso").await;
    let u = create_user(
        &scim,
        &entra_user("flagged@testuser.com", "flagged@testuser.com"),
    )
    .await;
    let id = u["id"].as_str().unwrap().to_string();
    let path = format!("/Users/{id}?{FLAG}");

    // MS-KI, verbatim.
    patch_ok(
        &scim,
        &path,
        json!([
            { "op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestMhvaes@test.microsoft.com" },
            { "op": "replace", "value": {
                "displayName": "Bjfe", "name.givenName": "Kkom", "name.familyName": "Unua",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq",
            } },
            { "op": "replace", "path": "active", "value": false },
        ]),
    )
    .await;
    let got = get_user(&scim, &id).await;
    assert_eq!(
        typed(&got, "emails", "work").unwrap()["value"],
        "TestMhvaes@test.microsoft.com"
    );
    assert_eq!(got["displayName"], "Bjfe");
    assert_eq!(got["name"]["givenName"], "Kkom");
    assert_eq!(got["name"]["familyName"], "Unua");
    assert_eq!(got[ENTERPRISE]["employeeNumber"], "Aklq");
    assert_eq!(got["active"], false);
    let (_, platform) = admin_user(&app, &aid, &id).await;
    assert_eq!(platform["first_name"], "Kkom");
    assert_eq!(platform["last_name"], "Unua");
    assert_eq!(platform["display_name"], "Bjfe");
    assert_eq!(platform["active"], false);
    assert!(
        platform["email"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case("TestMhvaes@test.microsoft.com")
    );

    // The SCIM validator's path-less forms (Q7): add with dotted keys, replace of userName and active.
    patch_ok(
        &scim,
        &path,
        json!([{ "op": "add", "value": { "name.givenName": "Ada", "name.formatted": "Ada Unua" } }]),
    )
    .await;
    let got = get_user(&scim, &id).await;
    assert_eq!(got["name"]["givenName"], "Ada");
    assert_eq!(got["name"]["formatted"], "Ada Unua");
    assert_eq!(got["name"]["familyName"], "Unua", "untouched");
    patch_ok(
        &scim,
        &path,
        json!([{ "op": "replace", "value": { "userName": "renamed@contoso.com", "active": true } }]),
    )
    .await;
    let got = get_user(&scim, &id).await;
    assert_eq!(got["userName"], "renamed@contoso.com");
    assert_eq!(got["active"], true);
    // URN-qualified keys, extension and core.
    patch_ok(
        &scim,
        &path,
        json!([{ "op": "replace", "value": {
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Sales",
            "urn:ietf:params:scim:schemas:core:2.0:User:title": "Lead",
        } }]),
    )
    .await;
    let got = get_user(&scim, &id).await;
    assert_eq!(got[ENTERPRISE]["department"], "Sales");
    assert_eq!(got["title"], "Lead");
    assert_eq!(got[ENTERPRISE]["employeeNumber"], "Aklq", "untouched");
    patch_ok(
        &scim,
        &path,
        json!([{ "op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:nickName", "value": "Ace" }]),
    )
    .await;
    assert_eq!(get_user(&scim, &id).await["nickName"], "Ace");
    // RFC 7644 §3.5.2.3: replacing a complex attribute leaves unspecified sub-attributes unchanged.
    patch_ok(
        &scim,
        &path,
        json!([{ "op": "replace", "value": { "name": { "familyName": "Nested" } } }]),
    )
    .await;
    let got = get_user(&scim, &id).await;
    assert_eq!(got["name"]["familyName"], "Nested");
    assert_eq!(got["name"]["givenName"], "Ada");

    // Q13: a PatchOp without `schemas`; Q18: attribute paths in any case; Q1: ops in any case.
    let r = scim
        .patch(
            &path,
            &json!({ "Operations": [{ "op": "replace", "path": "displayName", "value": "No Schemas" }] }),
        )
        .await;
    assert!(r.status == 200 || r.status == 204, "{}", r.body);
    assert_eq!(get_user(&scim, &id).await["displayName"], "No Schemas");
    patch_ok(
        &scim,
        &path,
        json!([
            { "op": "REPLACE", "path": "Name.FamilyName", "value": "Cased" },
            { "op": "rePlace", "path": "DISPLAYNAME", "value": "Cased Name" },
        ]),
    )
    .await;
    let got = get_user(&scim, &id).await;
    assert_eq!(got["name"]["familyName"], "Cased");
    assert_eq!(got["displayName"], "Cased Name");
    let (_, platform) = admin_user(&app, &aid, &id).await;
    assert_eq!(platform["last_name"], "Cased");
    assert_eq!(platform["first_name"], "Ada");
}

// --- PUT ----------------------------------------------------------------------------------------------------

async fn entra_put_replaces(app: TestApp) {
    let (aid, scim) = app.scim_account("Contoso").await;
    let u = create_user(
        &scim,
        &json!({
            "schemas": [USER_SCHEMA], "userName": "put@contoso.com", "nickName": "Nick", "title": "Eng",
            "name": { "givenName": "Pat", "familyName": "Put" },
            "emails": [{ "type": "work", "value": "put@contoso.com", "primary": true }],
            "phoneNumbers": [{ "type": "mobile", "value": "+16135550170" }],
        }),
    )
    .await;
    let id = u["id"].as_str().unwrap().to_string();
    let r = scim
        .put(
            &format!("/Users/{id}"),
            &json!({
                "schemas": [USER_SCHEMA], "id": id, "userName": "put@contoso.com",
                "name": { "givenName": "Patricia", "familyName": "Putnam" },
                "emails": [{ "type": "work", "value": "patricia@contoso.com", "primary": true }],
                "phoneNumbers": [{ "type": "work", "value": "+16135550171" }],
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_scim_json(&r, "PUT");
    assert_eq!(r.body["name"]["givenName"], "Patricia");
    let got = get_user(&scim, &id).await;
    assert_eq!(got["name"]["givenName"], "Patricia");
    assert_eq!(got["name"]["familyName"], "Putnam");
    assert!(unset(&got["nickName"]), "PUT replaces: {got}");
    assert!(unset(&got["title"]), "PUT replaces: {got}");
    assert_eq!(values(&got, "phoneNumbers"), vec!["+16135550171"]);
    assert_eq!(
        typed(&got, "emails", "work").unwrap()["value"],
        "patricia@contoso.com"
    );
    let (_, platform) = admin_user(&app, &aid, &id).await;
    assert_eq!(platform["first_name"], "Patricia");
    assert!(platform["mobile"].is_null(), "{platform}");

    // Groups too: PUT sets the members.
    let g = scim
        .post(
            "/Groups",
            &json!({ "schemas": [GROUP_SCHEMA], "displayName": "Put Group" }),
        )
        .await;
    assert_eq!(g.status, 201, "{}", g.body);
    let gid = g.body["id"].as_str().unwrap().to_string();
    let r = scim
        .put(
            &format!("/Groups/{gid}"),
            &json!({ "schemas": [GROUP_SCHEMA], "displayName": "Put Group 2", "members": [{ "value": id }] }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let got = get_group(&scim, &gid).await;
    assert_eq!(got["displayName"], "Put Group 2");
    assert_eq!(values(&got, "members"), vec![id.clone()]);
}

// --- lifecycle: disable, enable, delete (§1.4 f, §1.8) -------------------------------------------------------

async fn entra_user_lifecycle(app: TestApp) {
    let (aid, scim) = app.scim_account("Contoso").await;
    let u = create_user(&scim, &entra_user("life@contoso.com", "life@contoso.com")).await;
    let id = u["id"].as_str().unwrap().to_string();
    let path = format!("/Users/{id}");
    let g = scim
        .post(
            "/Groups",
            &json!({ "schemas": [GROUP_SCHEMA], "displayName": "Lifers", "members": [{ "value": id }] }),
        )
        .await;
    assert_eq!(g.status, 201, "{}", g.body);
    let gid = g.body["id"].as_str().unwrap().to_string();

    // The platform user can act (an API token issued on its behalf works) while active.
    let user_token = app.token_for(&aid, &id).await;
    let (status, _) = app.get(&user_token, "/api/v1/me").await;
    assert_eq!(status, 200);
    assert!(admin_list(&app, &aid, "").await.contains(&id));
    assert!(
        !admin_list(&app, &aid, "property=inactive")
            .await
            .contains(&id)
    );

    // Soft delete: active=false, as Entra sends it when a user is unassigned.
    patch_ok(
        &scim,
        &path,
        json!([{ "op": "Replace", "path": "active", "value": "False" }]),
    )
    .await;
    let got = get_user(&scim, &id).await;
    assert_eq!(got["active"], false, "still returned by GET");
    let found = filter(&scim, "/Users", "userName eq \"life@contoso.com\"", "").await;
    assert_eq!(ids(&found), vec![id.clone()], "still returned by filters");
    assert_eq!(resources(&found)[0]["active"], false);
    assert!(
        !admin_list(&app, &aid, "").await.contains(&id),
        "hidden from the default list"
    );
    assert!(
        admin_list(&app, &aid, "property=inactive")
            .await
            .contains(&id)
    );
    let (_, platform) = admin_user(&app, &aid, &id).await;
    assert_eq!(platform["active"], false);
    let (status, _) = app.get(&user_token, "/api/v1/me").await;
    assert_eq!(status, 401, "an inactive user cannot sign in");
    // Group memberships of inactive users are kept (Entra does not restore them).
    assert_eq!(
        values(&get_group(&scim, &gid).await, "members"),
        vec![id.clone()]
    );

    // Re-enabled.
    patch_ok(
        &scim,
        &path,
        json!([{ "op": "Replace", "path": "active", "value": "True" }]),
    )
    .await;
    assert_eq!(get_user(&scim, &id).await["active"], true);
    assert!(admin_list(&app, &aid, "").await.contains(&id));
    assert!(
        !admin_list(&app, &aid, "property=inactive")
            .await
            .contains(&id)
    );
    // Deactivation deleted the user's API tokens for good: the old one stays refused, a new one works.
    let (status, _) = app.get(&user_token, "/api/v1/me").await;
    assert_eq!(status, 401, "tokens do not come back with the user");
    let user_token = app.token_for(&aid, &id).await;
    let (status, _) = app.get(&user_token, "/api/v1/me").await;
    assert_eq!(status, 200);

    // Hard delete.
    let r = scim.delete(&path).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(r.body.is_null(), "204 has no body: {}", r.body);
    assert_scim_error(&scim.get(&path).await, 404, None, "GET after DELETE");
    let (status, _) = admin_user(&app, &aid, &id).await;
    assert_eq!(status, 404);
    let found = filter(&scim, "/Users", "userName eq \"life@contoso.com\"", "").await;
    assert_eq!(found["totalResults"], 0);
    assert_scim_error(&scim.delete(&path).await, 404, None, "DELETE twice");
    let (status, _) = app.get(&user_token, "/api/v1/me").await;
    assert_eq!(status, 401);
    assert!(
        values(&get_group(&scim, &gid).await, "members").is_empty(),
        "a deleted user is no member"
    );
}

// --- groups (§1.4 g) ------------------------------------------------------------------------------------------

async fn entra_groups(app: TestApp) {
    let (_aid, scim) = app.scim_account("Contoso").await;
    let members = create_users(&scim, "member", 50).await;
    let extra = create_users(&scim, "extra", 1).await.remove(0);

    let r = scim
        .post(
            "/Groups",
            &json!({
                "schemas": [GROUP_SCHEMA, ADSCIM_GROUP],
                "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
                "displayName": "displayName",
                "meta": { "resourceType": "Group" },
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_scim_json(&r, "POST /Groups");
    let gid = r.body["id"].as_str().unwrap().to_string();
    assert!(
        r.body["schemas"]
            .as_array()
            .unwrap()
            .contains(&json!(GROUP_SCHEMA))
    );
    assert_eq!(r.body["displayName"], "displayName");
    assert_eq!(r.body["externalId"], "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159");
    assert!(unset(&r.body["members"]), "{}", r.body);
    assert_eq!(r.body["meta"]["resourceType"], "Group");
    let path = format!("/Groups/{gid}");

    let r = scim
        .get(&format!("{path}?excludedAttributes=members"))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["displayName"], "displayName");
    assert!(r.body.get("members").is_none(), "{}", r.body);
    let found = filter(
        &scim,
        "/Groups",
        "displayName eq \"displayName\"",
        "&excludedAttributes=members",
    )
    .await;
    assert_eq!(ids(&found), vec![gid.clone()]);
    let found = filter(
        &scim,
        "/Groups",
        "externalId eq \"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159\"",
        "",
    )
    .await;
    assert_eq!(ids(&found), vec![gid.clone()]);

    patch_ok(
        &scim,
        &path,
        json!([{ "op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName" }]),
    )
    .await;
    assert_eq!(
        get_group(&scim, &gid).await["displayName"],
        "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    );

    // Many members in one PATCH, `$ref: null` as Entra sends them.
    let add: Vec<Value> = members
        .iter()
        .map(|m| json!({ "$ref": null, "value": m }))
        .collect();
    patch_ok(
        &scim,
        &path,
        json!([{ "op": "Add", "path": "members", "value": add }]),
    )
    .await;
    let got = values(&get_group(&scim, &gid).await, "members");
    assert_eq!(got.len(), 50, "{got:?}");
    assert_eq!(set(&got), set(&members));
    let r = scim
        .get(&format!("{path}?excludedAttributes=members"))
        .await;
    assert!(r.body.get("members").is_none(), "{}", r.body);

    // Adding existing members again does not duplicate them.
    patch_ok(
        &scim,
        &path,
        json!([{ "op": "Add", "path": "members", "value": [
            { "$ref": null, "value": members[0] },
            { "$ref": null, "value": members[1] },
            { "$ref": null, "value": extra },
        ] }]),
    )
    .await;
    let got = values(&get_group(&scim, &gid).await, "members");
    assert_eq!(got.len(), 51, "{got:?}");
    let mut expected = set(&members);
    expected.insert(extra.clone());
    assert_eq!(set(&got), expected);

    // Q6: Remove with a value array removes exactly those members, not all of them.
    patch_ok(
        &scim,
        &path,
        json!([{ "op": "Remove", "path": "members", "value": [
            { "$ref": null, "value": members[0] },
            { "$ref": null, "value": members[1] },
        ] }]),
    )
    .await;
    let got = values(&get_group(&scim, &gid).await, "members");
    expected.remove(&members[0]);
    expected.remove(&members[1]);
    assert_eq!(got.len(), 49);
    assert_eq!(set(&got), expected);

    // The flagged dialect: a value filter in the path; lowercase add.
    patch_ok(
        &scim,
        &format!("{path}?{FLAG}"),
        json!([{ "op": "remove", "path": format!("members[value eq \"{}\"]", members[2]) }]),
    )
    .await;
    expected.remove(&members[2]);
    let got = values(&get_group(&scim, &gid).await, "members");
    assert_eq!(set(&got), expected);
    assert_eq!(got.len(), 48);
    patch_ok(
        &scim,
        &format!("{path}?{FLAG}"),
        json!([{ "op": "add", "path": "members", "value": [{ "value": members[0] }] }]),
    )
    .await;
    expected.insert(members[0].clone());
    assert_eq!(
        set(&values(&get_group(&scim, &gid).await, "members")),
        expected
    );

    // A member is an existing user; the listing carries the members unless excluded.
    let all = list(&scim, "/Groups").await;
    assert_eq!(all["totalResults"], 1);
    assert_eq!(
        set(&values(&resources(&all)[0], "members")),
        expected,
        "{all}"
    );
    let all = list(&scim, "/Groups?excludedAttributes=members").await;
    assert!(resources(&all)[0].get("members").is_none());

    // (g) DELETE /Groups/{id}: 204, then 404; the users stay.
    let r = scim.delete(&path).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_scim_error(&scim.get(&path).await, 404, None, "deleted group");
    let found = filter(
        &scim,
        "/Groups",
        "externalId eq \"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159\"",
        "",
    )
    .await;
    assert_eq!(found["totalResults"], 0);
    get_user(&scim, &members[3]).await;
    assert_eq!(total(&scim, "/Users").await, 51);
}

// --- paging, attributes, search, unknown parameters ----------------------------------------------------------

async fn entra_paging_and_attributes(app: TestApp) {
    let (_aid, scim) = app.scim_account("Contoso").await;
    let created = create_users(&scim, "page", 25).await;

    let page = |start: u32, count: u32| {
        let scim = scim.clone();
        async move { list(&scim, &format!("/Users?startIndex={start}&count={count}")).await }
    };
    let p1 = page(1, 10).await;
    let p2 = page(11, 10).await;
    let p3 = page(21, 10).await;
    for (p, start, n) in [(&p1, 1, 10), (&p2, 11, 10), (&p3, 21, 5)] {
        assert_eq!(p["totalResults"], 25, "{p}");
        assert_eq!(p["startIndex"], start, "{p}");
        assert_eq!(p["itemsPerPage"], n, "{p}");
        assert_eq!(resources(p).len(), n);
    }
    let mut seen: Vec<String> = [ids(&p1), ids(&p2), ids(&p3)].concat();
    assert_eq!(set(&seen).len(), 25, "pages overlap: {seen:?}");
    seen.sort();
    let mut all = created.clone();
    all.sort();
    assert_eq!(seen, all);
    // Stable: the same page twice is the same ids in the same order; startIndex below 1 means 1.
    assert_eq!(ids(&page(11, 10).await), ids(&p2));
    assert_eq!(
        ids(&list(&scim, "/Users?startIndex=0&count=10").await),
        ids(&p1)
    );
    // Past the end: an empty page, still the total.
    let past = page(26, 10).await;
    assert_eq!(past["totalResults"], 25);
    assert!(resources(&past).is_empty());
    // count=0: the total only (RFC 7644 §3.4.2.4).
    let zero = list(&scim, "/Users?count=0").await;
    assert_eq!(zero["totalResults"], 25);
    assert!(resources(&zero).is_empty(), "{zero}");
    // A huge count is capped, not an error.
    let huge = list(&scim, "/Users?count=100000000").await;
    assert_eq!(huge["totalResults"], 25);
    assert!(huge["itemsPerPage"].as_u64().unwrap_or(0) <= 25, "{huge}");
    // Paging a filter.
    let one = filter(
        &scim,
        "/Users",
        "userName eq \"page03@contoso.com\"",
        "&startIndex=1&count=1",
    )
    .await;
    assert_eq!(ids(&one), vec![created[3].clone()]);

    // attributes= / excludedAttributes=, on GET by id and on lists.
    let id = &created[0];
    let r = scim.get(&format!("/Users/{id}?attributes=userName")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], id.as_str(), "id is always returned");
    assert_eq!(r.body["userName"], "page00@contoso.com");
    for k in ["emails", "name", "active", "externalId"] {
        assert!(r.body.get(k).is_none(), "{k} not asked for: {}", r.body);
    }
    let l = list(&scim, "/Users?attributes=userName&count=5").await;
    for res in resources(&l) {
        assert!(
            res["id"].is_string() && res["userName"].is_string(),
            "{res}"
        );
        assert!(res.get("emails").is_none(), "{res}");
    }
    let r = scim
        .get(&format!("/Users/{id}?excludedAttributes=emails,name"))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.get("emails").is_none() && r.body.get("name").is_none());
    assert_eq!(r.body["userName"], "page00@contoso.com");

    // POST …/.search: on Users, on Groups, and at the root of the Tenant URL.
    let search = json!({
        "schemas": [SEARCH_REQUEST],
        "filter": "userName eq \"page07@contoso.com\"",
        "attributes": ["userName"],
        "startIndex": 1,
        "count": 10,
    });
    for endpoint in ["/Users/.search", "/.search"] {
        let r = scim.post(endpoint, &search).await;
        assert_list(&r, endpoint);
        assert_eq!(ids(&r.body), vec![created[7].clone()], "{endpoint}");
        assert_eq!(resources(&r.body)[0]["userName"], "page07@contoso.com");
        assert!(resources(&r.body)[0].get("emails").is_none());
    }
    let r = scim
        .post(
            "/Groups/.search",
            &json!({ "schemas": [SEARCH_REQUEST], "filter": "displayName eq \"nobody\"" }),
        )
        .await;
    assert_list(&r, "/Groups/.search");
    assert_eq!(r.body["totalResults"], 0);
    let r = scim
        .post(
            "/Users/.search",
            &json!({ "schemas": [SEARCH_REQUEST], "startIndex": 21, "count": 10 }),
        )
        .await;
    assert_list(&r, "paged search");
    assert_eq!(r.body["totalResults"], 25);
    assert_eq!(resources(&r.body).len(), 5);

    // Q14: unknown query parameters are ignored on every route.
    for path in [
        format!("/Users/{id}?aadOptscim062020"),
        format!("/Users/{id}?AzureAdScimPatch062020&foo=bar"),
        "/Users?aadOptscim062020".to_string(),
        "/Groups?aadOptscim062020".to_string(),
        "/ServiceProviderConfig?aadOptscim062020".to_string(),
        "/ResourceTypes?aadOptscim062020".to_string(),
        "/ResourceTypes/User?aadOptscim062020".to_string(),
        "/Schemas?aadOptscim062020".to_string(),
        format!("/Schemas/{USER_SCHEMA}?aadOptscim062020"),
    ] {
        let r = scim.get(&path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert_scim_json(&r, &path);
    }
}

// --- schema discovery (§1.4 h) --------------------------------------------------------------------------------

fn has_null(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.iter().any(has_null),
        Value::Object(o) => o.values().any(has_null),
        _ => false,
    }
}

fn attribute<'a>(schema: &'a Value, name: &str) -> &'a Value {
    schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no attribute {name} in {}", schema["id"]))
}

async fn entra_schema_discovery(app: TestApp) {
    let (_aid, scim) = app.scim_account("Contoso").await;

    let r = scim.get("/ServiceProviderConfig").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_scim_json(&r, "/ServiceProviderConfig");
    let spc = &r.body;
    assert!(spc["schemas"].as_array().unwrap().contains(&json!(
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
    )));
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["filter"]["supported"], true);
    assert!(spc["filter"]["maxResults"].as_u64().unwrap() > 0);
    assert_eq!(spc["bulk"]["supported"], false);
    assert!(
        spc["authenticationSchemes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["type"] == "oauthbearertoken"),
        "{spc}"
    );

    let rts = list(&scim, "/ResourceTypes").await;
    let user_rt = resources(&rts)
        .into_iter()
        .find(|rt| rt["id"] == "User" || rt["name"] == "User")
        .unwrap_or_else(|| panic!("{rts}"));
    assert_eq!(user_rt["endpoint"], "/Users");
    assert_eq!(user_rt["schema"], USER_SCHEMA);
    assert!(
        user_rt["schemaExtensions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["schema"] == ENTERPRISE),
        "{user_rt}"
    );
    assert!(
        resources(&rts)
            .iter()
            .any(|rt| rt["endpoint"] == "/Groups" && rt["schema"] == GROUP_SCHEMA)
    );
    for name in ["User", "Group"] {
        let r = scim.get(&format!("/ResourceTypes/{name}")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["name"], name);
    }

    // Schemas: the resources', the extension, and RFC 7643's meta-schemas; camelCase, no nulls.
    let schemas = list(&scim, "/Schemas").await;
    let published: BTreeSet<String> = ids(&schemas).into_iter().collect();
    for urn in [
        USER_SCHEMA,
        GROUP_SCHEMA,
        ENTERPRISE,
        "urn:ietf:params:scim:schemas:core:2.0:Schema",
        "urn:ietf:params:scim:schemas:core:2.0:ResourceType",
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig",
    ] {
        assert!(published.contains(urn), "{urn} not in {published:?}");
    }
    assert!(!has_null(&schemas), "no null values in /Schemas");
    let r = scim.get(&format!("/Schemas/{USER_SCHEMA}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let user = &r.body;
    assert_eq!(user["id"], USER_SCHEMA);
    let user_name = attribute(user, "userName");
    assert_eq!(user_name["required"], true);
    assert_eq!(
        user_name["caseExact"], false,
        "Q15: userName is case-insensitive"
    );
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["mutability"], "readWrite");
    assert_eq!(attribute(user, "emails")["multiValued"], true);
    assert_eq!(attribute(user, "active")["type"], "boolean");
    assert_eq!(attribute(user, "phoneNumbers")["multiValued"], true);
    let r = scim.get(&format!("/Schemas/{ENTERPRISE}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for name in ["manager", "department", "employeeNumber"] {
        attribute(&r.body, name);
    }
    let r = scim.get(&format!("/Schemas/{GROUP_SCHEMA}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    attribute(&r.body, "members");
    attribute(&r.body, "displayName");
}

// --- uniqueness (§1.9) ------------------------------------------------------------------------------------------

async fn entra_uniqueness(app: TestApp) {
    let (aid, scim) = app.scim_account("Contoso").await;
    let (console, _) = app
        .create_user(&aid, "console.user@contoso.com", "user")
        .await;
    let alex = json!({
        "schemas": [USER_SCHEMA], "userName": "Alex@Contoso.com", "externalId": "alex-ext",
        "name": { "givenName": "Alex", "familyName": "Original" },
        "emails": [{ "type": "work", "value": "alex@contoso.com", "primary": true }],
        "phoneNumbers": [{ "type": "mobile", "value": "+16135550111" }, { "type": "work", "value": "+16135550112" }],
    });
    create_user(&scim, &alex).await;
    let fresh = |n: u32| {
        json!({
            "schemas": [USER_SCHEMA], "userName": format!("fresh{n}@contoso.com"), "externalId": format!("fresh-{n}"),
            "emails": [{ "type": "work", "value": format!("fresh{n}@contoso.com"), "primary": true }],
        })
    };
    let before = total(&scim, "/Users").await;
    let events = event_count(&app, &aid).await;

    let mut conflicts = Vec::new();
    let mut b = fresh(1);
    b["userName"] = json!("alex@CONTOSO.com");
    conflicts.push(("userName, another case", b));
    let mut b = fresh(2);
    b["externalId"] = json!("alex-ext");
    conflicts.push(("externalId", b));
    let mut b = fresh(3);
    b["emails"] = json!([{ "type": "work", "value": "alex@contoso.com", "primary": true }]);
    conflicts.push(("work e-mail", b));
    let mut b = fresh(4);
    b["emails"] = json!([{ "type": "work", "value": "Console.User@contoso.com", "primary": true }]);
    conflicts.push(("work e-mail of a console-created user", b));
    let mut b = fresh(5);
    b["phoneNumbers"] = json!([{ "type": "mobile", "value": "+16135550111" }]);
    conflicts.push(("mobile", b));
    let mut b = fresh(6);
    b["phoneNumbers"] = json!([{ "type": "work", "value": "+16135550112" }]);
    conflicts.push(("work phone", b));
    for (what, body) in &conflicts {
        let r = scim.post("/Users", body).await;
        assert_scim_error(&r, 409, Some("uniqueness"), what);
    }
    assert_eq!(total(&scim, "/Users").await, before, "nothing stored");
    assert_eq!(event_count(&app, &aid).await, events, "nothing audited");

    // Changing an existing user into a conflict is refused too, and leaves it as it was.
    let other = create_user(&scim, &fresh(7)).await;
    let oid = other["id"].as_str().unwrap().to_string();
    let snapshot = get_user(&scim, &oid).await;
    let r = scim
        .patch(
            &format!("/Users/{oid}"),
            &patch_op(
                json!([{ "op": "Replace", "path": "userName", "value": "ALEX@contoso.com" }]),
            ),
        )
        .await;
    assert_scim_error(&r, 409, Some("uniqueness"), "PATCH userName");
    let r = scim
        .patch(
            &format!("/Users/{oid}"),
            &patch_op(json!([{ "op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+16135550111" }])),
        )
        .await;
    assert_scim_error(&r, 409, Some("uniqueness"), "PATCH mobile");
    let mut put = fresh(7);
    put["externalId"] = json!("alex-ext");
    let r = scim.put(&format!("/Users/{oid}"), &put).await;
    assert_scim_error(&r, 409, Some("uniqueness"), "PUT externalId");
    assert_eq!(get_user(&scim, &oid).await, snapshot, "unchanged");
    let (_, c) = admin_user(&app, &aid, console["id"].as_str().unwrap()).await;
    assert_eq!(c["email"], "console.user@contoso.com");

    // Uniqueness is per account: the same user is welcome elsewhere.
    let (_other_aid, elsewhere) = app.scim_account("Fabrikam").await;
    create_user(&elsewhere, &alex).await;
}

/// A retried create is answered with the user it made only while it would change nothing; once the user was
/// changed since, the old body is a 409 and the newer values stay (and keep their uniqueness).
async fn entra_retried_create_never_overwrites(app: TestApp) {
    let (aid, scim) = app.scim_account("Contoso").await;
    let body = json!({
        "schemas": [USER_SCHEMA, ENTERPRISE], "userName": "Robin@Contoso.com", "externalId": "robin-ext",
        "title": "Engineer",
        "name": { "givenName": "Robin", "familyName": "Original" },
        "emails": [{ "type": "work", "value": "robin@contoso.com", "primary": true }],
        "phoneNumbers": [{ "type": "mobile", "value": "+16135550121" }],
    });
    let id = create_user(&scim, &body).await["id"]
        .as_str()
        .unwrap()
        .to_string();

    // The identical retry changes nothing: the same user, nothing written, nothing audited.
    let events = event_count(&app, &aid).await;
    let r = scim.post("/Users", &body).await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    assert_eq!(r.body["id"], id.as_str());
    assert_eq!(
        event_count(&app, &aid).await,
        events,
        "an identical retry writes nothing"
    );
    assert_eq!(total(&scim, "/Users").await, 1);

    patch_ok(
        &scim,
        &format!("/Users/{id}"),
        json!([
            { "op": "Replace", "path": "title", "value": "Manager" },
            { "op": "Replace", "path": "name.familyName", "value": "Newer" },
            { "op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+16135550122" },
        ]),
    )
    .await;
    let patched = get_user(&scim, &id).await;
    let events = event_count(&app, &aid).await;

    // The stale create is refused and the PATCHed values survive, on SCIM and on the platform user.
    let r = scim.post("/Users", &body).await;
    assert_scim_error(&r, 409, Some("uniqueness"), "a create after a PATCH");
    assert_eq!(
        get_user(&scim, &id).await,
        patched,
        "the newer data is kept"
    );
    assert_eq!(patched["title"], "Manager");
    assert_eq!(patched["name"]["familyName"], "Newer");
    let (_, platform) = admin_user(&app, &aid, &id).await;
    assert_eq!(platform["last_name"], "Newer", "{platform}");
    assert_eq!(platform["mobile"], "+16135550122", "{platform}");
    assert_eq!(event_count(&app, &aid).await, events, "nothing audited");

    // The mobile the user holds now still conflicts; the one it gave up is free.
    let other = |n: u32, mobile: &str| {
        json!({
            "schemas": [USER_SCHEMA], "userName": format!("other{n}@contoso.com"), "externalId": format!("other-{n}"),
            "emails": [{ "type": "work", "value": format!("other{n}@contoso.com"), "primary": true }],
            "phoneNumbers": [{ "type": "mobile", "value": mobile }],
        })
    };
    let r = scim.post("/Users", &other(1, "+16135550122")).await;
    assert_scim_error(&r, 409, Some("uniqueness"), "the PATCHed mobile");
    create_user(&scim, &other(2, "+16135550121")).await;
}

// --- the admin API and SCIM-owned fields --------------------------------------------------------------------------

async fn entra_admin_api_refuses_scim_fields(app: TestApp) {
    let (aid, scim) = app.scim_account("Contoso").await;
    let u = create_user(&scim, &entra_user("owned@contoso.com", "owned@contoso.com")).await;
    let id = u["id"].as_str().unwrap().to_string();
    let scim_before = get_user(&scim, &id).await;
    let (_, before) = admin_user(&app, &aid, &id).await;
    for (field, value) in [
        ("first_name", "Changed"),
        ("last_name", "Changed"),
        ("email", "changed@contoso.com"),
        ("mobile", "+16135550177"),
    ] {
        let (status, problem) = app
            .patch(
                &app.token,
                &format!("/api/v1/accounts/{aid}/users/{id}"),
                &json!({ field: value }),
            )
            .await;
        assert!(status.is_client_error(), "{field}: {status} {problem}");
        let detail = problem["detail"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        assert!(
            detail.contains("synced from scim"),
            "{field}: the refusal says why: {problem}"
        );
    }
    let (_, after) = admin_user(&app, &aid, &id).await;
    assert_eq!(after, before);
    assert_eq!(get_user(&scim, &id).await, scim_before);
}

// --- phone-number conflict search ---------------------------------------------------------------------------------

async fn entra_phone_conflicts(app: TestApp) {
    let (aid, scim) = app.scim_account("Contoso").await;
    let search = |phone: &str| {
        format!(
            "/api/v1/accounts/{aid}/users/phone-conflicts?phone={}",
            url_encode(phone)
        )
    };
    let a = create_user(
        &scim,
        &json!({
            "schemas": [USER_SCHEMA], "userName": "pa@contoso.com",
            "emails": [{ "type": "work", "value": "pa@contoso.com" }],
            "phoneNumbers": [{ "type": "mobile", "value": "+16135922122" }],
        }),
    )
    .await;
    let b = create_user(
        &scim,
        &json!({
            "schemas": [USER_SCHEMA], "userName": "pb@contoso.com", "active": false,
            "emails": [{ "type": "work", "value": "pb@contoso.com" }],
            "phoneNumbers": [{ "type": "work", "value": "+16135550123" }],
        }),
    )
    .await;
    let d = create_user(
        &scim,
        &json!({
            "schemas": [USER_SCHEMA], "userName": "pd@contoso.com",
            "emails": [{ "type": "work", "value": "pd@contoso.com" }],
            "phoneNumbers": [{ "type": "other", "value": "+16135550125" }],
        }),
    )
    .await;
    let (status, c) = app
        .post(
            &app.token,
            &format!("/api/v1/accounts/{aid}/users"),
            &json!({ "first_name": "Con", "last_name": "Sole", "email": "pc@contoso.com", "mobile": "+16135550124" }),
        )
        .await;
    assert_eq!(status, 201, "{c}");

    for (phone, who, user_name, state) in [
        ("+16135922122", &a, Some("pa@contoso.com"), "active"),
        ("+16135550123", &b, Some("pb@contoso.com"), "inactive"),
        ("+16135550125", &d, Some("pd@contoso.com"), "active"),
        ("+16135550124", &c, None, "active"),
    ] {
        let (status, body) = app.get(&app.token, &search(phone)).await;
        assert_eq!(status, 200, "{phone}: {body}");
        let items = body["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{phone}: {body}");
        assert_eq!(items[0]["id"], who["id"], "{phone}: {body}");
        assert_eq!(items[0]["status"], state, "{phone}: {body}");
        assert_eq!(items[0]["phone"], phone, "{phone}: {body}");
        assert!(items[0]["name"].is_string(), "{body}");
        if let Some(n) = user_name {
            assert_eq!(items[0]["user_name"], n, "{body}");
        }
    }
    let (status, body) = app.get(&app.token, &search("+16135550199")).await;
    assert_eq!(status, 200);
    assert_eq!(body["items"], json!([]));
    let (status, body) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{aid}/users/phone-conflicts"),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "phone");

    // The same number as one user's mobile and another's work phone: either refused as a conflict, or both
    // are found by the search.
    let r = scim
        .post(
            "/Users",
            &json!({
                "schemas": [USER_SCHEMA], "userName": "pe@contoso.com",
                "emails": [{ "type": "work", "value": "pe@contoso.com" }],
                "phoneNumbers": [{ "type": "work", "value": "+16135922122" }],
            }),
        )
        .await;
    let (_, body) = app.get(&app.token, &search("+16135922122")).await;
    let found: BTreeSet<String> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    if r.status == 201 {
        let e = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(
            found,
            [a["id"].as_str().unwrap().to_string(), e]
                .into_iter()
                .collect()
        );
    } else {
        assert_scim_error(&r, 409, Some("uniqueness"), "mobile reused as work phone");
        assert_eq!(found.len(), 1);
    }
}

// --- audit ------------------------------------------------------------------------------------------------------

async fn entra_audit_events(app: TestApp) {
    let (aid, scim) = app.scim_account("Contoso").await;
    let u = create_user(&scim, &entra_user("audit@contoso.com", "audit@contoso.com")).await;
    let id = u["id"].as_str().unwrap().to_string();
    patch_ok(
        &scim,
        &format!("/Users/{id}"),
        json!([{ "op": "Replace", "path": "displayName", "value": "Audited" }]),
    )
    .await;
    patch_ok(
        &scim,
        &format!("/Users/{id}"),
        json!([{ "op": "Replace", "path": "name.familyName", "value": "Trail" }]),
    )
    .await;
    let g = scim
        .post(
            "/Groups",
            &json!({ "schemas": [GROUP_SCHEMA], "displayName": "Audit Group" }),
        )
        .await;
    assert_eq!(g.status, 201);
    let gid = g.body["id"].as_str().unwrap().to_string();
    patch_ok(
        &scim,
        &format!("/Groups/{gid}"),
        json!([{ "op": "Replace", "path": "displayName", "value": "Audit Group 2" }]),
    )
    .await;
    assert_eq!(scim.delete(&format!("/Groups/{gid}")).await.status, 204);
    // A refused request leaves no trace.
    let r = scim
        .post(
            "/Users",
            &entra_user("AUDIT@contoso.com", "other@contoso.com"),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(scim.delete(&format!("/Users/{id}")).await.status, 204);

    let (status, page) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{aid}/events?actor_id=scim&order=asc&limit=200"),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    let seen: Vec<(String, String, String)> = items
        .iter()
        .map(|e| {
            (
                e["asset"].as_str().unwrap().to_string(),
                e["action"].as_str().unwrap().to_string(),
                e["asset_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let e = |asset: &str, action: &str, on: &str| {
        (asset.to_string(), action.to_string(), on.to_string())
    };
    assert_eq!(
        seen,
        [
            e("User", "Create", &id),
            e("User", "Edit", &id),
            e("User", "Edit", &id),
            e("Group", "Create", &gid),
            e("Group", "Edit", &gid),
            e("Group", "Delete", &gid),
            e("User", "Delete", &id),
        ]
    );
    for item in items {
        assert_eq!(item["actor_name"], "SCIM", "{item}");
    }
    let mentions = |i: usize, words: &[&str]| {
        let changed = items[i]["properties_changed"].as_array().unwrap();
        assert!(!changed.is_empty(), "{}", items[i]);
        assert!(
            changed.iter().any(|c| {
                let c = c.as_str().unwrap().to_lowercase().replace(['_', '.'], "");
                words.iter().any(|w| c.contains(w))
            }),
            "{words:?} not in {}",
            items[i]
        );
    };
    mentions(1, &["displayname"]);
    mentions(2, &["familyname", "lastname"]);
    mentions(4, &["displayname"]);
}

/// scim2-tester (and many directories) send national 10-digit numbers; only the numbers the platform dials
/// (work, mobile) must be E.164. A fax or other number is kept as sent, and two users may share one.
async fn stored_only_phone_numbers_are_kept_as_sent(app: TestApp) {
    let (aid, scim) = app.scim_account("Contoso").await;
    let phones = json!([
        { "type": "fax", "value": "6135550143" },
        { "type": "other", "value": "613-555-0199" },
        { "type": "mobile", "value": "+16135550142" },
    ]);
    let a = create_user(
        &scim,
        &json!({
            "schemas": [USER_SCHEMA], "userName": "fax@contoso.com",
            "emails": [{ "type": "work", "value": "fax@contoso.com" }],
            "phoneNumbers": phones,
        }),
    )
    .await;
    let got = get_user(&scim, a["id"].as_str().unwrap()).await;
    assert_eq!(got["phoneNumbers"], phones);
    let (_, platform) = admin_user(&app, &aid, a["id"].as_str().unwrap()).await;
    assert_eq!(platform["mobile"], "+16135550142");
    // Not unique: a second user with the same fax number.
    create_user(
        &scim,
        &json!({
            "schemas": [USER_SCHEMA], "userName": "fax2@contoso.com",
            "emails": [{ "type": "work", "value": "fax2@contoso.com" }],
            "phoneNumbers": [{ "type": "fax", "value": "6135550143" }],
        }),
    )
    .await;
    // The numbers the platform uses are still held to E.164, on create and on PATCH.
    for kind in ["mobile", "work"] {
        let r = scim
            .post(
                "/Users",
                &json!({
                    "schemas": [USER_SCHEMA], "userName": format!("bad-{kind}@contoso.com"),
                    "emails": [{ "type": "work", "value": format!("bad-{kind}@contoso.com") }],
                    "phoneNumbers": [{ "type": kind, "value": "6135550144" }],
                }),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{kind}: {}", r.body);
        assert_eq!(r.body["scimType"], "invalidValue");
        assert!(
            r.body["detail"].as_str().unwrap().contains(&format!(
                "phoneNumbers[type eq \"{kind}\"].value \"6135550144\" is not an E.164 number"
            )),
            "{}",
            r.body
        );
    }
    let r = scim
        .patch(
            &format!("/Users/{}", a["id"].as_str().unwrap()),
            &patch_op(json!([{ "op": "replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "6135550145" }])),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["scimType"], "invalidValue");
}

backend_tests!(
    stored_only_phone_numbers_are_kept_as_sent,
    entra_keys_and_test_connection,
    entra_cli_generates_keys,
    entra_create_and_query_users,
    entra_patch_default_dialect,
    entra_patch_flagged_dialect,
    entra_put_replaces,
    entra_user_lifecycle,
    entra_groups,
    entra_paging_and_attributes,
    entra_schema_discovery,
    entra_uniqueness,
    entra_retried_create_never_overwrites,
    entra_admin_api_refuses_scim_fields,
    entra_phone_conflicts,
    entra_audit_events,
);
