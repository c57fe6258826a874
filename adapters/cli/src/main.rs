//! `kinfolk`: serve the kinfolk API over HTTP and operate a store.
//!
//! ```text
//! kinfolk serve [--db kinfolk.db] [--store sqlite|redb|postgres] [--search-dir DIR] [--listen 127.0.0.1:8080]
//!               [--ops-listen 127.0.0.1:9091 (token: KINFOLK_OPS_TOKEN or --ops-token-file)]
//! kinfolk user add USERNAME "Display Name" [--db kinfolk.db]
//! kinfolk token --user ID [--ttl 1h]
//! kinfolk reindex --search-dir DIR [--quiet]
//! kinfolk trim-feed (--search-dir DIR | --no-index) [--upto SEQ]
//! kinfolk check [--search-dir DIR] [--fix-counters]
//! kinfolk backup DEST
//! kinfolk backup --server http://127.0.0.1:9091 DEST   (the serving process writes it)
//! kinfolk export [FILE|-]
//! kinfolk import FILE
//! ```
//!
//! The JWT secret comes from `KINFOLK_JWT_SECRET` or `--jwt-secret-file`.
//! With `--store postgres` the data lives in the PostgreSQL database named by
//! `--postgres-url` or `KINFOLK_POSTGRES_URL` (`--db` is not used), for every
//! subcommand; several `kinfolk serve` processes may share one database.
//! Each subcommand is one variant of [`Command`] and one function, the
//! operator subcommands each in their own module (`transfer`, `search`,
//! `check`, `backup`, `metrics`, `ops`).
#![forbid(unsafe_code)]

mod backup;
mod check;
mod metrics;
mod ops;
mod search;
mod transfer;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use kinfolk::{Kinfolk, NewUser, UserId};
use kinfolk_http::{Cors, HttpConfig, JwtAuthenticator, RateLimit};

/// The kinfolk command.
#[derive(Debug, Parser)]
#[command(name = "kinfolk", version, about = "Serve and operate a kinfolk store")]
struct Cli {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: Command,
}

/// Where the data lives (every subcommand takes these).
#[derive(Debug, Args)]
struct StoreArgs {
    /// The store file (SQLite and redb).
    #[arg(long, global = true, default_value = "kinfolk.db", env = "KINFOLK_DB")]
    db: PathBuf,
    /// The store engine.
    #[arg(long, global = true, value_enum, default_value_t = StoreKind::Sqlite)]
    store: StoreKind,
    /// The PostgreSQL connection string, with `--store postgres`: a URL
    /// (`postgresql://user:password@host:5432/dbname`) or `key=value` pairs
    /// (`host=/run/postgresql dbname=kinfolk`). Prefer the environment: a
    /// password on the command line shows in the process list.
    #[arg(
        long,
        global = true,
        env = "KINFOLK_POSTGRES_URL",
        hide_env_values = true
    )]
    postgres_url: Option<String>,
    /// Connections of this process to PostgreSQL, with `--store postgres`
    /// (the server's `max_connections` must cover the sum over processes).
    #[arg(
        long,
        global = true,
        env = "KINFOLK_POSTGRES_POOL",
        default_value_t = 8
    )]
    postgres_pool: usize,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StoreKind {
    /// SQLite (the embedded default; several processes may open it).
    Sqlite,
    /// redb (one process at a time).
    Redb,
    /// PostgreSQL 15+ (several processes on one database; see `--postgres-url`).
    Postgres,
}

