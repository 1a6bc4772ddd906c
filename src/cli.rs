//! The command line: `serve`, `worker`, `migrate`, `users create`, `tokens create|revoke`.

use std::sync::Arc;

use clap::{Parser, Subcommand};
use sqlx::PgPool;

use crate::build_events::BuildEvents;
use crate::build_watch::Waiters;
use crate::settings::Settings;
use crate::startup::{Application, MetricsServer};
use crate::storage::{self, users};

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

async fn prepare(settings: &Settings) -> anyhow::Result<PgPool> {
    storage::create_database_if_missing(settings).await?;
    let pool = storage::pool(settings)?;
    storage::migrate(&pool).await?;
    let sealed = storage::versions::seal_clear_secrets(&pool, &settings.secrets).await?;
    if sealed > 0 {
        tracing::info!(
            versions = sealed,
            "sealed secret values stored in clear before"
        );
    }
    Ok(pool)
}

pub async fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    let settings = Arc::new(settings);
    match cli.command {
        Command::Migrate => {
            prepare(&settings).await?;
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
            let pool = prepare(&settings).await?;
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
            let pool = prepare(&settings).await?;
            let user = users::find_by_username(&pool, &username)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no user {username:?}"))?;
            println!("{}", users::create_token(&pool, &user.id).await?);
        }
        Command::Tokens {
            command: TokensCommand::Revoke { token_prefix },
        } => {
            let pool = prepare(&settings).await?;
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
    let pool = prepare(&settings).await?;
    let events = BuildEvents::start(pool.clone());
    let workers =
        crate::worker::WorkerPool::start(pool.clone(), events.clone(), settings.worker.clone());
    let app = if with_api {
        let app = Application::build(settings.clone(), pool.clone(), events.clone())?;
        tracing::info!(addr = %settings.bind_addr, workers = settings.worker.concurrency, "serving");
        Some(app)
    } else {
        tracing::info!(
            workers = settings.worker.concurrency,
            "running build slots only"
        );
        None
    };
    // Without the API, the metrics listener runs on its own.
    let metrics = match app {
        Some(_) => None,
        None => {
            let waiters = Waiters::new(pool.clone(), events.clone());
            MetricsServer::start(&settings, pool.clone(), waiters)?
        }
    };
    let handle = app
        .as_ref()
        .map(Application::handle)
        .or_else(|| metrics.as_ref().map(MetricsServer::handle));
    let server = async move {
        match (app, metrics) {
            (Some(app), _) => app.run_until_stopped().await,
            (None, Some(metrics)) => metrics.run_until_stopped().await,
            (None, None) => std::future::pending().await,
        }
    };
    tokio::select! {
        result = server => result?,
        signal = shutdown_signal() => {
            tracing::info!(signal, "shutting down: no new builds are claimed");
            if let Some(handle) = handle {
                handle.stop(true).await;
            }
        }
    }
    workers.shutdown().await;
    Ok(())
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}
