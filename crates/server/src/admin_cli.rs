//! `skybridge admin …`: operate a running server through its API, for people (tables) and scripts (`--json`).

use clap::{Args, Subcommand};
use serde_json::{Value, json};

#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Base URL of the server.
    #[arg(long, env = "SKYBRIDGE_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// API token (printed on first start, or created with `tokens create`).
    #[arg(long, env = "SKYBRIDGE_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Customer accounts.
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// Users of an account.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Your API tokens.
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// OpenID Connect clients (applications users sign in to).
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// SCIM provisioning (Entra ID Sync).
    #[command(subcommand)]
    Scim(ScimCommand),
}

#[derive(Debug, Subcommand)]
pub enum ScimCommand {
    /// Print the account's SCIM Tenant URL and a new secret token (shown once; the previous token stops
    /// working at once). The account must have the Entra ID Sync integration.
    GenerateKeys {
        /// Account id or number.
        #[arg(long)]
        account: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Clients of an account, or your Partner Account's partner-wide ones without --account.
    List {
        #[arg(long)]
        account: Option<String>,
    },
    /// Register a client; a confidential client's secret is printed once.
    Create {
        /// Bind the client to this account (id or number); without it the client is partner-wide (open to the
        /// users of your Partner Account and all its customer accounts).
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        name: String,
        /// confidential or public.
        #[arg(long = "type", default_value = "confidential")]
        kind: String,
        /// Repeatable.
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// Repeatable.
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// Repeatable; default authorization_code and refresh_token.
        #[arg(long = "grant-type")]
        grant_types: Vec<String>,
        /// RS256 (default) or ES256.
        #[arg(long)]
        id_token_alg: Option<String>,
    },
    Delete {
        client_id: String,
        #[arg(long)]
        account: Option<String>,
    },
}

fn clients_path(account: Option<&str>) -> String {
    match account {
        Some(a) => format!("/api/v1/accounts/{a}/oauth-clients"),
        None => "/api/v1/oauth-clients".to_string(),
    }
}

#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    List {
        /// Search by name or account number.
        #[arg(long)]
        q: Option<String>,
        /// active or deactivated.
        #[arg(long)]
        status: Option<String>,
    },
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        country: String,
        #[arg(long)]
        province: String,
        #[arg(long)]
        address: String,
        #[arg(long)]
        city: String,
        #[arg(long)]
        postal_code: String,
        /// Support contact e-mail (repeatable; at least one contact is required).
        #[arg(long = "contact-email")]
        contact_emails: Vec<String>,
        /// Support contact partner user id (repeatable).
        #[arg(long = "contact-user")]
        contact_users: Vec<String>,
        #[arg(long)]
        language: Option<String>,
        #[arg(long)]
        cloud_location: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    List {
        /// Account id or number.
        #[arg(long)]
        account: String,
        #[arg(long)]
        q: Option<String>,
    },
    Create {
        #[arg(long)]
        account: String,
        #[arg(long)]
        first_name: String,
        #[arg(long)]
        last_name: String,
        #[arg(long)]
        email: String,
        /// user, account_admin, partner, or a custom role id.
        #[arg(long)]
        role: Option<String>,
    },
    /// Set a user's password (read from standard input), e.g. to recover an account in embedded mode.
    SetPassword {
        #[arg(long)]
        account: String,
        /// User id or e-mail address.
        #[arg(long)]
        user: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    List,
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        expires_in_days: Option<i64>,
    },
    Revoke {
        id: String,
    },
}

/// Talks to a running server's API with a token; shared by `admin`, `import` and `export`.
pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// A non-2xx answer as one line: the status and the problem's detail (or the body).
fn failure(status: reqwest::StatusCode, value: &Value) -> anyhow::Error {
    let detail = value
        .get("detail")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
    anyhow::anyhow!("{status}: {detail}")
}

fn decode(text: String) -> Value {
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }
}

