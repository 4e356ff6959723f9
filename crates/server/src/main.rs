use std::process::ExitCode;

use clap::{Parser, Subcommand};
use skybridge_server::admin_cli::AdminArgs;
use skybridge_server::config::{Config, ConfigFlags};
use skybridge_server::import_cli::{ExportArgs, ImportArgs};
use skybridge_server::{Application, app, telemetry};
use tokio_util::sync::CancellationToken;

/// Skybridge: a multi-tenant platform for unified-communications partners and their customers.
#[derive(Parser)]
#[command(name = "skybridge", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (embedded SQLite in ./skybridge-data unless a PostgreSQL URL is configured).
    Serve(ConfigFlags),
    /// Apply database migrations and exit.
    Migrate(ConfigFlags),
    /// Operate a running server through its API.
    Admin(AdminArgs),
    /// Bulk-import users into a running server through its API, with a progress bar and a per-row report.
    Import(ImportArgs),
    /// Export from a running server through its API.
    Export(ExportArgs),
    /// Read the mail outbox of this installation's store (embedded mode: no SMTP needed to read welcome links).
    Outbox {
        #[command(flatten)]
        flags: ConfigFlags,
        #[command(subcommand)]
        command: OutboxCommand,
    },
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// The latest mail, newest first.
    List {
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// One mail, with its text body.
    Show { id: String },
}

#[tokio::main]
async fn main() -> ExitCode {
    skybridge_server::install_crypto_provider();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(flags) => serve(flags).await.map(|()| ExitCode::SUCCESS),
        Command::Migrate(flags) => migrate(flags).await.map(|()| ExitCode::SUCCESS),
        Command::Admin(args) => skybridge_server::admin_cli::run(args)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Import(args) => skybridge_server::import_cli::import(args).await,
        Command::Export(args) => skybridge_server::import_cli::export(args).await,
        Command::Outbox { flags, command } => {
            outbox(flags, command).await.map(|()| ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(flags: ConfigFlags) -> anyhow::Result<()> {
    let config = Config::load(&flags)?;
    telemetry::init(config.log_format, &config.log_level);
    let public_url = config.public_url();
    let backend = if config.database_url.is_some() {
        "postgresql"
    } else {
        "sqlite"
    };
    let app = Application::build(config).await?;
    if let Some(b) = &app.bootstrapped {
        // Printed once, on a line of its own, so scripts can pick it up; only its hash is stored.
        println!("First start: created the Partner Account and its administrator.");
        println!("API token: {}", b.admin_token);
        println!("Setup link: {}", b.setup_link);
        println!(
            "Open the setup link to choose the administrator's console password (it works once, for {} days).",
            app.state().config.welcome_link_days
        );
    }
    let addr = app.local_addr()?;
    println!("Listening on http://{addr}");
    tracing::info!(%addr, %public_url, backend, "skybridge ready");
    let shutdown = CancellationToken::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        app::shutdown_signal().await;
        tracing::info!("shutting down");
        trigger.cancel();
    });
    app.run_until(shutdown).await
}

async fn migrate(flags: ConfigFlags) -> anyhow::Result<()> {
    let config = Config::load(&flags)?;
    telemetry::init(config.log_format, &config.log_level);
    let store = app::open_store(&config).await?;
    store.migrate().await?;
    store.close().await;
    println!("migrations applied");
    Ok(())
}

async fn outbox(flags: ConfigFlags, command: OutboxCommand) -> anyhow::Result<()> {
    use skybridge_server::store::outbox;
    let config = Config::load(&flags)?;
    let store = app::open_store(&config).await?;
    store.migrate().await?;
    let mut db = store.handle().await?;
    match command {
        OutboxCommand::List { limit } => {
            let rows = outbox::list_all(&mut db, limit.clamp(1, 1000)).await?;
            let value: Vec<serde_json::Value> = rows
                .into_iter()
                .map(|m| {
                    serde_json::json!({
                        "id": m.id, "created_at": skybridge_server::clock::rfc3339(m.created_at), "status": m.status,
                        "recipient": m.recipient, "subject": m.subject,
                    })
                })
                .collect();
            print!(
                "{}",
                skybridge_server::admin_cli::table(
                    &serde_json::Value::Array(value),
                    &["id", "created_at", "status", "recipient", "subject"]
                )
            );
        }
        OutboxCommand::Show { id } => {
            let m = outbox::get_any(&mut db, &id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no mail {id}"))?;
            println!(
                "To: {}\nSubject: {}\nStatus: {} ({} attempts)",
                m.recipient, m.subject, m.status, m.attempts
            );
            if let Some(e) = m.last_error {
                println!("Last error: {e}");
            }
            println!("\n{}", m.body_text);
        }
    }
    drop(db);
    store.close().await;
    Ok(())
}
