//! Two-step verification: enrolment through the pages, the code step of the sign-in, replay protection,
//! recovery codes, and an administrator's reset.

use std::sync::Arc;

use skybridge_identity::totp;
use skybridge_server::clock::{Clock, ManualClock};
use skybridge_testkit::{TestApp, clock_tests};

use crate::browser::{Browser, Page};

const PASSWORD: &str = "two factors are better";

fn code_at(seed: &[u8], clock: &ManualClock) -> String {
    totp::code_at(seed, (clock.now_micros() / 1_000_000) as u64)
}

/// The text between `<code>` and `</code>` after `after`.
fn code_text<'a>(html: &'a str, after: &str) -> &'a str {
    let rest = &html[html
        .find(after)
        .unwrap_or_else(|| panic!("{after} in {html}"))..];
    let start = rest.find("<code>").unwrap() + 6;
    &rest[start..start + rest[start..].find("</code>").unwrap()]
}

async fn submit_code(b: &Browser, csrf: &str, code: &str) -> Page {
    b.post(
        "/auth/login",
        &[("csrf", csrf), ("step", "otp"), ("code", code)],
    )
    .await
}

async fn enrol_sign_in_and_reset(app: TestApp, clock: Arc<ManualClock>) {
    let a = app.create_account("MFA Co").await;
    let account = a["id"].as_str().unwrap().to_string();
    let (user, _) = app.create_user(&account, "nia@mfa.example", "user").await;
    let uid = user["id"].as_str().unwrap().to_string();
    app.set_password(&account, &uid, PASSWORD).await;

    // Enrol: set up, scan (the key is also shown), confirm with a first code.
    let b = Browser::new(&app.base);
    assert_eq!(b.sign_in("nia@mfa.example", PASSWORD).await.status, 303);
    let status = b.get("/auth/mfa").await;
    assert!(
        status.body.contains("is <strong>off</strong>"),
        "{}",
        status.body
    );
    let csrf = status.hidden("csrf");
    let setup = b.post("/auth/mfa/setup", &[("csrf", &csrf)]).await;
    assert_eq!(setup.status, 200, "{}", setup.body);
    assert!(setup.body.contains("<svg") && setup.body.contains("otpauth://totp/"));
    let seed = totp::seed_from_base32(code_text(&setup.body, "by hand")).unwrap();
    let wrong = b
        .post("/auth/mfa/confirm", &[("csrf", &csrf), ("code", "000000")])
        .await;
    assert_eq!(wrong.status, 400);
    let setup = b.post("/auth/mfa/setup", &[("csrf", &csrf)]).await;
    let seed_again = totp::seed_from_base32(code_text(&setup.body, "by hand")).unwrap();
    assert_ne!(seed, seed_again, "starting again makes a new key");
    let seed = seed_again;
    let done = b
        .post(
            "/auth/mfa/confirm",
            &[("csrf", &csrf), ("code", &code_at(&seed, &clock))],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let recovery: Vec<String> = done
        .body
        .split("<li><code>")
        .skip(1)
        .map(|s| s.split("</code>").next().unwrap().to_string())
        .collect();
    assert_eq!(recovery.len(), 10);
    // A forged CSRF token changes nothing.
    let forged = b.post("/auth/mfa/setup", &[("csrf", "forged")]).await;
    assert_eq!(forged.status, 403);

    // The seed is sealed at rest: the stored value is not the seed.
    let (_, events) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{account}/events?asset=MFA"),
        )
        .await;
    assert!(events.to_string().contains("enabled"), "{events}");
    let (s, state) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{account}/users/{uid}/mfa"),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        (
            state["enabled"].as_bool(),
            state["recovery_codes_left"].as_u64()
        ),
        (Some(true), Some(10))
    );

    // Sign in again: the password is not enough.
    let b = Browser::new(&app.base);
    let step = b.sign_in("nia@mfa.example", PASSWORD).await;
    assert_eq!(step.status, 200, "{}", step.body);
    assert!(step.body.contains("autocomplete=\"one-time-code\""));
    assert!(
        b.cookie("sb_session").is_none(),
        "no session before the second factor"
    );
    let csrf = step.hidden("csrf");
    let wrong = submit_code(&b, &csrf, "123456").await;
    assert_eq!(wrong.status, 401);
    // The code used to enrol was accepted once; it is no good now (same time step).
    let replay = submit_code(&b, &csrf, &code_at(&seed, &clock)).await;
    assert_eq!(replay.status, 401, "a code works once");
    clock.advance(30_000_000);
    let ok = submit_code(&b, &csrf, &code_at(&seed, &clock)).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert_eq!(ok.location.as_deref(), Some("/auth/account"));
    assert!(b.cookie("sb_session").is_some());
    assert!(b.cookie("sb_mfa").is_none(), "the challenge is spent");
    assert_eq!(b.get("/auth/account").await.status, 200);

    // A recovery code works once.
    let b = Browser::new(&app.base);
    let step = b.sign_in("nia@mfa.example", PASSWORD).await;
    let csrf = step.hidden("csrf");
    let ok = submit_code(&b, &csrf, &recovery[0].to_uppercase()).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let b = Browser::new(&app.base);
    let step = b.sign_in("nia@mfa.example", PASSWORD).await;
    let csrf = step.hidden("csrf");
    let again = submit_code(&b, &csrf, &recovery[0]).await;
    assert_eq!(again.status, 401);
    // Enough wrong codes end the challenge; the sign-in starts over.
    let mut last = again;
    for _ in 0..5 {
        last = submit_code(&b, &csrf, "999999").await;
    }
    assert!(last.status == 400 || last.status == 429, "{}", last.status);
    let (_, failures) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{account}/events?action=Sign-in%20Failed"),
        )
        .await;
    assert!(
        failures.to_string().contains("wrong verification code"),
        "{failures}"
    );

    // An administrator resets it: the next sign-in needs only the password.
    clock.advance(3600 * 1_000_000);
    let (s, body) = app
        .delete(
            &app.token,
            &format!("/api/v1/accounts/{account}/users/{uid}/mfa"),
        )
        .await;
    assert_eq!(s, 204, "{body}");
    let (s, _) = app
        .delete(
            &app.token,
            &format!("/api/v1/accounts/{account}/users/{uid}/mfa"),
        )
        .await;
    assert_eq!(s, 404);
    let b = Browser::new(&app.base);
    let signed = b.sign_in("nia@mfa.example", PASSWORD).await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    assert!(signed.headers.get("set-cookie").is_some());

    // The user turns it on again, then off: the current password is required.
    let csrf = b.get("/auth/mfa").await.hidden("csrf");
    let setup = b.post("/auth/mfa/setup", &[("csrf", &csrf)]).await;
    let seed = totp::seed_from_base32(code_text(&setup.body, "by hand")).unwrap();
    let done = b
        .post(
            "/auth/mfa/confirm",
            &[("csrf", &csrf), ("code", &code_at(&seed, &clock))],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let again = b.post("/auth/mfa/setup", &[("csrf", &csrf)]).await;
    assert_eq!(again.status, 409, "no silent re-enrolment while it is on");
    let wrong = b
        .post(
            "/auth/mfa/disable",
            &[("csrf", &csrf), ("current", "not my password")],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert!(
        b.get("/auth/mfa")
            .await
            .body
            .contains("is <strong>on</strong>")
    );
    let off = b
        .post(
            "/auth/mfa/disable",
            &[("csrf", &csrf), ("current", PASSWORD)],
        )
        .await;
    assert_eq!(off.status, 303);
    assert!(
        b.get("/auth/mfa")
            .await
            .body
            .contains("is <strong>off</strong>")
    );
    let (_, events) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{account}/events?asset=MFA"),
        )
        .await;
    assert!(events.to_string().contains("disabled"), "{events}");
}

