//! The OpenID Connect provider through its real endpoints: discovery and keys, the authorization code flow
//! with PKCE through the sign-in pages, refresh rotation and reuse detection, client credentials,
//! introspection, revocation, userinfo, logout, delegated authentication, and the errors of each.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;
use skybridge_identity::pkce;
use skybridge_server::clock::{Clock, ManualClock};
use skybridge_testkit::reqwest::{Method, StatusCode};
use skybridge_testkit::{TestApp, backend_tests, clock_tests, json};

use crate::browser::{Browser, claims};

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const AFTER_LOGOUT: &str = "http://127.0.0.1:9/signed-out";
const VERIFIER: &str = "a-sufficiently-long-code-verifier-with-43-or-more-chars";
const PASSWORD: &str = "correct horse battery";

struct World {
    account: String,
    user: String,
    email: String,
}

/// An account with a user who has a password.
async fn world(app: &TestApp, email: &str) -> World {
    let a = app.create_account("OIDC Co").await;
    let account = a["id"].as_str().unwrap().to_string();
    let (user, _) = app.create_user(&account, email, "account_admin").await;
    let user = user["id"].as_str().unwrap().to_string();
    let (status, body) = app
        .call(
            &app.token,
            Method::PUT,
            &format!("/api/v1/accounts/{account}/users/{user}/password"),
            Some(&json!({ "password": PASSWORD })),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    World {
        account,
        user,
        email: email.to_string(),
    }
}

async fn register(app: &TestApp, account: &str, body: Value) -> Value {
    let (status, client) = app
        .post(
            &app.token,
            &format!("/api/v1/accounts/{account}/oauth-clients"),
            &body,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{client}");
    client
}

async fn public_client(app: &TestApp, account: &str) -> String {
    register(
        app,
        account,
        json!({ "name": "SPA", "type": "public", "redirect_uris": [REDIRECT],
                "post_logout_redirect_uris": [AFTER_LOGOUT] }),
    )
    .await["client_id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn authorize_path(client_id: &str, extra: &[(&str, &str)]) -> String {
    let challenge = pkce::challenge_of(VERIFIER);
    let mut q: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid email profile"),
        ("state", "st-123"),
        ("nonce", "n-456"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        q.retain(|(qk, _)| qk != k);
        if !v.is_empty() {
            q.push((k, v));
        }
    }
    format!(
        "/oauth2/authorize?{}",
        serde_urlencoded::to_string(&q).unwrap()
    )
}

/// Runs the browser part of the code flow: authorize, sign in if needed, and return the code.
async fn code_for(app: &TestApp, b: &Browser, client_id: &str, email: &str) -> String {
    let r = b.get(&authorize_path(client_id, &[])).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let mut loc = r.location.clone().unwrap();
    if loc.starts_with("/auth/login") {
        let login = b.get(&loc).await;
        let signed = b.sign_in_from(&login, email, PASSWORD).await;
        assert_eq!(signed.status, 303, "{}", signed.body);
        let back = signed.location.clone().unwrap();
        assert!(back.starts_with("/oauth2/authorize?"), "{back}");
        let r = b.get(&back).await;
        assert_eq!(r.status, 303, "{}", r.body);
        loc = r.location.unwrap();
    }
    assert!(loc.starts_with(REDIRECT), "{loc}");
    let params: BTreeMap<String, String> =
        serde_urlencoded::from_str(loc.split_once('?').unwrap().1).unwrap();
    assert_eq!(params["state"], "st-123");
    assert_eq!(params["iss"], app.base);
    params["code"].clone()
}

async fn token(
    app: &TestApp,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let mut req = app.http.post(app.url("/oauth2/token")).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body: Value = resp.json().await.unwrap();
    (status, body, headers)
}

use skybridge_testkit::reqwest;

async fn exchange_code(app: &TestApp, client_id: &str, code: &str) -> (StatusCode, Value) {
    let (s, b, h) = token(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", client_id),
            ("code_verifier", VERIFIER),
        ],
        None,
    )
    .await;
    if s.is_success() {
        assert_eq!(h["cache-control"], "no-store");
    }
    (s, b)
}

async fn userinfo(app: &TestApp, access: &str) -> (StatusCode, Value) {
    let resp = app
        .http
        .get(app.url("/oauth2/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn discovery_and_keys(app: TestApp) {
    let (status, doc) = app.get("", "/.well-known/openid-configuration").await;
    assert_eq!(status, 200);
    assert_eq!(doc["issuer"], app.base);
    assert_eq!(doc["token_endpoint"], format!("{}/oauth2/token", app.base));
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert!(
        doc["id_token_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("RS256"))
    );
    let (status, jwks) = app.get("", "/oauth2/jwks").await;
    assert_eq!(status, 200);
    let keys = jwks["keys"].as_array().unwrap();
    let kinds: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    assert!(
        kinds.contains(&"ES256") && kinds.contains(&"RS256"),
        "{jwks}"
    );
    assert!(
        !jwks.to_string().contains("\"d\""),
        "no private key material"
    );
    // The private halves are sealed at rest, not stored as PEM.
    let (_, again) = app.get("", "/oauth2/jwks").await;
    assert_eq!(again, jwks, "keys are stable between requests");
}

async fn code_flow_refresh_and_reuse(app: TestApp) {
    let w = world(&app, "ann@oidc.example").await;
    let client_id = public_client(&app, &w.account).await;
    let b = Browser::new(&app.base);
    let code = code_for(&app, &b, &client_id, &w.email).await;
    let (status, tokens) = exchange_code(&app, &client_id, &code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["iss"], app.base);
    assert_eq!(id["aud"], client_id);
    assert_eq!(id["sub"], w.user);
    assert_eq!(id["nonce"], "n-456");
    assert_eq!(id["email"], w.email);
    assert_eq!(id["account_id"], w.account);
    assert_eq!(id["role"], "account_admin");
    assert_eq!(id["amr"], json!(["pwd"]));
    let access = tokens["access_token"].as_str().unwrap().to_string();

    // The sign-in is in the account's history.
    let (_, signins) = app
        .get(
            &app.token,
            &format!(
                "/api/v1/accounts/{}/events?action=Sign%20In&type=Security",
                w.account
            ),
        )
        .await;
    let items = signins["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{signins}");
    assert_eq!(items[0]["actor_id"], w.user);
    assert_eq!(items[0]["core_details"]["method"], "pwd");
    // The console and API accept the provider's access tokens.
    let (status, me) = app.get(&access, "/api/v1/me").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user_id"], w.user);
    let (status, info) = userinfo(&app, &access).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["sub"], w.user);
    assert_eq!(info["email"], w.email);

    // Refresh rotates.
    let r1 = tokens["refresh_token"].as_str().unwrap().to_string();
    let (status, refreshed, _) = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &r1),
            ("client_id", &client_id),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    let r2 = refreshed["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2);
    // Narrowing the scope is allowed, widening is not.
    let (status, err, _) = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &r2),
            ("client_id", &client_id),
            ("scope", "openid offline_access"),
        ],
        None,
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    // Reusing the rotated token revokes the whole family: r2 and the access tokens stop working.
    let (status, err, _) = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &r1),
            ("client_id", &client_id),
        ],
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(err["error"], "invalid_grant");
    let (status, err, _) = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &r2),
            ("client_id", &client_id),
        ],
        None,
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{err}"
    );
    let (status, _) = userinfo(&app, refreshed["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 401);
    let (status, _) = app.get(&access, "/api/v1/me").await;
    assert_eq!(status, 401);
    // The reuse is in the account's event history.
    let (_, events) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{}/events?action=Refused", w.account),
        )
        .await;
    assert!(
        events.to_string().contains("refresh token reused"),
        "{events}"
    );

    // The browser session still stands: a new authorization needs no password, and a replayed code
    // revokes what it bought.
    let code = code_for(&app, &b, &client_id, &w.email).await;
    let (status, fresh) = exchange_code(&app, &client_id, &code).await;
    assert_eq!(status, 200, "{fresh}");
    let (status, err) = exchange_code(&app, &client_id, &code).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, _) = userinfo(&app, fresh["access_token"].as_str().unwrap()).await;
    assert_eq!(
        status, 401,
        "a replayed code revokes the tokens it was exchanged for"
    );
}

