//! NUL and other control characters at the edge: every kind of endpoint refuses them with a 400 in its own
//! protocol's format — problem JSON, SCIM error, OAuth error, an HTML page — and never answers 500 (which
//! PostgreSQL did for a NUL it cannot store) or a truncated 200 (which the event export did).

use skybridge_testkit::reqwest::Response;
use skybridge_testkit::{TestApp, backend_tests, json, url_encode};

use crate::browser::Browser;
use crate::scim_entra::{GROUP_SCHEMA, USER_SCHEMA};

/// The error format a refusal must come in.
#[derive(Debug, Clone, Copy)]
enum Format {
    Problem,
    OAuth,
    Html,
}

/// What a refusal must be; `None` when it is, else what is wrong.
fn misfit(format: Format, status: u16, content_type: &str, text: &str) -> Option<String> {
    let body: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    let ok = status == 400
        && match format {
            Format::Problem => {
                content_type == "application/problem+json"
                    && body["type"] == "urn:skybridge:problem:validation"
                    && body["detail"].as_str().is_some_and(|d| {
                        d.contains("must not contain control characters (found U+0000)")
                    })
            }
            Format::OAuth => {
                content_type.starts_with("application/json") && body["error"] == "invalid_request"
            }
            Format::Html => {
                content_type.starts_with("text/html")
                    && text.contains("control characters (found U+0000)")
            }
        };
    // A page is named by its title; anything else by its start.
    let shown = text
        .lines()
        .find(|l| l.starts_with("<title>"))
        .unwrap_or(text)
        .chars()
        .take(200)
        .collect::<String>();
    (!ok).then(|| format!("{status} {content_type} {shown}"))
}

async fn misfit_response(format: Format, r: Response) -> Option<String> {
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = r
        .text()
        .await
        .unwrap_or_else(|e| format!("<the body was cut short: {e}>"));
    misfit(format, status, &content_type, &text)
}

