//! Mail: the messages the platform sends (welcome, password reset), enqueued in the store's outbox in the
//! transaction that causes them, and a worker that delivers them — over SMTP when configured, otherwise as
//! .eml files in `data_dir/outbox/` — with retries and back-off.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use skybridge_domain::event::{Action, Actor, NewEvent};
use skybridge_domain::policy::AccountScope;
use skybridge_domain::{AccountId, UserId};
use skybridge_store::links::{self, Purpose};
use skybridge_store::outbox::{self, MailRow};
use skybridge_store::{Store, Tx, events};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::auth::{hash_token, new_secret};
use crate::clock::Clock;
use crate::config::Config;

/// Wakes the delivery worker when mail is enqueued, so it need not poll quickly.
#[derive(Default)]
pub struct MailSignal(Notify);

impl MailSignal {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

pub struct Recipient<'a> {
    pub account_id: AccountId,
    pub user_id: UserId,
    pub name: &'a str,
    pub email: &'a str,
}

/// Creates a one-time link of `purpose` for the recipient and enqueues the mail carrying it.
pub async fn enqueue_link_mail(
    tx: &mut Tx,
    config: &Config,
    now: i64,
    purpose: Purpose,
    to: &Recipient<'_>,
) -> skybridge_store::Result<String> {
    let scope = AccountScope::for_system(to.account_id);
    let token = new_secret();
    let ttl = match purpose {
        Purpose::Welcome => config.welcome_link_days * 86_400_000_000,
        Purpose::Reset => config.reset_link_hours * 3_600_000_000,
    };
    links::insert(
        tx,
        &scope,
        to.user_id,
        purpose,
        &hash_token(&token),
        now,
        now + ttl,
    )
    .await?;
    let base = config.public_url();
    let (subject, path, intro, action, validity) = match purpose {
        Purpose::Welcome => (
            "Finish building your account",
            "/auth/welcome",
            "An account has been created for you. Choose your password to finish building it.",
            "Finish building your account",
            format!(
                "The link works once, for {} days.",
                config.welcome_link_days
            ),
        ),
        Purpose::Reset => (
            "Reset Password",
            "/auth/reset",
            "A password reset was requested for your account. If it was not you, ignore this mail.",
            "Reset Password",
            format!(
                "The link works once, for {} hours.",
                config.reset_link_hours
            ),
        ),
    };
    let link = format!("{base}{path}?token={token}");
    let text = format!(
        "Hello {},\n\n{intro}\n\n{action}: {link}\n\n{validity}\n",
        to.name
    );
    let html = format!(
        "<!doctype html><html><body><p>Hello {name},</p><p>{intro}</p><p><a href=\"{link}\">{action}</a></p><p>{validity}</p></body></html>",
        name = escape_html(to.name),
        link = escape_html(&link),
    );
    let row = MailRow {
        id: uuid::Uuid::now_v7().to_string(),
        account_id: to.account_id.to_string(),
        user_id: Some(to.user_id.to_string()),
        kind: purpose.as_str().to_string(),
        recipient: to.email.to_string(),
        subject: subject.to_string(),
        body_text: text,
        body_html: html,
        status: "pending".into(),
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
        created_at: now,
        sent_at: None,
    };
    outbox::enqueue(tx, &scope, &row).await?;
    Ok(row.id)
}

/// How the worker hands mail over.
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(std::path::PathBuf),
}

/// Attempts before a mail is given up as failed; with the back-off below that spans about a day.
const MAX_ATTEMPTS: i64 = 10;

fn backoff_micros(attempts: i64) -> i64 {
    let secs = 30i64
        .saturating_mul(1i64 << attempts.clamp(0, 12))
        .min(4 * 3600);
    secs * 1_000_000
}

pub struct Worker {
    store: Store,
    clock: Arc<dyn Clock>,
    signal: Arc<MailSignal>,
    from: Mailbox,
    transport: Transport,
}

impl Worker {
    pub fn new(
        config: &Config,
        store: Store,
        clock: Arc<dyn Clock>,
        signal: Arc<MailSignal>,
    ) -> anyhow::Result<Worker> {
        let from: Mailbox = config
            .mail_from
            .parse()
            .map_err(|e| anyhow::anyhow!("mail_from: {e}"))?;
        let transport = match &config.smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| anyhow::anyhow!("smtp_url: {e}"))?
                    .timeout(Some(Duration::from_secs(30)))
                    .build(),
            ),
            None => Transport::Files(config.outbox_dir()),
        };
        Ok(Worker {
            store,
            clock,
            signal,
            from,
            transport,
        })
    }

    /// Delivers due mail until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            match self.deliver_due().await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "mail delivery round failed"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.signal.0.notified() => {},
                () = tokio::time::sleep(Duration::from_secs(5)) => {},
            }
        }
    }

    /// One round: claims due mail and tries each once. Returns how many were tried.
    pub async fn deliver_due(&self) -> anyhow::Result<usize> {
        let now = self.clock.now_micros();
        let due = outbox::claim_due(&self.store, now, 120_000_000, 20).await?;
        let n = due.len();
        for mail in due {
            match self.send(&mail).await {
                Ok(()) => outbox::mark_sent(&self.store, &mail.id, self.clock.now_micros()).await?,
                Err(e) => self.failed(&mail, &e.to_string()).await?,
            }
        }
        Ok(n)
    }

    async fn failed(&self, mail: &MailRow, error: &str) -> anyhow::Result<()> {
        let now = self.clock.now_micros();
        let attempts = mail.attempts + 1;
        let retry = (attempts < MAX_ATTEMPTS).then(|| now + backoff_micros(attempts));
        tracing::warn!(mail = %mail.id, attempts, error, "mail delivery failed");
        let mut tx = self.store.begin().await?;
        outbox::mark_failed_attempt(&mut tx, &mail.id, error, retry).await?;
        if retry.is_none() {
            let account: AccountId = mail.account_id.parse()?;
            let event = NewEvent::admin(
                account,
                Actor::System,
                Action::Edit,
                "User",
                mail.user_id.clone().unwrap_or_default(),
            )
            .detail("mail", mail.kind.clone())
            .detail(
                "error",
                format!(
                    "Failed to send {} mail to {}: {error}",
                    mail.kind, mail.recipient
                ),
            )
            .tag("mail")
            .tag("failed");
            events::insert(&mut tx, &event, "System", now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn send(&self, mail: &MailRow) -> anyhow::Result<()> {
        let to: Mailbox = mail.recipient.parse()?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .message_id(Some(format!("<{}@skybridge>", mail.id)))
            .multipart(MultiPart::alternative_plain_html(
                mail.body_text.clone(),
                mail.body_html.clone(),
            ))?;
        match &self.transport {
            Transport::Smtp(smtp) => {
                smtp.send(message).await?;
            }
            Transport::Files(dir) => {
                tokio::fs::create_dir_all(dir).await?;
                let path = dir.join(format!("{}.eml", mail.id));
                tokio::fs::write(path, message.formatted()).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_backoff() {
        assert_eq!(
            escape_html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(backoff_micros(1), 60_000_000);
        assert_eq!(backoff_micros(20), 4 * 3600 * 1_000_000);
    }
}
