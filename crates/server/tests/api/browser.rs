//! A minimal browser for the portal and the OIDC flows: a cookie jar, no automatic redirects (tests look at
//! each one), and the sign-in steps a person takes.

use std::collections::BTreeMap;
use std::sync::Mutex;

use base64::Engine;
use serde_json::Value;
use skybridge_testkit::reqwest::{self, StatusCode, redirect};

pub struct Browser {
    http: reqwest::Client,
    pub base: String,
    jar: Mutex<BTreeMap<String, String>>,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn hidden(&self, name: &str) -> String {
        hidden(&self.body, name)
    }

    /// The query parameters of the redirect target.
    pub fn location_params(&self) -> BTreeMap<String, String> {
        let loc = self.location.as_deref().expect("a redirect");
        let query = loc.split_once('?').map(|(_, q)| q).unwrap_or("");
        serde_urlencoded::from_str(query).unwrap()
    }
}

/// The value of a hidden input in a page.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..]
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

/// The claims of a JWT, unverified (the tests check what the server put in).
pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.to_string(),
            jar: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.lock().unwrap().get(name).cloned()
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

    async fn finish(&self, req: reqwest::RequestBuilder) -> Page {
        let cookies: Vec<String> = self
            .jar
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let req = if cookies.is_empty() {
            req
        } else {
            req.header("cookie", cookies.join("; "))
        };
        let resp = req.send().await.unwrap();
        for set in resp.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let (kv, attrs) = set.split_once(';').unwrap_or((set, ""));
            let (k, v) = kv.split_once('=').unwrap();
            let mut jar = self.jar.lock().unwrap();
            if attrs.contains("Max-Age=0") || v.is_empty() {
                jar.remove(k);
            } else {
                jar.insert(k.to_string(), v.to_string());
            }
        }
        Page {
            status: resp.status(),
            location: resp
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string()),
            headers: resp.headers().clone(),
            body: resp.text().await.unwrap(),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        self.finish(self.http.get(self.url(path))).await
    }

    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.finish(self.http.post(self.url(path)).form(fields))
            .await
    }

    /// Signs in from a login page (already loaded as `login`): e-mail, then password. Returns the answer to
    /// the password step.
    pub async fn sign_in_from(&self, login: &Page, email: &str, password: &str) -> Page {
        assert_eq!(login.status, 200, "{}", login.body);
        let csrf = login.hidden("csrf");
        let return_to = login.hidden("return_to");
        let step = self
            .post(
                "/auth/login",
                &[
                    ("csrf", &csrf),
                    ("return_to", &return_to),
                    ("step", "identify"),
                    ("email", email),
                ],
            )
            .await;
        assert_eq!(step.status, 200, "{}", step.body);
        self.post(
            "/auth/login",
            &[
                ("csrf", &csrf),
                ("return_to", &return_to),
                ("step", "password"),
                ("email", email),
                ("account", ""),
                ("password", password),
            ],
        )
        .await
    }

    /// Signs in at the portal and lands on the account page.
    pub async fn sign_in(&self, email: &str, password: &str) -> Page {
        let login = self.get("/auth/login?return_to=/auth/account").await;
        self.sign_in_from(&login, email, password).await
    }
}