async fn nul_is_refused_at_every_edge_in_its_protocols_format(app: TestApp) {
    let nul = "a\u{0}b";
    let q = url_encode(nul);
    let (aid, scim) = app.scim_account("Edge Co").await;

    // Signed out: the sign-in steps, forgot-password, the OAuth endpoints.
    let anon = Browser::new(&app.base);
    let login = anon.get("/auth/login?return_to=/console").await;
    assert_eq!(login.status, 200);
    let csrf = login.hidden("csrf");
    let mut failures: Vec<String> = Vec::new();
    for (what, fields) in [
        (
            "login identify",
            vec![
                ("csrf", csrf.as_str()),
                ("return_to", "/console"),
                ("step", "identify"),
                ("email", nul),
            ],
        ),
        (
            "login password",
            vec![
                ("csrf", csrf.as_str()),
                ("return_to", "/console"),
                ("step", "password"),
                ("email", "x@example.com"),
                ("account", ""),
                ("password", nul),
            ],
        ),
    ] {
        let page = anon.post("/auth/login", &fields).await;
        let ct = page
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        if let Some(m) = misfit(Format::Html, page.status.as_u16(), &ct, &page.body) {
            failures.push(format!("{what}: {m}"));
        }
    }
    let cases: Vec<(&str, Format, skybridge_testkit::reqwest::RequestBuilder)> = vec![
        (
            "login page",
            Format::Html,
            app.http.get(app.url(&format!("/auth/login?return_to={q}"))),
        ),
        (
            "forgot",
            Format::Html,
            app.http
                .post(app.url("/auth/forgot"))
                .form(&[("email", nul)]),
        ),
        (
            "authorize",
            Format::OAuth,
            app.http.get(app.url(&format!(
                "/oauth2/authorize?response_type=code&client_id={q}&redirect_uri=https%3A%2F%2Fa.example%2Fcb&scope=openid"
            ))),
        ),
        (
            "token",
            Format::OAuth,
            app.http
                .post(app.url("/oauth2/token"))
                .form(&[("grant_type", "client_credentials"), ("client_id", nul), ("client_secret", "x")]),
        ),
        // Signed in: API searches, filters and bodies.
        (
            "accounts search",
            Format::Problem,
            app.http.get(app.url(&format!("/api/v1/accounts?q={q}"))).bearer_auth(&app.token),
        ),
        (
            "users search",
            Format::Problem,
            app.http
                .get(app.url(&format!("/api/v1/accounts/{aid}/users?q={q}")))
                .bearer_auth(&app.token),
        ),
        (
            "events filter",
            Format::Problem,
            app.http
                .get(app.url(&format!("/api/v1/accounts/{aid}/events?tag={q}")))
                .bearer_auth(&app.token),
        ),
        (
            "events export",
            Format::Problem,
            app.http
                .get(app.url(&format!("/api/v1/accounts/{aid}/events/export.csv?tag={q}")))
                .bearer_auth(&app.token),
        ),
        (
            "user create",
            Format::Problem,
            app.http
                .post(app.url(&format!("/api/v1/accounts/{aid}/users")))
                .bearer_auth(&app.token)
                .json(&json!({ "first_name": nul, "last_name": "L", "email": "n@edge.example", "role": "user" })),
        ),
    ];
    for (what, format, req) in cases {
        if let Some(m) = misfit_response(format, req.send().await.unwrap()).await {
            failures.push(format!("{what}: {m}"));
        }
    }

    // SCIM: each attribute a create keeps, a group name, and a filter.
    let user = |attr: &str| {
        let mut doc = json!({
            "schemas": [USER_SCHEMA], "userName": "nul@edge.example",
            "emails": [{ "type": "work", "value": "nul@edge.example" }],
        });
        doc[attr] = json!(nul);
        doc
    };
    for attr in ["userName", "displayName", "externalId"] {
        let r = scim.post("/Users", &user(attr)).await;
        let ok = r.status == 400
            && r.body["scimType"] == "invalidValue"
            && r.content_type.starts_with("application/scim+json")
            && r.body["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with(&format!("{attr}: ")) && d.contains("U+0000"));
        if !ok {
            failures.push(format!("SCIM {attr}: {} {}", r.status, r.body));
        }
    }
    let r = scim
        .post(
            "/Groups",
            &json!({ "schemas": [GROUP_SCHEMA], "displayName": nul }),
        )
        .await;
    if (r.status.as_u16(), r.body["scimType"].clone()) != (400, json!("invalidValue")) {
        failures.push(format!("SCIM group: {} {}", r.status, r.body));
    }
    let r = scim
        .get(&format!(
            "/Users?filter={}",
            url_encode(&format!("userName eq \"{nul}\""))
        ))
        .await;
    if (r.status.as_u16(), r.body["scimType"].clone()) != (400, json!("invalidValue")) {
        failures.push(format!("SCIM filter: {} {}", r.status, r.body));
    }
    // Nothing was stored.
    let r = scim.get("/Users").await;
    if r.body["totalResults"] != 0 {
        failures.push(format!("SCIM stored: {}", r.body));
    }

    // The console's searches.
    let console = crate::console::partner_console(&app).await;
    for path in [
        format!("/console/accounts?q={q}"),
        format!("/console/a/{aid}/users?q={q}"),
        format!("/console/a/{aid}/events?tag={q}"),
    ] {
        let page = console.get(&path).await;
        if page.status != 400 || !page.body.contains("control characters (found U+0000)") {
            failures.push(format!("console {path}: {}", page.status));
        }
    }
    assert!(
        failures.is_empty(),
        "not refused as they should be:\n{}",
        failures.join("\n")
    );

    // Other control characters too; line breaks only where text may have several lines.
    let (status, body) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts?q={}", url_encode("a\u{1b}b")),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "q");
    let (status, body) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts?q={}", url_encode("a\nb")),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let mut doc = user("userName");
    doc["userName"] = json!("line@edge.example\nsecond line");
    let r = scim.post("/Users", &doc).await;
    assert_eq!(r.status, 400, "a line break in userName: {}", r.body);
    assert_eq!(r.body["scimType"], "invalidValue");
    let r = scim.post("/Users", &user("nickName")).await;
    assert_eq!(r.status, 400);
    let mut doc = user("title");
    doc["title"] = json!("a\u{7f}b");
    let r = scim.post("/Users", &doc).await;
    assert_eq!(r.status, 400, "DEL: {}", r.body);
}

backend_tests!(nul_is_refused_at_every_edge_in_its_protocols_format);