async fn authorize_errors(app: TestApp) {
    let w = world(&app, "bo@oidc.example").await;
    let client_id = public_client(&app, &w.account).await;
    let b = Browser::new(&app.base);
    // Unknown client and unregistered redirect URI: a page, never a redirect.
    let r = b.get(&authorize_path("sbc_nope", &[])).await;
    assert_eq!(r.status, 400);
    assert!(
        r.location.is_none() && r.body.contains("unknown client_id"),
        "{}",
        r.body
    );
    let r = b
        .get(&authorize_path(
            &client_id,
            &[("redirect_uri", "http://127.0.0.1:9/callback/evil")],
        ))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.location.is_none() && r.body.contains("not registered"));
    // Later errors go back to the client with state and iss.
    for (extra, error) in [
        (
            vec![("code_challenge", ""), ("code_challenge_method", "")],
            "invalid_request",
        ),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("code_challenge", "short")], "invalid_request"),
        (vec![("scope", "openid admin")], "invalid_scope"),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (vec![("prompt", "none")], "login_required"),
        (vec![("max_age", "soon")], "invalid_request"),
        (vec![("request", "eyJ")], "request_not_supported"),
    ] {
        let r = b.get(&authorize_path(&client_id, &extra)).await;
        assert_eq!(r.status, 303, "{extra:?}: {}", r.body);
        let p = r.location_params();
        assert_eq!(p.get("error").map(String::as_str), Some(error), "{extra:?}");
        assert_eq!(p["state"], "st-123");
        assert!(r.location.unwrap().starts_with(REDIRECT));
    }
    // A user of another account cannot sign in to an account's client.
    let other = world(&app, "cy@other.example").await;
    let r = b.get(&authorize_path(&client_id, &[])).await;
    let login = b.get(r.location.as_deref().unwrap()).await;
    let signed = b.sign_in_from(&login, &other.email, PASSWORD).await;
    let r = b.get(signed.location.as_deref().unwrap()).await;
    assert_eq!(r.location_params()["error"], "access_denied");
}