/// Gives `email` (a new user of `account`) the test password and turns on two-step verification through the
/// pages; returns the TOTP seed.
async fn enrolled(app: &TestApp, clock: &ManualClock, account: &str, email: &str) -> Vec<u8> {
    let (user, _) = app.create_user(account, email, "user").await;
    let uid = user["id"].as_str().unwrap();
    app.set_password(account, uid, PASSWORD).await;
    let b = Browser::new(&app.base);
    assert_eq!(b.sign_in(email, PASSWORD).await.status, 303);
    let csrf = b.get("/auth/mfa").await.hidden("csrf");
    let setup = b.post("/auth/mfa/setup", &[("csrf", &csrf)]).await;
    let seed = totp::seed_from_base32(code_text(&setup.body, "by hand")).unwrap();
    let done = b
        .post(
            "/auth/mfa/confirm",
            &[("csrf", &csrf), ("code", &code_at(&seed, clock))],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    seed
}

/// A sign-in up to the code step: the browser holds the challenge; returns the form's CSRF token.
async fn at_code_step(b: &Browser, email: &str) -> String {
    let step = b.sign_in(email, PASSWORD).await;
    assert_eq!(step.status, 200, "{}", step.body);
    assert!(step.body.contains("autocomplete=\"one-time-code\""));
    step.hidden("csrf")
}

/// Wrong second factors (TOTP and recovery codes alike) are counted per user, apart from the password's
/// counter: the right password, then four wrong codes, over and over from one client, is locked after five,
/// and the lock holds through another right password until it ends.
async fn second_factor_guessing_is_locked(app: TestApp, clock: Arc<ManualClock>) {
    let a = app.create_account("Guess Co").await;
    let account = a["id"].as_str().unwrap().to_string();
    let email = "vic@guess.example";
    let seed = enrolled(&app, &clock, &account, email).await;

    let mut wrong = 0;
    let mut locked = None;
    'attack: for _ in 0..15 {
        let b = Browser::new(&app.base);
        let csrf = at_code_step(&b, email).await;
        for i in 0..4 {
            let guess = if i % 2 == 0 { "123456" } else { "abcde-fghjk" };
            let page = submit_code(&b, &csrf, guess).await;
            match page.status.as_u16() {
                401 => wrong += 1,
                429 => {
                    locked = Some(page);
                    break 'attack;
                }
                other => panic!("{other}: {}", page.body),
            }
        }
    }
    let locked = locked.expect("60 wrong codes without a lock");
    assert_eq!(wrong, 5, "locked after the fifth wrong code");
    let retry: i64 = locked.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=31).contains(&retry), "{retry}");

    // The right password does not clear it: even the right code waits until the lock ends.
    let b = Browser::new(&app.base);
    let csrf = at_code_step(&b, email).await;
    let refused = submit_code(&b, &csrf, &code_at(&seed, &clock)).await;
    assert_eq!(refused.status, 429, "{}", refused.body);

    // Each wrong code is in the account's history.
    let (_, failures) = app
        .get(
            &app.token,
            &format!("/api/v1/accounts/{account}/events?action=Sign-in%20Failed"),
        )
        .await;
    let audited = failures["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e.to_string().contains("wrong verification code"))
        .count();
    assert_eq!(audited, wrong, "{failures}");

    clock.advance(retry * 1_000_000);
    let ok = submit_code(&b, &csrf, &code_at(&seed, &clock)).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
}

/// Wrong codes are also counted per client address: users taking turns from one address are locked out
/// together after twenty, whoever's code is next (an office NAT gets more than one user's five).
async fn second_factor_guessing_is_locked_per_client(app: TestApp, clock: Arc<ManualClock>) {
    let a = app.create_account("Many Co").await;
    let account = a["id"].as_str().unwrap().to_string();
    let mut seeds = Vec::new();
    for i in 0..6 {
        let email = format!("u{i}@many.example");
        seeds.push((
            email.clone(),
            enrolled(&app, &clock, &account, &email).await,
        ));
    }
    for (email, _) in &seeds[..5] {
        let b = Browser::new(&app.base);
        let csrf = at_code_step(&b, email).await;
        for _ in 0..4 {
            assert_eq!(submit_code(&b, &csrf, "654321").await.status, 401);
        }
    }
    let (email, seed) = &seeds[5];
    let b = Browser::new(&app.base);
    let csrf = at_code_step(&b, email).await;
    let refused = submit_code(&b, &csrf, &code_at(seed, &clock)).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
}

clock_tests!(
    enrol_sign_in_and_reset,
    second_factor_guessing_is_locked,
    second_factor_guessing_is_locked_per_client
);