impl Client {
    pub(crate) fn new(url: &str, token: String) -> anyhow::Result<Client> {
        Ok(Client {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            base: url.trim_end_matches('/').to_string(),
            token,
        })
    }

    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .query(query);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let value = decode(resp.text().await?);
        if !status.is_success() {
            return Err(failure(status, &value));
        }
        Ok(value)
    }

    /// POSTs `bytes` as they are (a file) and decodes the JSON answer.
    pub(crate) async fn upload(
        &self,
        path: &str,
        query: &[(&str, String)],
        bytes: Vec<u8>,
    ) -> anyhow::Result<Value> {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .query(query)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes)
            .send()
            .await?;
        let status = resp.status();
        let value = decode(resp.text().await?);
        if !status.is_success() {
            return Err(failure(status, &value));
        }
        Ok(value)
    }

    /// GETs a file: its headers and bytes.
    pub(crate) async fn download(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<(reqwest::header::HeaderMap, Vec<u8>)> {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .query(query)
            .send()
            .await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await?.to_vec();
        if !status.is_success() {
            let value = decode(String::from_utf8_lossy(&bytes).into_owned());
            return Err(failure(status, &value));
        }
        Ok((headers, bytes))
    }

    /// Follows `next_cursor` to collect every item of a list.
    async fn all(&self, path: &str, mut query: Vec<(&str, String)>) -> anyhow::Result<Vec<Value>> {
        let mut items = Vec::new();
        loop {
            let page = self.send(reqwest::Method::GET, path, &query, None).await?;
            if let Some(arr) = page.get("items").and_then(Value::as_array) {
                items.extend(arr.iter().cloned());
            }
            match page.get("next_cursor").and_then(Value::as_str) {
                Some(c) => {
                    query.retain(|(k, _)| *k != "cursor");
                    query.push(("cursor", c.to_string()));
                }
                None => return Ok(items),
            }
        }
    }
}

pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.url, args.token)?;
    use reqwest::Method;
    let (value, columns): (Value, &[&str]) = match args.command {
        AdminCommand::Accounts(AccountsCommand::List { q, status }) => {
            let mut query = vec![("limit", "200".to_string())];
            query.extend(q.map(|q| ("q", q)));
            query.extend(status.map(|s| ("status", s)));
            (
                Value::Array(client.all("/api/v1/accounts", query).await?),
                &[
                    "number",
                    "name",
                    "status",
                    "country",
                    "cloud_location",
                    "id",
                ],
            )
        }
        AdminCommand::Accounts(AccountsCommand::Create {
            name,
            country,
            province,
            address,
            city,
            postal_code,
            contact_emails,
            contact_users,
            language,
            cloud_location,
        }) => {
            let contacts: Vec<Value> = contact_users
                .into_iter()
                .map(|u| json!({ "user_id": u }))
                .chain(contact_emails.into_iter().map(|e| json!({ "email": e })))
                .collect();
            let mut body = json!({
                "name": name, "country": country, "province": province, "address": address,
                "city": city, "postal_code": postal_code, "support_contacts": contacts,
            });
            if let Some(l) = language {
                body["default_language"] = json!(l);
            }
            if let Some(c) = cloud_location {
                body["cloud_location"] = json!(c);
            }
            (
                client
                    .send(Method::POST, "/api/v1/accounts", &[], Some(body))
                    .await?,
                &["number", "name", "status", "id"],
            )
        }
        AdminCommand::Users(UsersCommand::List { account, q }) => {
            let mut query = vec![("limit", "200".to_string())];
            query.extend(q.map(|q| ("q", q)));
            let path = format!("/api/v1/accounts/{account}/users");
            (
                Value::Array(client.all(&path, query).await?),
                &["display_name", "email", "role", "registered", "id"],
            )
        }
        AdminCommand::Users(UsersCommand::Create {
            account,
            first_name,
            last_name,
            email,
            role,
        }) => {
            let mut body =
                json!({ "first_name": first_name, "last_name": last_name, "email": email });
            if let Some(r) = role {
                body["role"] = json!(r);
            }
            let path = format!("/api/v1/accounts/{account}/users");
            (
                client.send(Method::POST, &path, &[], Some(body)).await?,
                &["display_name", "email", "role", "id"],
            )
        }
        AdminCommand::Users(UsersCommand::SetPassword { account, user }) => {
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']).to_string();
            let user_id = if user.contains('@') {
                let path = format!("/api/v1/accounts/{account}/users");
                let found = client.all(&path, vec![("q", user.clone())]).await?;
                found
                    .iter()
                    .find(|u| {
                        u.get("email")
                            .and_then(Value::as_str)
                            .is_some_and(|e| e.eq_ignore_ascii_case(&user))
                    })
                    .and_then(|u| u.get("id").and_then(Value::as_str))
                    .map(str::to_string)
                    .ok_or_else(|| anyhow::anyhow!("no user {user} in account {account}"))?
            } else {
                user
            };
            let path = format!("/api/v1/accounts/{account}/users/{user_id}/password");
            client
                .send(
                    Method::PUT,
                    &path,
                    &[],
                    Some(json!({ "password": password })),
                )
                .await?;
            (json!({ "password_set": user_id }), &["password_set"])
        }
        AdminCommand::Tokens(TokensCommand::List) => (
            client
                .send(Method::GET, "/api/v1/me/tokens", &[], None)
                .await?,
            &[
                "id",
                "name",
                "prefix",
                "created_at",
                "last_used_at",
                "expires_at",
            ],
        ),
        AdminCommand::Tokens(TokensCommand::Create {
            name,
            expires_in_days,
        }) => {
            let body = json!({ "name": name, "expires_in_days": expires_in_days });
            (
                client
                    .send(Method::POST, "/api/v1/me/tokens", &[], Some(body))
                    .await?,
                &["id", "name", "token"],
            )
        }
        AdminCommand::Tokens(TokensCommand::Revoke { id }) => {
            client
                .send(
                    Method::DELETE,
                    &format!("/api/v1/me/tokens/{id}"),
                    &[],
                    None,
                )
                .await?;
            (json!({ "revoked": id }), &["revoked"])
        }
        AdminCommand::Clients(ClientsCommand::List { account }) => (
            client
                .send(Method::GET, &clients_path(account.as_deref()), &[], None)
                .await?,
            &["client_id", "name", "type", "grant_types", "created_at"],
        ),
        AdminCommand::Clients(ClientsCommand::Create {
            account,
            name,
            kind,
            redirect_uris,
            post_logout_redirect_uris,
            grant_types,
            id_token_alg,
        }) => {
            let mut body = json!({
                "name": name, "type": kind, "redirect_uris": redirect_uris,
                "post_logout_redirect_uris": post_logout_redirect_uris,
            });
            if !grant_types.is_empty() {
                body["grant_types"] = json!(grant_types);
            }
            if let Some(a) = id_token_alg {
                body["id_token_signed_response_alg"] = json!(a);
            }
            (
                client
                    .send(
                        Method::POST,
                        &clients_path(account.as_deref()),
                        &[],
                        Some(body),
                    )
                    .await?,
                &["client_id", "name", "type", "client_secret"],
            )
        }
        AdminCommand::Scim(ScimCommand::GenerateKeys { account }) => (
            client
                .send(
                    Method::POST,
                    &format!("/api/v1/accounts/{account}/integrations/entra_id_sync/keys"),
                    &[],
                    None,
                )
                .await?,
            &["tenant_url", "secret_token"],
        ),
        AdminCommand::Clients(ClientsCommand::Delete { client_id, account }) => {
            let path = format!("{}/{client_id}", clients_path(account.as_deref()));
            client.send(Method::DELETE, &path, &[], None).await?;
            (json!({ "deleted": client_id }), &["deleted"])
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("{}", table(&value, columns));
    }
    Ok(())
}

/// Renders objects as an aligned text table of the given columns.
pub fn table(value: &Value, columns: &[&str]) -> String {
    let rows: Vec<&Value> = match value {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let cell = |v: &Value, c: &str| match v.get(c) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let mut widths: Vec<usize> = columns.iter().map(|c| c.len()).collect();
    for r in &rows {
        for (i, c) in columns.iter().enumerate() {
            widths[i] = widths[i].max(cell(r, c).chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<String>, out: &mut String| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(columns.iter().map(|c| c.to_uppercase()).collect(), &mut out);
    for r in &rows {
        line(columns.iter().map(|c| cell(r, c)).collect(), &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align() {
        let t = table(
            &json!([{ "a": "x", "b": 1 }, { "a": "longer", "b": null }]),
            &["a", "b"],
        );
        assert_eq!(t, "A       B\nx       1\nlonger\n");
    }
}
