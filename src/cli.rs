//! The command line: `serve`, `worker`, `migrate`, `users create`, `tokens create|revoke`.

use std::sync::Arc;

use crate::app::{prepare_database, App};
use crate::settings::Settings;
use crate::storage::{self, users};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "actor-builds",
    version,
    about = "A self-hostable build service for Apify Actors"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the database if missing, apply migrations, serve the API and run build slots.
    Serve,
    /// Run build slots only (no API).
    Worker,
    /// Create the database if missing and apply migrations.
    Migrate,
    /// Manage users.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Manage API tokens.
    Tokens {
        #[command(subcommand)]
        command: TokensCommand,
    },
    /// Print every SQL statement of the storage layer as JSON {name: sql} (for the benchmarks).
    #[command(hide = true)]
    Statements,
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Create a user and print a new API token for it (and nothing else) on stdout.
    Create { username: String },
}

#[derive(Subcommand)]
enum TokensCommand {
    /// Print a new API token for an existing user.
    Create { username: String },
    /// Revoke a token, named whole or by its first 12 to 16 characters.
    Revoke { token_prefix: String },
}

pub async fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    let settings = Arc::new(settings);
    match cli.command {
        Command::Migrate => {
            prepare_database(&settings).await?;
            tracing::info!(database = ?settings.database_url, "migrations applied");
        }
        Command::Statements => {
            let all: serde_json::Map<String, serde_json::Value> = storage::all_statements()
                .into_iter()
                .map(|(name, sql)| (name.to_owned(), sql.into()))
                .collect();
            println!("{}", serde_json::Value::Object(all));
        }
        Command::Serve => serve(settings, true).await?,
        Command::Worker => serve(settings, false).await?,
        Command::Users {
            command: UsersCommand::Create { username },
        } => {
            let pool = prepare_database(&settings).await?;
            let user = users::create_user(&pool, &username).await.map_err(|e| {
                if storage::is_unique_violation(&e, "users_username_key") {
                    anyhow::anyhow!("user {username:?} already exists")
                } else {
                    e.into()
                }
            })?;
            println!("{}", users::create_token(&pool, &user.id).await?);
        }
        Command::Tokens {
            command: TokensCommand::Create { username },
        } => {
            let pool = prepare_database(&settings).await?;
            let user = users::find_by_username(&pool, &username)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no user {username:?}"))?;
            println!("{}", users::create_token(&pool, &user.id).await?);
        }
        Command::Tokens {
            command: TokensCommand::Revoke { token_prefix },
        } => {
            let pool = prepare_database(&settings).await?;
            match users::revoke_token(&pool, &token_prefix).await? {
                users::Revocation::Revoked => eprintln!("token revoked"),
                users::Revocation::NoMatch => {
                    anyhow::bail!("no active token matches {token_prefix:?}")
                }
                users::Revocation::Ambiguous(n) => {
                    anyhow::bail!(
                        "{n} active tokens start with {token_prefix:?}; give more characters"
                    )
                }
            }
        }
    }
    Ok(())
}

async fn serve(settings: Arc<Settings>, with_api: bool) -> anyhow::Result<()> {
    // The handlers are installed before any build can be claimed: a SIGTERM that comes while the
    // first build runs must end it as SYSTEM, not kill the process.
    let signals = ShutdownSignals::install()?;
    let listener = if with_api {
        Some(std::net::TcpListener::bind(settings.bind_addr)?)
    } else {
        None
    };
    let app = App::build(settings.clone(), listener).await?;
    match app.port() {
        Some(_) => {
            tracing::info!(addr = %settings.bind_addr, workers = settings.worker.concurrency, "serving")
        }
        None => tracing::info!(
            workers = settings.worker.concurrency,
            "running build slots only"
        ),
    }
    app.run_until(async {
        let signal = signals.recv().await;
        tracing::info!(signal, "shutting down: no new builds are claimed");
    })
    .await?;
    Ok(())
}

/// SIGTERM and SIGINT, listened to from the moment they are installed.
struct ShutdownSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    fn install() -> anyhow::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn recv(mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}
