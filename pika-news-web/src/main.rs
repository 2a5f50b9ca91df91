//! The `pika-news` binary: `serve` and `token` over the `pika_news_web` library.

use std::process::ExitCode;

use anyhow::Context as _;
use camino::Utf8PathBuf;
use clap::{Parser, Subcommand};
use pika_news_web::db::{Db, Role};
use pika_news_web::{AppState, Config, router};

/// pika-news serves a forge repository's pikaci runs and logs over an
/// authenticated HTTP API.
#[derive(Debug, Parser)]
#[command(name = "pika-news", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API (creates and migrates the database first).
    Serve {
        /// The configuration file.
        #[arg(long, value_name = "FILE")]
        config: Utf8PathBuf,
    },
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Print shell completions or the man page.
    #[command(subcommand, hide = true)]
    Generate(GenerateCommand),
}

#[derive(Debug, Subcommand)]
enum GenerateCommand {
    /// Shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// The man page (roff).
    Man,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Make a token; it is printed once, alone on the last line, and only its hash is kept.
    Create {
        /// The configuration file.
        #[arg(long, value_name = "FILE")]
        config: Utf8PathBuf,
        /// A name to list and revoke it by.
        #[arg(long)]
        name: String,
        /// read: runs, logs, pages; write: also lane actions; admin: everything.
        #[arg(long, value_parser = ["read", "write", "admin"])]
        role: String,
    },
    /// List tokens (never their secrets).
    List {
        /// The configuration file.
        #[arg(long, value_name = "FILE")]
        config: Utf8PathBuf,
    },
    /// Revoke a token; it stops working at once.
    Revoke {
        /// The configuration file.
        #[arg(long, value_name = "FILE")]
        config: Utf8PathBuf,
        /// The token's name.
        name: String,
    },
}

fn open(config: &Utf8PathBuf) -> anyhow::Result<(Config, Db)> {
    let cfg = Config::load(config)?;
    let db = Db::open(&cfg.database)
        .with_context(|| format!("opening the database {}", cfg.database))?;
    Ok((cfg, db))
}

async fn serve(config: Utf8PathBuf) -> anyhow::Result<()> {
    let (cfg, db) = open(&config)?;
    let addr = format!("{}:{}", cfg.bind_address, cfg.bind_port);
    let env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    let scheduler =
        pika_news_web::scheduler::Scheduler::new(db.clone(), cfg.forge_repo.clone(), env);
    let state = AppState::new(
        db,
        cfg.forge_repo.pikaci_state_root.clone(),
        cfg.public_read,
    )
    .with_waker(scheduler.waker())
    .with_data_dir(cfg.forge_repo.data_dir.clone());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let scheduler_task = tokio::spawn(scheduler.run(shutdown.clone()));
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    tracing::info!(%addr, state_root = %cfg.forge_repo.pikaci_state_root, "pika-news listening");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return std::future::pending().await;
            };
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            tracing::info!("shutting down");
        })
        .await?;
    // Running lanes are cancelled (their process groups stopped) and recorded.
    shutdown.cancel();
    let _ = scheduler_task.await;
    Ok(())
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Generate(GenerateCommand::Completions { shell }) => {
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "pika-news",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Generate(GenerateCommand::Man) => {
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
                .render(&mut std::io::stdout())?;
            Ok(())
        }
        Command::Serve { config } => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(serve(config))
        }
        Command::Token(TokenCommand::Create { config, name, role }) => {
            let (_, db) = open(&config)?;
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            let secret = db.create_token(&name, role)?;
            eprintln!("token {name:?} ({role}) created; it is shown once, store it now:");
            println!("{secret}");
            Ok(())
        }
        Command::Token(TokenCommand::List { config }) => {
            let (_, db) = open(&config)?;
            for t in db.list_tokens()? {
                let state = t
                    .revoked_at
                    .as_deref()
                    .map_or("active".to_owned(), |r| format!("revoked {r}"));
                println!(
                    "{:<24} {:<6} created {}  {state}",
                    t.name, t.role, t.created_at
                );
            }
            Ok(())
        }
        Command::Token(TokenCommand::Revoke { config, name }) => {
            let (_, db) = open(&config)?;
            db.revoke_token(&name)?;
            println!("revoked {name}");
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "pika_news_web=info,pika_news=info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pika-news: {e:#}");
            ExitCode::from(2)
        }
    }
}