async fn token_errors(app: TestApp) {
    let w = world(&app, "di@oidc.example").await;
    let client_id = public_client(&app, &w.account).await;
    let conf = register(
        &app,
        &w.account,
        json!({ "name": "Server app", "type": "confidential", "redirect_uris": [REDIRECT] }),
    )
    .await;
    let conf_id = conf["client_id"].as_str().unwrap();
    let secret = conf["client_secret"].as_str().unwrap();
    let b = Browser::new(&app.base);
    let code = code_for(&app, &b, &client_id, &w.email).await;
    // PKCE mismatch, wrong redirect URI, another client: the code is refused (and stays unused).
    let (s, e, _) = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &client_id),
            (
                "code_verifier",
                "x-wrong-verifier-that-is-long-enough-to-be-well-formed",
            ),
        ],
        None,
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (s, e, _) = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/other"),
            ("client_id", &client_id),
            ("code_verifier", VERIFIER),
        ],
        None,
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (s, e, _) = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
        Some((conf_id, secret)),
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (s, ok) = exchange_code(&app, &client_id, &code).await;
    assert_eq!(s, 200, "the refusals above did not spend the code: {ok}");
    // Client authentication.
    let (s, e, h) = token(
        &app,
        &[("grant_type", "client_credentials")],
        Some((conf_id, "sbcs_wrong")),
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    assert!(h["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    // Credentials in the body: a 400 without a challenge (RFC 6749 §5.2).
    let (s, e, h) = token(
        &app,
        &[("grant_type", "client_credentials"), ("client_id", conf_id)],
        None,
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_client"))
    );
    assert!(h.get("www-authenticate").is_none());
    let (s, e, _) = token(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
        ],
        None,
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client")),
        "a public client has no client credentials"
    );
    let (s, e, _) = token(
        &app,
        &[("grant_type", "password"), ("client_id", &client_id)],
        None,
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
    let (s, e, _) = token(&app, &[("client_id", &client_id)], None).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let (s, e, _) = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "sbr_forged"),
            ("client_id", &client_id),
        ],
        None,
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // A tampered access token is refused everywhere.
    let access = ok["access_token"].as_str().unwrap();
    let mut parts: Vec<String> = access.split('.').map(String::from).collect();
    let mut body = claims(access);
    body["sub"] = json!(app.admin_id);
    use base64::Engine;
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(body.to_string());
    let forged = parts.join(".");
    let (s, _) = app.get(&forged, "/api/v1/me").await;
    assert_eq!(s, 401);
    let (s, _) = userinfo(&app, &forged).await;
    assert_eq!(s, 401);
    // An ID token is not an access token.
    let (s, _) = app
        .get(ok["id_token"].as_str().unwrap(), "/api/v1/me")
        .await;
    assert_eq!(s, 401);
    // An oversized form is refused before anything is parsed.
    let big = "x".repeat(2 * 1024 * 1024);
    let resp = app
        .http
        .post(app.url("/oauth2/token"))
        .form(&[("grant_type", big.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
}

async fn client_credentials_introspection_revocation(app: TestApp) {
    let w = world(&app, "ed@oidc.example").await;
    let svc = register(
        &app,
        &w.account,
        json!({ "name": "Reporting", "type": "confidential", "grant_types": ["client_credentials"] }),
    )
    .await;
    let (id, secret) = (
        svc["client_id"].as_str().unwrap(),
        svc["client_secret"].as_str().unwrap(),
    );
    assert!(secret.starts_with("sbcs_"));
    let (s, t, _) = token(
        &app,
        &[("grant_type", "client_credentials"), ("scope", "email")],
        Some((id, secret)),
    )
    .await;
    assert_eq!(s, 200, "{t}");
    assert!(t.get("refresh_token").is_none() && t.get("id_token").is_none());
    let access = t["access_token"].as_str().unwrap();
    let c = claims(access);
    assert_eq!(
        (c["sub"].as_str(), c["client_id"].as_str()),
        (Some(id), Some(id))
    );
    assert_eq!(c["account_id"], w.account);
    // Client secrets in the form work too.
    let (s, _, _) = token(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ],
        None,
    )
    .await;
    assert_eq!(s, 200);
    // A client token is not a user: the admin API refuses it.
    let (s, _) = app.get(access, "/api/v1/me").await;
    assert_eq!(s, 401);
    let introspect = |token: String, who: (String, String)| {
        let app = &app;
        async move {
            let resp = app
                .http
                .post(app.url("/oauth2/introspect"))
                .basic_auth(&who.0, Some(&who.1))
                .form(&[("token", token)])
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            resp.json::<Value>().await.unwrap()
        }
    };
    let me = (id.to_string(), secret.to_string());
    let info = introspect(access.to_string(), me.clone()).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["client_id"], id);
    // Another account's client learns nothing about it.
    let other = world(&app, "fi@other.example").await;
    let stranger = register(
        &app,
        &other.account,
        json!({ "name": "Other", "type": "confidential", "grant_types": ["client_credentials"] }),
    )
    .await;
    let them = (
        stranger["client_id"].as_str().unwrap().to_string(),
        stranger["client_secret"].as_str().unwrap().to_string(),
    );
    assert_eq!(
        introspect(access.to_string(), them.clone()).await,
        json!({ "active": false })
    );
    // Revocation by a stranger is ignored; by the owner it takes.
    let resp = app
        .http
        .post(app.url("/oauth2/revoke"))
        .basic_auth(&them.0, Some(&them.1))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        introspect(access.to_string(), me.clone()).await["active"],
        true
    );
    let resp = app
        .http
        .post(app.url("/oauth2/revoke"))
        .basic_auth(id, Some(secret))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        introspect(access.to_string(), me.clone()).await,
        json!({ "active": false })
    );
    // Unknown tokens: still 200 (RFC 7009), still inactive.
    let resp = app
        .http
        .post(app.url("/oauth2/revoke"))
        .basic_auth(id, Some(secret))
        .form(&[("token", "garbage")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        introspect("garbage".into(), me.clone()).await,
        json!({ "active": false })
    );
    // Introspection needs a confidential client's credentials.
    let resp = app
        .http
        .post(app.url("/oauth2/introspect"))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // Deleting the client ends it.
    let (s, _) = app
        .delete(
            &app.token,
            &format!("/api/v1/accounts/{}/oauth-clients/{id}", w.account),
        )
        .await;
    assert_eq!(s, 204);
    let (s, e, _) = token(
        &app,
        &[("grant_type", "client_credentials")],
        Some((id, secret)),
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
}

async fn logout_and_session_end(app: TestApp) {
    let w = world(&app, "gus@oidc.example").await;
    let client_id = public_client(&app, &w.account).await;
    let b = Browser::new(&app.base);
    let code = code_for(&app, &b, &client_id, &w.email).await;
    let (_, tokens) = exchange_code(&app, &client_id, &code).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    // An unregistered return address is refused without ending anything.
    let bad = format!(
        "/oauth2/logout?{}",
        serde_urlencoded::to_string([
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", "https://evil.example/")
        ])
        .unwrap()
    );
    let r = b.get(&bad).await;
    assert_eq!(r.status, 400);
    assert_eq!(b.get("/auth/account").await.status, 200, "still signed in");
    // Without a hint, the user is asked (a third-party page cannot sign people out).
    let r = b
        .get(&format!("/oauth2/logout?client_id={client_id}"))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Sign out"));
    assert_eq!(b.get("/auth/account").await.status, 200, "still signed in");
    let good = format!(
        "/oauth2/logout?{}",
        serde_urlencoded::to_string([
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
            ("state", "bye")
        ])
        .unwrap()
    );
    let r = b.get(&good).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.location.as_deref(),
        Some(format!("{AFTER_LOGOUT}?state=bye").as_str())
    );
    let r = b.get("/auth/account").await;
    assert_eq!(r.status, 303, "signed out");
    // The grants of the session end with it.
    let (s, e, _) = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", &client_id),
        ],
        None,
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (s, _) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(s, 401);
    // Deactivating the user ends what a new sign-in would have given.
    let code = code_for(&app, &b, &client_id, &w.email).await;
    let (_, tokens) = exchange_code(&app, &client_id, &code).await;
    let (s, body) = app
        .patch(
            &app.token,
            &format!("/api/v1/accounts/{}/users/{}", w.account, w.user),
            &json!({ "active": false }),
        )
        .await;
    assert!(s.is_success(), "{body}");
    let (s, _) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(s, 401);
    let (s, _, _) = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", &client_id),
        ],
        None,
    )
    .await;
    assert_eq!(s, 400);
}