/// Where the token secret or key comes from.
#[derive(Debug, Args)]
struct KeyArgs {
    /// The HS256 secret (prefer the environment over the command line).
    #[arg(long, env = "KINFOLK_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
    /// A file holding the HS256 secret (trailing newline ignored).
    #[arg(long)]
    jwt_secret_file: Option<PathBuf>,
    /// The `aud` tokens carry.
    #[arg(long, default_value = kinfolk_http::DEFAULT_AUDIENCE)]
    audience: String,
    /// The `iss` tokens carry.
    #[arg(long, default_value = kinfolk_http::DEFAULT_ISSUER)]
    issuer: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API over HTTP until SIGTERM or Ctrl-C (in-flight requests finish).
    Serve(ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Print a bearer token for a user, signed with the configured secret.
    Token(TokenArgs),
    /// Rebuild the search index from the store (continues an interrupted rebuild).
    Reindex(search::ReindexArgs),
    /// Trim the change feed up to what the search index has applied.
    TrimFeed(search::TrimFeedArgs),
    /// Check the store (engine, invariants, search index); non-zero exit on any finding.
    Check(check::CheckArgs),
    /// Write a consistent copy of the store to a new file while it serves.
    Backup(backup::BackupArgs),
    /// Write everything the store holds as a transfer file (JSON Lines).
    Export(transfer::ExportArgs),
    /// Validate a transfer file whole, then load it into an empty store.
    Import(transfer::ImportArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the log says which).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// A directory for a persistent search index (default: in memory, rebuilt at start).
    #[arg(long)]
    search_dir: Option<PathBuf>,
    #[command(flatten)]
    key: KeyArgs,
    /// Verify RS256 tokens with this PEM public key instead of the HS256 secret.
    #[arg(long, conflicts_with = "eddsa_public_key")]
    rs256_public_key: Option<PathBuf>,
    /// Verify EdDSA tokens with this PEM public key instead of the HS256 secret.
    #[arg(long)]
    eddsa_public_key: Option<PathBuf>,
    /// Requests per minute per caller (0 disables the limit).
    #[arg(long, default_value_t = 600)]
    rate_per_minute: u32,
    /// Burst allowed per caller.
    #[arg(long, default_value_t = 100)]
    rate_burst: u32,
    /// Per-request timeout.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    timeout: Duration,
    /// Allowed browser origin (repeat; `*` for any). CORS is off without it.
    #[arg(long = "cors-origin")]
    cors_origins: Vec<String>,
    /// A user id allowed to read the change feed (repeat).
    #[arg(long = "feed-reader")]
    feed_readers: Vec<UserId>,
    /// Also listen here for operator requests (`POST /ops/backup`), each
    /// needing the operator token; keep it on a private address.
    #[arg(long)]
    ops_listen: Option<SocketAddr>,
    /// A file holding the operator token (else `KINFOLK_OPS_TOKEN`).
    #[arg(long)]
    ops_token_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Register a user and print the new id.
    Add {
        /// 3–30 of A-Z a-z 0-9 _.
        username: String,
        /// The display name.
        name: String,
        /// The private e-mail address.
        #[arg(long)]
        email: Option<String>,
    },
}

#[derive(Debug, Args)]
struct TokenArgs {
    /// The user id the token names (`sub`).
    #[arg(long)]
    user: UserId,
    /// How long the token is valid (e.g. 15m, 1h, 7d).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1h")]
    ttl: Duration,
    #[command(flatten)]
    key: KeyArgs,
}

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KINFOLK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(&cli.store, args).await,
            Command::User(UserCommand::Add {
                username,
                name,
                email,
            }) => user_add(&cli.store, &username, &name, email.as_deref()).await,
            Command::Token(args) => token(args),
            Command::Reindex(args) => search::reindex(open_store(&cli.store)?, args).await,
            Command::TrimFeed(args) => search::trim_feed(open_store(&cli.store)?, args).await,
            Command::Check(args) => check::run(&cli.store, args).await,
            Command::Backup(args) => backup::run(&cli.store, args).await,
            Command::Export(args) => transfer::export(&cli.store, args).await,
            Command::Import(args) => transfer::import(&cli.store, args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn open_store(args: &StoreArgs) -> Fallible<Arc<dyn kinfolk::Store>> {
    Ok(match args.store {
        StoreKind::Sqlite => Arc::new(kinfolk_sqlite::open(&args.db)?),
        StoreKind::Redb => Arc::new(kinfolk_redb::open(&args.db)?),
        StoreKind::Postgres => {
            let url = args
                .postgres_url
                .as_deref()
                .ok_or("--store postgres needs --postgres-url or KINFOLK_POSTGRES_URL")?;
            Arc::new(kinfolk_postgres::open_with(
                url,
                kinfolk_postgres::Options::default().pool_size(args.postgres_pool),
            )?)
        }
    })
}

fn secret(key: &KeyArgs) -> Fallible<Vec<u8>> {
    let raw = match (&key.jwt_secret_file, &key.jwt_secret) {
        (Some(path), _) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?
            .trim_end_matches(['\n', '\r'])
            .to_string(),
        (None, Some(s)) => s.clone(),
        (None, None) => {
            return Err("no JWT secret: set KINFOLK_JWT_SECRET or pass --jwt-secret-file".into());
        }
    };
    if raw.len() < 16 {
        return Err("the JWT secret must be at least 16 bytes".into());
    }
    Ok(raw.into_bytes())
}

fn read_pem(path: &Path) -> Fallible<Vec<u8>> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()).into())
}

