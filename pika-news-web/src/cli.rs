//! The `pika-news` command line: clap definitions and dispatch. This is the
//! binary's side: it reads the process environment, binds the port and
//! catches SIGINT/SIGTERM, then hands everything to the library.

use std::process::ExitCode;

use anyhow::Context as _;
use camino::{Utf8Path, Utf8PathBuf};
use clap::{CommandFactory as _, Parser, Subcommand};
use pika_news_core::db::{Db, Role};
use pika_news_core::login::Npub;
use pika_news_core::ph_session::{PhSession, checked_base_url};
use pika_news_web::{Config, serve};
use pikaci_core::process::supervisor::{self, JobSupervisor};

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
    /// Manage who may log in with `ph login` (a Nostr key, NIP-98 style).
    #[command(subcommand)]
    Npub(NpubCommand),
    /// The canonical repository's hooks.
    #[command(subcommand)]
    Hooks(HooksCommand),
    /// Check a lane manifest (ci/forge-lanes.toml) before pushing it, or
    /// see a head's lanes and where they come from.
    #[command(subcommand)]
    Manifest(ManifestCommand),
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
enum HooksCommand {
    /// Write the `update` hook (pushes that move or delete the default
    /// branch are refused: it changes by merges through the server) and the
    /// `post-receive` hook (each push wakes the scheduler at once) into the
    /// canonical bare repository, replacing any there. Run it again after
    /// changing `default_branch`.
    Install {
        /// The configuration file.
        #[arg(long, value_name = "FILE")]
        config: Utf8PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum ManifestCommand {
    /// Print the lanes the manifest would run for the changed paths (every
    /// lane when none are given, or when the manifest itself is one of them),
    /// and its nightly lanes; or print what is wrong as FILE:LINE: message.
    /// With --repo and --head: the lanes of that head, from the source the
    /// server would take (the head's ci/forge-lanes.toml, else its
    /// pikaci.toml CI targets, else FILE as the server's lanes_manifest),
    /// and which source that is.
    /// Exit 0: valid; 1: invalid; 2: the file or the head cannot be read.
    Check {
        /// The manifest, e.g. ci/forge-lanes.toml (with --repo: the server's
        /// lanes_manifest, optional).
        #[arg(required_unless_present = "repo")]
        file: Option<Utf8PathBuf>,
        /// A git repository (bare or not) whose head to look at.
        #[arg(long, value_name = "GIT_DIR", requires = "head")]
        repo: Option<Utf8PathBuf>,
        /// The head: a branch, a tag or a commit of --repo.
        #[arg(long, value_name = "REV", requires = "repo")]
        head: Option<String>,
        /// A changed path, relative to the repository root (repeatable).
        #[arg(long, value_name = "PATH")]
        changed: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum NpubCommand {
    /// Let a Nostr key log in with `ph login`, with a role (adds it, or
    /// changes it and makes it active again).
    Allow {
        /// The configuration file.
        #[arg(long, value_name = "FILE")]
        config: Utf8PathBuf,
        /// The key: npub1... or 64 hex digits.
        npub: String,
        /// read: runs, logs, pages; write: also lane and branch actions; admin: everything.
        #[arg(long, value_parser = ["read", "write", "admin"])]
        role: String,
        /// Why it is there.
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
    },
    /// List the keys that may log in (the configured admins too).
    List {
        /// The configuration file.
        #[arg(long, value_name = "FILE")]
        config: Utf8PathBuf,
    },
    /// Stop a key logging in, and revoke every token its logins got, at once.
    Revoke {
        /// The configuration file.
        #[arg(long, value_name = "FILE")]
        config: Utf8PathBuf,
        /// The key.
        npub: String,
    },
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
        /// Also write the token as a session file for upstream pika's `ph`
        /// client (e.g. ~/.local/state/ph/session.json).
        #[arg(long, value_name = "FILE")]
        ph_session: Option<Utf8PathBuf>,
        /// The server's address for the session file (default:
        /// http://<bind_address>:<bind_port> from the configuration).
        #[arg(long, value_name = "URL", requires = "ph_session")]
        base_url: Option<String>,
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

/// Sets up logging, parses the command line, runs the command; exit code 2
/// for any error (after clap's own usage errors, also 2).
pub(crate) fn main() -> ExitCode {
    // pika-news re-runs itself as the job supervisor of each argv lane.
    if let Some(code) = supervisor::dispatch(std::env::args_os()) {
        return code;
    }
    // ... and as the first step of each pikaci lane: into its cgroup, then pikaci.
    if let Some(code) = pikaci_core::cgroup::enter::dispatch(std::env::args_os()) {
        return code;
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "pika_news_web=info,pika_news=info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pika-news: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn open(config: &Utf8PathBuf) -> anyhow::Result<Db> {
    let cfg = Config::load(config)?;
    Db::open(&cfg.database).with_context(|| format!("opening the database {}", cfg.database))
}

/// `manifest check`: 0 valid, 1 invalid, 2 unreadable (an error).
fn manifest_check(file: &Utf8Path, changed: Vec<String>) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {file}"))?;
    match pika_news_core::lanes::manifest_check::check(file.as_str(), &text, changed) {
        Ok(report) => {
            print!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// `manifest check --repo G --head R [FILE]`: the head's lanes and their
/// source, FILE standing for the server's lanes_manifest. 0 lanes (or none
/// defined), 1 a source is invalid, 2 the repository or head cannot be read.
fn head_check(
    repo: &Utf8Path,
    head: &str,
    server: Option<&Utf8Path>,
    changed: Vec<String>,
) -> anyhow::Result<ExitCode> {
    use pika_news_core::lanes::git::{Git, HeadAt};
    use pika_news_core::lanes::lane_source::{
        LaneSource, LaneSourceError, NO_LANES, PIPELINE_PATH, ServerManifest, lanes_of_head,
    };
    use pika_news_core::lanes::manifest::MANIFEST_PATH;
    use pika_news_core::lanes::manifest_check::CheckReport;

    let git = Git::new(repo);
    let commit = git
        .resolve_commit(head)
        .with_context(|| format!("cannot find {head} in {repo}"))?;
    let server = server.map(ServerManifest::read);
    let short = &commit.as_str()[..7];
    match lanes_of_head(
        &HeadAt {
            git: &git,
            commit: &commit,
        },
        server,
    ) {
        Ok(Some(sourced)) => {
            let file = match sourced.source {
                LaneSource::HeadManifest => format!("{MANIFEST_PATH} at {short}"),
                LaneSource::HeadPipeline => format!("{PIPELINE_PATH} at {short}"),
                LaneSource::ServerManifest => "the server's lanes_manifest".to_owned(),
            };
            print!("{}", CheckReport::of_head(file, sourced, changed));
            Ok(ExitCode::SUCCESS)
        }
        Ok(None) => {
            println!("{head} ({short}): {NO_LANES}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ (LaneSourceError::Read { .. } | LaneSourceError::ServerRead { .. })) => {
            Err(anyhow::Error::new(e))
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// The address `ph` reaches this server at, by default.
fn default_base_url(config: &Config) -> String {
    let host = match config.bind_address.as_str() {
        "0.0.0.0" | "::" | "[::]" => "127.0.0.1",
        a => a,
    };
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    format!("http://{host}:{}", config.bind_port)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Hooks(HooksCommand::Install { config }) => {
            let cfg = Config::load(&config)?;
            let repo = &cfg.forge_repo;
            let hooks = pika_news_core::forge::install_hooks(
                &pika_news_core::forge::BareRepo::new(repo.canonical_git_dir.as_std_path()),
                &repo.default_branch,
            )
            .with_context(|| format!("installing hooks in {}", repo.canonical_git_dir))?;
            println!("wrote {}", hooks.update.display());
            println!("wrote {}", hooks.post_receive.display());
            println!(
                "direct pushes to {} are now refused; each push wakes the scheduler",
                repo.default_branch
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Manifest(ManifestCommand::Check {
            file,
            repo,
            head,
            changed,
        }) => match (repo, head, file) {
            (Some(repo), Some(head), file) => head_check(&repo, &head, file.as_deref(), changed),
            (_, _, Some(file)) => manifest_check(&file, changed),
            // clap requires FILE unless --repo, and --head with --repo.
            _ => Ok(ExitCode::from(2)),
        },
        Command::Generate(GenerateCommand::Completions { shell }) => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "pika-news",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate(GenerateCommand::Man) => {
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { config: file } => {
            let config = Config::load(&file)?;
            // Before anything starts: a lanes_manifest every head would fail on.
            config.check_lanes_manifest(&file)?;
            if config.lanes.run_as_user.is_some() || config.lanes.uid_range.is_some() {
                // Lanes run as another user: the configuration must not be theirs to read.
                pika_news_core::sandbox::check_private_file(&file)?;
            }
            raise_open_file_limit();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let served = runtime.block_on(serve_until_signalled(config));
            // A blocking task still running (a read stuck on a sick disk)
            // must not keep a stopped server from exiting.
            runtime.shutdown_timeout(std::time::Duration::from_secs(5));
            served.map(|()| ExitCode::SUCCESS)
        }
        Command::Token(TokenCommand::Create {
            config,
            name,
            role,
            ph_session,
            base_url,
        }) => {
            let cfg = Config::load(&config)?;
            let role: Role = role.parse()?;
            // Checked before the token exists, so a typo makes no token.
            let base_url = ph_session
                .as_ref()
                .map(|_| {
                    let url = base_url.unwrap_or_else(|| default_base_url(&cfg));
                    checked_base_url(&url)
                })
                .transpose()?;
            let db = Db::open(&cfg.database)
                .with_context(|| format!("opening the database {}", cfg.database))?;
            let secret = db.create_token(&name, role)?;
            eprintln!("token {name:?} ({role}) created; it is shown once, store it now:");
            println!("{secret}");
            if let (Some(path), Some(url)) = (ph_session, base_url) {
                PhSession::new(&url, secret, &name, role)?
                    .write(&path)
                    .context("the token above was made; write the ph session file by hand")?;
                eprintln!("ph session for {url} written to {path}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(TokenCommand::List { config }) => {
            for t in open(&config)?.list_tokens()? {
                let state = match (&t.revoked_at, &t.expires_at) {
                    (Some(r), _) => format!("revoked {r}"),
                    (None, Some(e)) => format!("active until {e}"),
                    (None, None) => "active".to_owned(),
                };
                println!(
                    "{:<24} {:<6} created {}  {state}",
                    t.name, t.role, t.created_at
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Npub(NpubCommand::Allow {
            config,
            npub,
            role,
            note,
        }) => {
            let npub: Npub = npub.parse()?;
            let role: Role = role.parse()?;
            let e = open(&config)?.allow_npub(&npub, role, note.as_deref(), "cli")?;
            println!("{} may log in with the {} role", e.npub, e.role);
            Ok(ExitCode::SUCCESS)
        }
        Command::Npub(NpubCommand::List { config }) => {
            let cfg = Config::load(&config)?;
            for admin in &cfg.bootstrap_admin_npubs {
                println!("{admin}  admin   configured (bootstrap_admin_npubs)");
            }
            for e in open(&config)?.list_npubs()? {
                let state = if e.active { "active" } else { "revoked" };
                let note = e.note.map(|n| format!("  {n}")).unwrap_or_default();
                println!(
                    "{}  {:<6}  {state} since {}{note}",
                    e.npub, e.role, e.updated_at
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Npub(NpubCommand::Revoke { config, npub }) => {
            let npub: Npub = npub.parse()?;
            if Config::load(&config)?.bootstrap_admin_npubs.contains(&npub) {
                anyhow::bail!(
                    "{npub} is an admin by configuration: remove it from bootstrap_admin_npubs"
                );
            }
            let tokens = open(&config)?.revoke_npub(&npub, "cli")?;
            println!("revoked {npub} and {tokens} token(s) of its logins");
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(TokenCommand::Revoke { config, name }) => {
            open(&config)?.revoke_token(&name)?;
            println!("revoked {name}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Raises the soft open-file limit to the hard one, so the connection cap
/// (which stays under the soft limit) is as high as this host allows.
fn raise_open_file_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => {
            if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                tracing::warn!(error = %e, soft, hard, "could not raise the open-file limit");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not read the open-file limit"),
    }
}

/// Binds the configured address and serves until SIGINT or SIGTERM.
async fn serve_until_signalled(config: Config) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).context("catching SIGINT")?;
    let mut term = signal(SignalKind::terminate()).context("catching SIGTERM")?;
    let addr = format!("{}:{}", config.bind_address, config.bind_port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let lane_env = std::env::vars().collect();
    let mut config = config;
    // This binary, by its path (a lane may run as another user, through
    // setpriv, so /proc/self/exe would be theirs).
    config.lanes.supervisor = match std::env::current_exe() {
        Ok(exe) => Some(JobSupervisor::new(exe, [supervisor::SUPERVISOR_ARG])),
        Err(e) => {
            tracing::warn!(error = %e, "cannot find this binary: argv lanes run without a job supervisor");
            None
        }
    };
    let shutdown = async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    };
    serve(listener, config, lane_env, shutdown).await?;
    Ok(())
}