async fn delegated_authentication(app: TestApp) {
    let w = world(&app, "hal@oidc.example").await;
    let connector = register(
        &app,
        &w.account,
        json!({ "name": "MiVoice connector", "type": "confidential",
                "grant_types": ["urn:ietf:params:oauth:grant-type:token-exchange"] }),
    )
    .await;
    let (id, secret) = (
        connector["client_id"].as_str().unwrap(),
        connector["client_secret"].as_str().unwrap(),
    );
    let exchange = |subject: String, kind: &'static str| {
        let app = &app;
        async move {
            token(
                app,
                &[
                    (
                        "grant_type",
                        "urn:ietf:params:oauth:grant-type:token-exchange",
                    ),
                    ("subject_token", subject.as_str()),
                    ("subject_token_type", kind),
                ],
                Some((id, secret)),
            )
            .await
        }
    };
    const EMAIL: &str = "urn:skybridge:params:oauth:token-type:email";
    let (s, e, _) = exchange(w.email.clone(), EMAIL).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client")),
        "{e}"
    );
    assert!(
        e["error_description"]
            .as_str()
            .unwrap()
            .contains("Delegated Authentication")
    );
    let (_, events) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{}/events?action=Refused", w.account),
        )
        .await;
    assert!(
        events.to_string().contains("Delegated Authentication"),
        "refusal audited: {events}"
    );
    let (s, body) = app
        .patch(
            &app.token,
            &format!("/api/v1/accounts/{}/privileges", w.account),
            &json!({ "delegated_authentication": true }),
        )
        .await;
    assert!(s.is_success(), "{body}");
    let (s, t, _) = exchange(w.email.clone(), EMAIL).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(
        t["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    let c = claims(t["access_token"].as_str().unwrap());
    assert_eq!(c["sub"], w.user);
    assert_eq!(c["act"]["sub"], id);
    let (s, me) = app
        .get(t["access_token"].as_str().unwrap(), "/api/v1/me")
        .await;
    assert_eq!(s, 200);
    assert_eq!(me["user_id"], w.user);
    let (s, _, _) = exchange(
        w.user.clone(),
        "urn:skybridge:params:oauth:token-type:user-id",
    )
    .await;
    assert_eq!(s, 200);
    // Users of other accounts are out of its reach.
    let other = world(&app, "ida@other.example").await;
    let (s, e, _) = exchange(other.email.clone(), EMAIL).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (s, e, _) = exchange(
        other.user.clone(),
        "urn:skybridge:params:oauth:token-type:user-id",
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (s, e, _) = exchange(w.email.clone(), "urn:ietf:params:oauth:token-type:jwt").await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
}

async fn client_registration_api(app: TestApp) {
    let w = world(&app, "jo@oidc.example").await;
    let path = format!("/api/v1/accounts/{}/oauth-clients", w.account);
    for (body, field) in [
        (
            json!({ "name": "", "type": "public", "redirect_uris": [REDIRECT] }),
            "name",
        ),
        (
            json!({ "name": "x", "type": "secretive", "redirect_uris": [REDIRECT] }),
            "type",
        ),
        (
            json!({ "name": "x", "type": "public", "redirect_uris": ["http://app.example/cb"] }),
            "redirect_uris",
        ),
        (
            json!({ "name": "x", "type": "public", "redirect_uris": [REDIRECT], "grant_types": ["client_credentials"] }),
            "grant_types",
        ),
        (json!({ "name": "x", "type": "public" }), "redirect_uris"),
        (
            json!({ "name": "x", "type": "confidential", "redirect_uris": [REDIRECT], "id_token_signed_response_alg": "none" }),
            "id_token_signed_response_alg",
        ),
    ] {
        let (s, e) = app.post(&app.token, &path, &body).await;
        assert_eq!(s, 400, "{body}: {e}");
        assert_eq!(e["field"], field, "{e}");
    }
    let c = register(
        &app,
        &w.account,
        json!({ "name": "Portal", "type": "confidential", "redirect_uris": [REDIRECT] }),
    )
    .await;
    let id = c["client_id"].as_str().unwrap();
    assert!(c["client_secret"].as_str().unwrap().starts_with("sbcs_"));
    let (s, got) = app.get(&app.token, &format!("{path}/{id}")).await;
    assert_eq!(s, 200);
    assert!(
        got.get("client_secret").is_none(),
        "the secret is shown once"
    );
    assert_eq!(
        got["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    let (_, list) = app.get(&app.token, &path).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    // Partner-wide clients: the partner administrator only.
    let (s, pw) = app
        .post(
            &app.token,
            "/api/v1/oauth-clients",
            &json!({ "name": "Chat", "type": "public", "redirect_uris": [REDIRECT] }),
        )
        .await;
    assert_eq!(s, 201, "{pw}");
    assert_eq!(pw["partner_wide"], true);
    let (_, admin_token) = app
        .create_user(&w.account, "kim@oidc.example", "account_admin")
        .await;
    let (s, _) = app.get(&admin_token, "/api/v1/oauth-clients").await;
    assert_eq!(s, 403);
    // A customer account's user signs in to the partner-wide client.
    let b = Browser::new(&app.base);
    let code = code_for(&app, &b, pw["client_id"].as_str().unwrap(), &w.email).await;
    let (s, _) = exchange_code(&app, pw["client_id"].as_str().unwrap(), &code).await;
    assert_eq!(s, 200);
    let (s, _) = app.delete(&app.token, &format!("{path}/{id}")).await;
    assert_eq!(s, 204);
    let (s, _) = app.get(&app.token, &format!("{path}/{id}")).await;
    assert_eq!(s, 404);
    let (_, events) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{}/events?asset=OAuth%20Client", w.account),
        )
        .await;
    assert_eq!(
        events["items"].as_array().map(Vec::len),
        Some(2),
        "create and delete audited: {events}"
    );
}

/// Guessing client secrets is throttled per address like API tokens: 429 with Retry-After, for the wrong
/// secrets only.
async fn client_authentication_is_throttled(app: TestApp) {
    let w = world(&app, "nina@oidc.example").await;
    let svc = register(
        &app,
        &w.account,
        json!({ "name": "Svc", "type": "confidential", "grant_types": ["client_credentials"] }),
    )
    .await;
    let id = svc["client_id"].as_str().unwrap();
    for _ in 0..20 {
        let (s, _, _) = token(
            &app,
            &[("grant_type", "client_credentials")],
            Some((id, "sbcs_guess")),
        )
        .await;
        assert_eq!(s, 401);
    }
    let (s, e, h) = token(
        &app,
        &[("grant_type", "client_credentials")],
        Some((id, "sbcs_guess")),
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("slow_down"))
    );
    let retry: i64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Only failures are throttled: the right secret from the same address (another client behind the same
    // NAT) is served, while wrong ones keep getting 429.
    let secret = svc["client_secret"].as_str().unwrap();
    for _ in 0..3 {
        let (s, body, _) = token(
            &app,
            &[("grant_type", "client_credentials")],
            Some((id, secret)),
        )
        .await;
        assert_eq!(s, 200, "{body}");
        assert!(body["access_token"].is_string(), "{body}");
        let (s, _, _) = token(
            &app,
            &[("grant_type", "client_credentials")],
            Some((id, "sbcs_guess")),
        )
        .await;
        assert_eq!(s, 429);
    }
}

/// A sign-in that returns to an application lets its pages' forms lead on to the application's registered
/// redirect URI (browsers check `form-action` against the redirect that ends the sign-in); an unregistered one
/// named in `return_to` is not let in.
async fn sign_in_form_action_names_the_registered_redirect(app: TestApp) {
    let w = world(&app, "fay@oidc.example").await;
    let client = public_client(&app, &w.account).await;
    let b = Browser::new(&app.base);
    let r = b.get(&authorize_path(&client, &[])).await;
    let login = b.get(r.location.as_deref().unwrap()).await;
    let csp = |page: &crate::browser::Page| {
        page.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string()
    };
    let allowed = "form-action 'self' http://127.0.0.1:9;";
    assert!(csp(&login).contains(allowed), "{}", csp(&login));
    let password_step = b
        .post(
            "/auth/login",
            &[
                ("csrf", &login.hidden("csrf")),
                ("return_to", &login.hidden("return_to")),
                ("step", "identify"),
                ("email", &w.email),
            ],
        )
        .await;
    assert_eq!(password_step.status, 200);
    assert!(
        csp(&password_step).contains(allowed),
        "{}",
        csp(&password_step)
    );
    let forged = format!(
        "/auth/login?{}",
        serde_urlencoded::to_string([(
            "return_to",
            authorize_path(&client, &[("redirect_uri", "https://evil.example/cb")])
        )])
        .unwrap()
    );
    let page = b.get(&forged).await;
    assert_eq!(page.status, 200);
    assert!(csp(&page).contains("form-action 'self';"), "{}", csp(&page));
    assert!(!csp(&page).contains("evil"), "{}", csp(&page));
}

backend_tests!(
    client_authentication_is_throttled,
    sign_in_form_action_names_the_registered_redirect,
    discovery_and_keys,
    code_flow_refresh_and_reuse,
    authorize_errors,
    token_errors,
    client_credentials_introspection_revocation,
    logout_and_session_end,
    delegated_authentication,
    client_registration_api,
);

async fn codes_and_tokens_expire(app: TestApp, clock: Arc<ManualClock>) {
    let w = world(&app, "lee@oidc.example").await;
    let client_id = public_client(&app, &w.account).await;
    let b = Browser::new(&app.base);
    let code = code_for(&app, &b, &client_id, &w.email).await;
    clock.advance(61_000_000);
    let (s, e) = exchange_code(&app, &client_id, &code).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{e}"
    );
    let code = code_for(&app, &b, &client_id, &w.email).await;
    let (s, tokens) = exchange_code(&app, &client_id, &code).await;
    assert_eq!(s, 200);
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&app, access).await.0, 200);
    clock.advance(11 * 60 * 1_000_000);
    assert_eq!(
        userinfo(&app, access).await.0,
        401,
        "access tokens last 10 minutes"
    );
    // The refresh token still works after the access token expired.
    let (s, _, _) = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", &client_id),
        ],
        None,
    )
    .await;
    assert_eq!(s, 200);
    // Housekeeping removes what expired (the codes, the session, then the grants) and nothing twice.
    clock.advance(31 * 86_400 * 1_000_000);
    let removed = skybridge_server::housekeeping::sweep(&app.store, clock.now_micros())
        .await
        .unwrap();
    assert!(removed >= 4, "codes, session, grants: {removed}");
    assert_eq!(
        skybridge_server::housekeeping::sweep(&app.store, clock.now_micros())
            .await
            .unwrap(),
        0
    );
}