async fn serve(store_args: &StoreArgs, args: ServeArgs) -> Fallible<()> {
    let auth = if let Some(pem) = &args.rs256_public_key {
        JwtAuthenticator::rs256_pem(&read_pem(pem)?)?
    } else if let Some(pem) = &args.eddsa_public_key {
        JwtAuthenticator::eddsa_pem(&read_pem(pem)?)?
    } else {
        JwtAuthenticator::hs256(&secret(&args.key)?)
    }
    .audience(&args.key.audience)
    .issuer(&args.key.issuer);

    let store = open_store(store_args)?;
    let index = match &args.search_dir {
        Some(dir) => kinfolk_search::TantivyIndex::open(dir)?,
        None => kinfolk_search::TantivyIndex::open_in_ram()?,
    };
    let svc = Kinfolk::builder(store)
        .search(Arc::new(index))
        .build()
        .await?;

    let cors = if args.cors_origins.iter().any(|o| o == "*") {
        Cors::AnyOrigin
    } else if args.cors_origins.is_empty() {
        Cors::Off
    } else {
        Cors::Origins(args.cors_origins.clone())
    };
    let rate_limit = match (
        NonZeroU32::new(args.rate_per_minute),
        NonZeroU32::new(args.rate_burst),
    ) {
        (Some(per_minute), Some(burst)) => Some(RateLimit { per_minute, burst }),
        _ => None,
    };
    let cfg = HttpConfig {
        timeout: args.timeout,
        rate_limit,
        cors,
        feed_readers: args.feed_readers.clone(),
        ..HttpConfig::default()
    };
    let app = metrics::mount(kinfolk_http::router_with(svc.clone(), auth, cfg), &svc)?;
    let ops = match args.ops_listen {
        Some(at) => {
            let token = ops::token(args.ops_token_file.as_deref())?;
            let listener = tokio::net::TcpListener::bind(at)
                .await
                .map_err(|e| format!("cannot listen on {at}: {e}"))?;
            tracing::info!(
                "kinfolk operator endpoint on http://{}",
                listener.local_addr()?
            );
            let router = ops::router(svc.clone(), token);
            Some(tokio::spawn(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(shutdown_signal())
                    .await
            }))
        }
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(
        db = %store_args.db.display(),
        store = ?store_args.store,
        "kinfolk listening on http://{addr}"
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    if let Some(ops) = ops {
        ops.await??;
    }
    tracing::info!("kinfolk stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM; the server then stops accepting and lets
/// in-flight requests finish.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

async fn user_add(
    store_args: &StoreArgs,
    username: &str,
    name: &str,
    email: Option<&str>,
) -> Fallible<()> {
    let mut new_user = NewUser::new(username, name)?;
    if let Some(email) = email {
        new_user = new_user.with_email(email)?;
    }
    let svc = Kinfolk::builder(open_store(store_args)?).build().await?;
    let user = svc.register(new_user).await?;
    println!("{}", user.id);
    Ok(())
}

fn token(args: TokenArgs) -> Fallible<()> {
    let secret = secret(&args.key)?;
    let token = kinfolk_http::sign_hs256(
        &secret,
        args.user,
        args.ttl,
        &args.key.audience,
        &args.key.issuer,
    )?;
    println!("{token}");
    Ok(())
}
