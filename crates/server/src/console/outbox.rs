//! The embedded-mode outbox: with no SMTP server configured, mail is written to files; this page shows a
//! partner administrator the mail of its Partner Account and customer accounts, so that a welcome link can
//! be followed without a mail server.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use skybridge_store::outbox::{self, MailRow};

use crate::error::ApiError;
use crate::state::AppState;

use super::session::Console;
use super::shell::{Section, Shell};
use super::{Page, ok, or_fail};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/outbox", get(list))
        .route("/console/outbox/{mail}", get(show))
}

#[derive(Template)]
#[template(path = "console/outbox/list.html")]
struct ListPage {
    shell: Shell,
    mails: Vec<MailRow>,
}

#[derive(Template)]
#[template(path = "console/outbox/show.html")]
struct ShowPage {
    shell: Shell,
    mail: MailRow,
    /// Only links to this server are made clickable; a URL someone typed as a name stays text.
    own_base: String,
}

impl ShowPage {
    /// The text body cut into plain text and links, so the welcome link can be followed from the page.
    fn parts(&self) -> Vec<(bool, String)> {
        let mut out: Vec<(bool, String)> = Vec::new();
        let mut text = String::new();
        for piece in self.mail.body_text.split_inclusive(char::is_whitespace) {
            let word = piece.trim_end();
            if !self.own_base.is_empty() && word.starts_with(&self.own_base) {
                if !text.is_empty() {
                    out.push((false, std::mem::take(&mut text)));
                }
                out.push((true, word.to_string()));
                text.push_str(&piece[word.len()..]);
            } else {
                text.push_str(piece);
            }
        }
        if !text.is_empty() {
            out.push((false, text));
        }
        out
    }
}

fn allowed(console: &Console) -> Result<(), ApiError> {
    if console.outbox_visible {
        Ok(())
    } else {
        // Not offered with a real mail server, and never to anyone but a partner administrator.
        Err(ApiError::NotFound("page"))
    }
}

async fn mails(state: &AppState, console: &Console) -> Result<Vec<MailRow>, ApiError> {
    allowed(console)?;
    let mut db = state.store.handle().await?;
    Ok(outbox::list_for_partner(&mut db, &console.caller.own_scope(), 200).await?)
}

async fn list(State(state): State<AppState>, console: Console) -> Page {
    let mails = or_fail(&console, mails(&state, &console).await)?;
    let shell = Shell::new(&console, "Outbox", Section::Outbox, None);
    Ok(ok(&ListPage { shell, mails }))
}

async fn show(State(state): State<AppState>, console: Console, Path(mail): Path<String>) -> Page {
    let mails = or_fail(&console, mails(&state, &console).await)?;
    // Found only among the mail the list would show: another partner's mail is "not found".
    let mail = or_fail(
        &console,
        mails
            .into_iter()
            .find(|m| m.id == mail)
            .ok_or(ApiError::NotFound("mail")),
    )?;
    let shell = Shell::new(&console, mail.subject.clone(), Section::Outbox, None);
    let own_base = format!("{}/", state.config.public_url().trim_end_matches('/'));
    Ok(ok(&ShowPage {
        shell,
        mail,
        own_base,
    }))
}
