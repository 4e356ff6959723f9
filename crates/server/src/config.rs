//! Configuration: one typed struct, layered from defaults < TOML file < `SKYBRIDGE_*` environment < CLI flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// The URL people and clients reach this server at (links in mail, OIDC issuer). Defaults to
    /// `http://{listen}`.
    pub public_url: Option<String>,
    /// Where the embedded store and local files live.
    pub data_dir: PathBuf,
    /// `postgres://…` for PostgreSQL; unset means SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// Connection pool size.
    pub max_connections: u32,
    /// E-mail of the first partner administrator, created on first start.
    pub admin_email: String,
    /// Name of the operator's Partner Account, created on first start.
    pub operator_name: String,
    /// The regions a customer account's data can live in; chosen at account creation.
    pub cloud_locations: Vec<String>,
    /// `smtp://host:25`, `smtps://user:password@host:465` or `smtp://host:587?tls=required`; without it mail is
    /// written to `data_dir/outbox/` as .eml files.
    pub smtp_url: Option<String>,
    /// The From address of mail.
    pub mail_from: String,
    /// How long a welcome link works.
    pub welcome_link_days: i64,
    /// How long a password-reset link works.
    pub reset_link_hours: i64,
    /// Target time of one password hash; argon2id parameters are raised from the OWASP floor to reach it.
    pub password_hash_ms: u64,
    /// 32 random bytes, base64: seals signing keys and TOTP seeds at rest and keys the hashes of recovery
    /// codes. Unset, a key is generated on first start into `data_dir/secret.key`; every node of a
    /// scale-out deployment must be given the same key.
    pub secret_key: Option<String>,
    /// Lifetime of OIDC access tokens.
    pub access_token_minutes: i64,
    /// Lifetime of ID tokens.
    pub id_token_minutes: i64,
    /// How long a grant (and its refresh tokens) lasts without the user signing in again.
    pub refresh_token_days: i64,
    /// How long a signing key signs before it is replaced (it stays published until its tokens expire).
    pub signing_key_days: i64,
    /// Requests per second each account's SCIM endpoint accepts sustained (twice that in a burst), per node;
    /// 0 means unlimited. Entra ID's provisioning service needs 25.
    pub scim_requests_per_second: u32,
    pub log_format: LogFormat,
    /// A `tracing` filter such as `info` or `skybridge_server=debug,info`.
    pub log_level: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            data_dir: PathBuf::from("skybridge-data"),
            database_url: None,
            max_connections: 8,
            admin_email: "admin@example.com".to_string(),
            operator_name: "Skybridge Operator".to_string(),
            cloud_locations: vec![
                "North America".into(),
                "Europe".into(),
                "Asia Pacific".into(),
            ],
            smtp_url: None,
            mail_from: "Skybridge <noreply@example.com>".to_string(),
            welcome_link_days: 7,
            reset_link_hours: 2,
            password_hash_ms: 25,
            secret_key: None,
            access_token_minutes: 10,
            id_token_minutes: 60,
            refresh_token_days: 30,
            signing_key_days: 30,
            scim_requests_per_second: 200,
            log_format: LogFormat::Text,
            log_level: "info".to_string(),
        }
    }
}

/// Settings that may come from CLI flags; `None` leaves the lower layers in force.
#[derive(Debug, Clone, Default, Serialize, clap::Args)]
pub struct ConfigFlags {
    /// TOML configuration file.
    #[arg(long, env = "SKYBRIDGE_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// Public URL of this server.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Data directory for the embedded store [default: ./skybridge-data].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL (postgres://…); without it Skybridge uses SQLite in the data directory.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// E-mail of the first partner administrator (first start only).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_email: Option<String>,
    /// Log format.
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
}

