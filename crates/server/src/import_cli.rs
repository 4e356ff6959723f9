//! `skybridge import users` and `skybridge export users`: the bulk import and the users export of a running
//! server, through its API (the same `--url` and `--token` as `skybridge admin`).
//!
//! An import uploads the file into a staged import, prints the rows with problems (line, column, message),
//! commits the valid rows as a job while drawing its progress on standard error, and prints what it did. The
//! rows with problems stay staged on the server (24 hours) for fixing in the console, and the exit status says
//! whether there were any.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::Value;
use skybridge_domain::import::Column;

use crate::admin_cli::Client;

/// Exit status of an import that created the valid rows but left rows with problems staged.
pub const ROWS_LEFT: u8 = 2;

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Base URL of the server.
    #[arg(
        long,
        env = "SKYBRIDGE_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// API token (printed on first start, or created with `skybridge admin tokens create`).
    #[arg(long, env = "SKYBRIDGE_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
}

impl ServerArgs {
    fn client(self) -> anyhow::Result<Client> {
        let token = self.token.ok_or_else(|| {
            anyhow::anyhow!("an API token is needed: pass --token or set SKYBRIDGE_TOKEN")
        })?;
        Client::new(&self.url, token)
    }
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(subcommand)]
    pub command: ImportCommand,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import users from a filled-in template (.xlsx or .csv; columns FIRST NAME, LAST NAME, NAME, EMAIL, ROLE).
    ///
    /// Every row is checked first; the rows with problems are listed (line, column, message) and the valid
    /// rows are created as users (no welcome mail is sent; send it from the console when ready). The rows with
    /// problems stay staged on the server for 24 hours, to be fixed under Users → Import Users in the console.
    ///
    /// Exit status: 0 when every row was imported (or, with --check, when every row is valid); 2 when rows
    /// were left with problems (the valid ones were created); 1 when the file was refused or the import
    /// failed.
    Users {
        /// Account id or number (a customer account).
        #[arg(long)]
        account: String,
        /// Only check the file: list its problems, create nothing, and discard the staged rows.
        #[arg(long)]
        check: bool,
        /// The .xlsx or .csv file.
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(subcommand)]
    pub command: ExportCommand,
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Write every user of an account (the import template's columns plus ID, REGISTERED and ACTIVE) to a file.
    ///
    /// Cells a spreadsheet program would run as a formula (starting with = + - or @) get a leading apostrophe.
    Users {
        /// Account id or number.
        #[arg(long)]
        account: String,
        /// csv or xlsx.
        #[arg(long, default_value = "csv", value_parser = ["csv", "xlsx"])]
        format: String,
        /// Where to write; `-` for standard output. Default: the name the server gives (users-<account id>.csv)
        /// in the current directory.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

pub async fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let client = args.server.client()?;
    match args.command {
        ImportCommand::Users {
            account,
            check,
            file,
        } => import_users(&client, &account, &file, check).await,
    }
}

pub async fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let client = args.server.client()?;
    match args.command {
        ExportCommand::Users {
            account,
            format,
            output,
        } => {
            export_users(&client, &account, &format, output.as_deref()).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn count(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

async fn import_users(
    client: &Client,
    account: &str,
    file: &Path,
    check: bool,
) -> anyhow::Result<ExitCode> {
    let bytes =
        std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "upload".into());
    let base = format!("/api/v1/accounts/{account}/imports");
    let staged = client
        .upload(&base, &[("file_name", name.clone())], bytes)
        .await
        .map_err(|e| anyhow::anyhow!("{name} was not imported: {e}"))?;
    let id = text(&staged, "id").to_string();
    let path = format!("{base}/{id}");
    let (rows, invalid) = (count(&staged, "rows"), count(&staged, "invalid"));
    println!(
        "{name}: {}, {} valid, {} with problems.",
        plural(rows, "row", "rows"),
        rows - invalid,
        invalid
    );
    if invalid > 0 {
        print!("{}", report(client, &path).await?);
    }
    if check || rows == invalid {
        if check {
            client
                .send(reqwest::Method::DELETE, &path, &[], None)
                .await?;
            println!("Checked only: nothing was created.");
        } else {
            println!("No row is ready, so nothing was created.");
            left_staged(&id);
        }
        return Ok(if invalid > 0 {
            ExitCode::from(ROWS_LEFT)
        } else {
            ExitCode::SUCCESS
        });
    }

    let job = client
        .send(reqwest::Method::POST, &format!("{path}/commit"), &[], None)
        .await?;
    let job = follow(client, text(&job, "id")).await?;
    let state = text(&job, "state");
    if state != "succeeded" {
        let why = job
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("no reason given");
        anyhow::bail!("the import job {state}: {why}");
    }
    let skipped: Vec<&str> = job
        .get("skipped")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for line in &skipped {
        println!("Skipped {line}");
    }
    // What the server holds now: rows that broke while the job ran were put back with their problem.
    let now = client
        .send(reqwest::Method::GET, &path, &[("limit", "1".into())], None)
        .await?;
    let left = count(&now["import"], "invalid");
    println!(
        "Created {}; {} left with problems.",
        plural(count(&job, "done"), "user", "users"),
        plural(left, "row", "rows")
    );
    if left > 0 {
        left_staged(&id);
        return Ok(ExitCode::from(ROWS_LEFT));
    }
    Ok(ExitCode::SUCCESS)
}

fn left_staged(id: &str) {
    println!(
        "The rows with problems stay staged as import {id} for 24 hours: fix them under Users → Import Users \
         in the console, then upload again."
    );
}

/// The rows with problems, one line per problem: LINE, COLUMN, PROBLEM.
async fn report(client: &Client, path: &str) -> anyhow::Result<String> {
    let mut lines: Vec<[String; 3]> = Vec::new();
    let mut after = 0;
    loop {
        let page = client
            .send(
                reqwest::Method::GET,
                path,
                &[
                    ("invalid", "true".into()),
                    ("limit", "200".into()),
                    ("after", after.to_string()),
                ],
                None,
            )
            .await?;
        for row in page["items"].as_array().into_iter().flatten() {
            for issue in row["issues"].as_array().into_iter().flatten() {
                let column = text(issue, "column");
                let header = Column::parse(column)
                    .map_or_else(|| column.to_string(), |c| c.header().to_string());
                lines.push([
                    row["line"].to_string(),
                    header,
                    text(issue, "message").to_string(),
                ]);
            }
        }
        match page["next_after"].as_i64() {
            Some(n) => after = n,
            None => break,
        }
    }
    let width = |i: usize, title: &str| {
        lines
            .iter()
            .map(|l| l[i].chars().count())
            .chain([title.len()])
            .max()
            .unwrap_or(0)
    };
    let (w0, w1) = (width(0, "LINE"), width(1, "COLUMN"));
    let mut out = format!("{:<w0$}  {:<w1$}  PROBLEM\n", "LINE", "COLUMN");
    for [line, column, message] in lines {
        out.push_str(&format!("{line:<w0$}  {column:<w1$}  {message}\n"));
    }
    Ok(out)
}

/// Follows a job to its end, drawing its progress on standard error: the finished job.
async fn follow(client: &Client, id: &str) -> anyhow::Result<Value> {
    let mut bar = Bar::new();
    loop {
        // The server answers when the job ends, or after a second with its progress.
        let job = client
            .send(
                reqwest::Method::GET,
                &format!("/api/v1/jobs/{id}"),
                &[("wait", "1".into())],
                None,
            )
            .await?;
        let finished = !matches!(text(&job, "state"), "queued" | "running");
        bar.draw(
            count(&job, "done") + count(&job, "failed"),
            count(&job, "total"),
        );
        if finished {
            bar.finish();
            return Ok(job);
        }
    }
}

/// A text progress bar on standard error: redrawn in place on a terminal, a line per change elsewhere (logs).
struct Bar {
    terminal: bool,
    last: Option<(i64, i64)>,
}

const BAR_WIDTH: i64 = 30;

impl Bar {
    fn new() -> Bar {
        Bar {
            terminal: std::io::stderr().is_terminal(),
            last: None,
        }
    }

    fn line(done: i64, total: i64) -> String {
        let filled = if total > 0 {
            (done.clamp(0, total) * BAR_WIDTH) / total
        } else {
            BAR_WIDTH
        };
        format!(
            "Importing [{}{}] {done}/{total} rows",
            "#".repeat(filled as usize),
            "-".repeat((BAR_WIDTH - filled) as usize)
        )
    }

    fn draw(&mut self, done: i64, total: i64) {
        if self.last == Some((done, total)) {
            return;
        }
        self.last = Some((done, total));
        let mut err = std::io::stderr().lock();
        let line = Bar::line(done, total);
        let _ = if self.terminal {
            write!(err, "\r{line}")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
    }

    fn finish(&mut self) {
        if self.terminal && self.last.is_some() {
            let _ = writeln!(std::io::stderr());
        }
    }
}

async fn export_users(
    client: &Client,
    account: &str,
    format: &str,
    output: Option<&Path>,
) -> anyhow::Result<()> {
    let (headers, bytes) = client
        .download(
            &format!("/api/v1/accounts/{account}/users/export"),
            &[("format", format.to_string())],
        )
        .await?;
    if output == Some(Path::new("-")) {
        std::io::stdout().write_all(&bytes)?;
        return Ok(());
    }
    let target = match output {
        Some(p) => p.to_path_buf(),
        None => PathBuf::from(
            headers
                .get(reqwest::header::CONTENT_DISPOSITION)
                .and_then(|v| v.to_str().ok())
                .and_then(attachment_name)
                .unwrap_or_else(|| format!("users.{format}")),
        ),
    };
    std::fs::write(&target, &bytes)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", target.display()))?;
    eprintln!("Wrote {} ({} bytes).", target.display(), bytes.len());
    Ok(())
}

/// The file name of `attachment; filename="…"`, if it is a plain name (no directory, not hidden).
fn attachment_name(disposition: &str) -> Option<String> {
    let name = disposition
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("filename="))?
        .trim_matches('"');
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control);
    plain.then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_in_proportion() {
        assert_eq!(
            Bar::line(0, 10),
            format!("Importing [{}] 0/10 rows", "-".repeat(30))
        );
        assert_eq!(
            Bar::line(5, 10),
            format!("Importing [{}{}] 5/10 rows", "#".repeat(15), "-".repeat(15))
        );
        assert_eq!(
            Bar::line(10, 10),
            format!("Importing [{}] 10/10 rows", "#".repeat(30))
        );
        assert_eq!(
            Bar::line(0, 0),
            format!("Importing [{}] 0/0 rows", "#".repeat(30))
        );
    }

    #[test]
    fn only_plain_attachment_names_are_used() {
        assert_eq!(
            attachment_name("attachment; filename=\"users-1.csv\"").as_deref(),
            Some("users-1.csv")
        );
        assert_eq!(attachment_name("attachment; filename=\"../x.csv\""), None);
        assert_eq!(attachment_name("attachment; filename=\".bashrc\""), None);
        assert_eq!(attachment_name("attachment"), None);
    }
}