async fn signing_keys_rotate(app: TestApp, clock: Arc<ManualClock>) {
    let w = world(&app, "max@oidc.example").await;
    let client_id = public_client(&app, &w.account).await;
    let b = Browser::new(&app.base);
    let (_, before) = app.get("", "/oauth2/jwks").await;
    let kids = |jwks: &Value| -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect()
    };
    let old = kids(&before);
    // Past the signing period (30 days) and the cache: a new pair signs, the old stays published.
    clock.advance(31 * 86_400 * 1_000_000);
    let code = code_for(&app, &b, &client_id, &w.email).await;
    let (s, tokens) = exchange_code(&app, &client_id, &code).await;
    assert_eq!(s, 200, "{tokens}");
    let (_, after) = app.get("", "/oauth2/jwks").await;
    let new = kids(&after);
    assert_eq!(new.len(), 4, "{after}");
    assert!(
        old.iter().all(|k| new.contains(k)),
        "old keys still published"
    );
    let header = |jwt: &str| -> Value {
        use base64::Engine;
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(jwt.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    let kid = header(tokens["id_token"].as_str().unwrap())["kid"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!old.contains(&kid), "signed by the new key");
    // After the old keys' tokens can no longer be valid, they leave the JWKS.
    clock.advance(3 * 86_400 * 1_000_000);
    let code = code_for(&app, &b, &client_id, &w.email).await;
    exchange_code(&app, &client_id, &code).await;
    let (_, later) = app.get("", "/oauth2/jwks").await;
    let _ = clock.now_micros();
    assert!(old.iter().all(|k| !kids(&later).contains(k)), "{later}");
}

clock_tests!(codes_and_tokens_expire, signing_keys_rotate);