impl Config {
    /// Reads the layers. Environment variables are `SKYBRIDGE_` plus the upper-cased key
    /// (`SKYBRIDGE_LISTEN`, `SKYBRIDGE_DATABASE_URL`, `SKYBRIDGE_CLOUD_LOCATIONS='["EU","US"]'`).
    pub fn load(flags: &ConfigFlags) -> Result<Config, Box<figment::Error>> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = &flags.config {
            if !path.exists() {
                return Err(Box::new(figment::Error::from(format!(
                    "config file {} not found",
                    path.display()
                ))));
            }
            fig = fig.merge(Toml::file_exact(path));
        }
        fig = fig
            .merge(Env::prefixed("SKYBRIDGE_").only(&ENV_KEYS))
            .merge(Serialized::defaults(flags));
        let mut config: Config = fig.extract().map_err(Box::new)?;
        if !(1..=90).contains(&config.welcome_link_days) {
            return Err(Box::new(figment::Error::from(
                "welcome_link_days must be 1 to 90".to_string(),
            )));
        }
        if !(1..=72).contains(&config.reset_link_hours) {
            return Err(Box::new(figment::Error::from(
                "reset_link_hours must be 1 to 72".to_string(),
            )));
        }
        for (name, value, range) in [
            (
                "access_token_minutes",
                config.access_token_minutes,
                1..=1440,
            ),
            ("id_token_minutes", config.id_token_minutes, 1..=1440),
            ("refresh_token_days", config.refresh_token_days, 1..=365),
            ("signing_key_days", config.signing_key_days, 1..=365),
        ] {
            if !range.contains(&value) {
                return Err(Box::new(figment::Error::from(format!(
                    "{name} must be {} to {}",
                    range.start(),
                    range.end()
                ))));
            }
        }
        if config.cloud_locations.is_empty() {
            return Err(Box::new(figment::Error::from(
                "cloud_locations must name at least one region".to_string(),
            )));
        }
        config.public_url = Some(config.public_url()).map(|u| u.trim_end_matches('/').to_string());
        Ok(config)
    }

    pub fn outbox_dir(&self) -> PathBuf {
        self.data_dir.join("outbox")
    }

    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }

    /// The store URL: the configured PostgreSQL URL, or SQLite in the data directory.
    pub fn store_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", sqlite_path(&self.data_dir).display()),
        }
    }
}

const ENV_KEYS: [&str; 21] = [
    "scim_requests_per_second",
    "secret_key",
    "access_token_minutes",
    "id_token_minutes",
    "refresh_token_days",
    "signing_key_days",
    "smtp_url",
    "mail_from",
    "welcome_link_days",
    "reset_link_hours",
    "password_hash_ms",
    "listen",
    "public_url",
    "data_dir",
    "database_url",
    "max_connections",
    "admin_email",
    "operator_name",
    "cloud_locations",
    "log_format",
    "log_level",
];

fn sqlite_path(data_dir: &Path) -> PathBuf {
    data_dir.join("skybridge.db")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API fixes the error type
    fn layering_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("sb.toml", "listen = \"127.0.0.1:9000\"\nadmin_email = \"file@example.com\"\nlog_level = \"debug\"")?;
            jail.set_env("SKYBRIDGE_ADMIN_EMAIL", "env@example.com");
            jail.set_env("SKYBRIDGE_LOG_LEVEL", "warn");
            jail.set_env("SKYBRIDGE_SCIM_REQUESTS_PER_SECOND", "0");
            let flags = ConfigFlags {
                config: Some("sb.toml".into()),
                log_format: Some(LogFormat::Json),
                admin_email: Some("flag@example.com".into()),
                ..ConfigFlags::default()
            };
            let c = Config::load(&flags).map_err(|e| *e)?;
            assert_eq!(c.listen.port(), 9000);
            assert_eq!(c.admin_email, "flag@example.com");
            assert_eq!(c.log_level, "warn");
            assert_eq!(c.scim_requests_per_second, 0);
            assert_eq!(c.log_format, LogFormat::Json);
            assert_eq!(c.public_url.as_deref(), Some("http://127.0.0.1:9000"));
            assert!(c.store_url().starts_with("sqlite://"));
            Ok(())
        });
    }

    #[test]
    fn missing_config_file_is_an_error() {
        let flags = ConfigFlags {
            config: Some("/nonexistent/sb.toml".into()),
            ..ConfigFlags::default()
        };
        assert!(
            Config::load(&flags)
                .unwrap_err()
                .to_string()
                .contains("not found")
        );
    }
}
