//! The `ipalloc-gateway` binary: parses the command line, installs the
//! SIGINT/SIGTERM handlers (before anything else, so a signal at any point of
//! start-up leads to a clean exit), loads and checks the configuration, sets
//! up logging, and serves until a signal.

use std::num::NonZeroUsize;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{CommandFactory, Parser, Subcommand};
use ipalloc_gateway::admin::{AdminServer, Readiness};
use ipalloc_gateway::config::{self, Config};
use ipalloc_gateway::emulator::{ApiReading, FaultConfig, RepeatAllocation};
use ipalloc_gateway::{logging, runtime, sandbox, server};

/// The allocator of the whole process (see Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `--version`: the crate version and the commit it was built from
/// (`IPALLOC_GIT_COMMIT`, set by build.rs: 12 hex digits, `-dirty` when the
/// sources differed from it, or `unknown` without git).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("IPALLOC_GIT_COMMIT"),
    ")"
);

/// gRPC gateway for allocating public IP addresses on Alibaba Cloud ECS and
/// Zenlayer Cloud BMC.
#[derive(Debug, Parser)]
#[command(version = VERSION, about)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, short = 'c', env = "IPALLOC_CONFIG")]
    config: Option<String>,

    /// Listen address; overrides the file and IPALLOC_LISTEN.
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,

    /// Check the configuration as start-up does (file, environment,
    /// credentials, log level, provider endpoints, idempotency path) and exit.
    #[arg(long)]
    check_config: bool,

    /// When the idempotency store file exists but is not a valid store
    /// (empty, damaged, not a store), move it aside and start with an empty
    /// one instead of refusing to start. Every key it recorded is forgotten.
    #[arg(long)]
    start_fresh_if_invalid: bool,

    /// Try the gateway with no cloud account: start both provider emulators
    /// in-process on loopback and serve providers `aliyun` and `zenlayer`.
    #[arg(long, conflicts_with = "config")]
    sandbox: bool,

    /// Threads that run the gateway's calls (tokio workers), 1 to 256. One
    /// serves more than ten thousand calls a second at the least CPU per
    /// call; a shared service answering many reads may raise it.
    #[arg(
        long,
        global = true,
        env = "IPALLOC_WORKER_THREADS",
        default_value_t = runtime::DEFAULT_WORKER_THREADS,
        value_parser = worker_threads,
        value_name = "N"
    )]
    worker_threads: NonZeroUsize,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the provider error mapping tables (Markdown, as in README.md).
    ErrorTables,
    /// Print the table of the gateway's own decisions (Markdown, as in README.md).
    GatewayErrors,
    /// Print the emulators' seeded inventory (Markdown, as in README.md).
    Inventory,
    /// Print the table of the API's RPCs (Markdown, as in README.md).
    ApiTable,
    /// Fleet mode: bring the `[cluster]` database's schema up to this
    /// binary's version and exit (start-up also does this, under the same
    /// lock).
    Migrate,
    /// Run only the provider emulators, for your own integration tests.
    Emulate {
        /// Serve the Alibaba Cloud ECS emulator here.
        #[arg(long, value_name = "ADDR")]
        aliyun: Option<std::net::SocketAddr>,
        /// Serve the Zenlayer BMC emulator here.
        #[arg(long, value_name = "ADDR")]
        zenlayer: Option<std::net::SocketAddr>,
        /// How long Zenlayer EIPs stay CREATING.
        #[arg(long, default_value_t = 2000, value_name = "MS")]
        creation_delay_ms: u64,
        /// Faults both emulators start with, as JSON, e.g.
        /// '{"throttle_probability": 0.2, "drop_after_allocate_probability": 0.1}'
        /// (change them later with PUT /_admin/faults).
        #[arg(long, value_name = "JSON")]
        faults: Option<String>,
        /// Read requests leniently where the API documents leave a choice
        /// (`null`, `""` and `[]` as absent, unknown fields ignored); the
        /// default is the strict reading (see README, "Strict readings").
        #[arg(long)]
        lenient: bool,
        /// Alibaba: what AllocatePublicIpAddress answers for an instance that
        /// already has a static public IP: `allocated-already` (403
        /// AllocatedAlready, the API page's rule; default) or
        /// `returns-existing` (200 with that IP, the 2026 documentation's).
        #[arg(long, value_name = "RULE", default_value = "allocated-already",
              value_parser = |s: &str| s.parse::<RepeatAllocation>())]
        aliyun_repeat: RepeatAllocation,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::ErrorTables) => {
            print!("{}", ipalloc_gateway::error_tables_markdown());
            return ExitCode::SUCCESS;
        }
        Some(Command::GatewayErrors) => {
            print!("{}", ipalloc_gateway::gateway_decisions_markdown());
            return ExitCode::SUCCESS;
        }
        Some(Command::ApiTable) => {
            print!("{}", ipalloc_gateway::api_table_markdown());
            return ExitCode::SUCCESS;
        }
        Some(Command::Inventory) => {
            print!("{}", ipalloc_gateway::emulator_inventory_markdown());
            return ExitCode::SUCCESS;
        }
        Some(Command::Migrate) => return migrate(&cli),
        Some(Command::Emulate {
            aliyun,
            zenlayer,
            creation_delay_ms,
            faults,
            lenient,
            aliyun_repeat,
        }) => {
            if aliyun.is_none() && zenlayer.is_none() {
                eprintln!("error: emulate needs --aliyun ADDR and/or --zenlayer ADDR");
                return ExitCode::from(2);
            }
            let faults = match faults.as_deref().map(serde_json::from_str::<FaultConfig>) {
                None => FaultConfig::default(),
                Some(Ok(faults)) => match faults.validate() {
                    Ok(()) => faults,
                    Err(e) => {
                        eprintln!("error: --faults: {e}");
                        return ExitCode::from(2);
                    }
                },
                Some(Err(e)) => {
                    eprintln!("error: --faults is not a fault configuration: {e}");
                    return ExitCode::from(2);
                }
            };
            let options = sandbox::EmulatorOptions {
                aliyun,
                zenlayer,
                creation_delay: std::time::Duration::from_millis(creation_delay_ms),
                faults,
                reading: if lenient {
                    ApiReading::Lenient
                } else {
                    ApiReading::Strict
                },
                repeat_allocation: aliyun_repeat,
            };
            let Some((runtime, signals)) = runtime_with_signals(cli.worker_threads) else {
                return ExitCode::FAILURE;
            };
            return block_on(&runtime, emulate(options, signals));
        }
        None => {}
    }
    if cli.check_config {
        return check_config(&cli);
    }
    // Handlers first: from here on SIGINT/SIGTERM end the process cleanly.
    let Some((runtime, signals)) = runtime_with_signals(cli.worker_threads) else {
        return ExitCode::FAILURE;
    };
    if cli.sandbox {
        let mut config = sandbox_config();
        if let Some(listen) = cli.listen {
            config.listen = listen;
        }
        let _log = match logging::init(&config.log) {
            Ok(guard) => guard,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        return block_on(&runtime, run_sandbox(config, signals));
    }
    let config = match load_config(&cli) {
        Ok(config) => config,
        Err(code) => return code,
    };
    // Held to the end of main: dropping it flushes the queued log lines.
    let _log = match logging::init(&config.log) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(path) = cli.config.as_deref()
        && let Some(warning) = config::permissions::insecure_config_warning(path.as_ref())
    {
        tracing::warn!("{warning}");
    }
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    block_on(&runtime, run(config, signals))
}

/// `--worker-threads`: a whole number from 1 to
/// [`runtime::MAX_WORKER_THREADS`].
fn worker_threads(text: &str) -> Result<NonZeroUsize, String> {
    let bound = runtime::MAX_WORKER_THREADS;
    text.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=bound).contains(n))
        .and_then(NonZeroUsize::new)
        .ok_or_else(|| format!("must be a whole number from 1 to {bound}"))
}

/// Environment variables the command line reads (`IPALLOC_CONFIG`, ...):
/// known to the configuration's check for misspelled `IPALLOC_*` names.
fn cli_env_names() -> Vec<String> {
    Cli::command()
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .filter_map(|name| name.to_str().map(str::to_owned))
        .collect()
}

/// The configuration from `--config` and the environment; on error, the
/// message is printed and the exit code returned.
fn load_config(cli: &Cli) -> Result<Config, ExitCode> {
    let Some(path) = cli.config.as_deref() else {
        eprintln!(
            "error: no configuration: pass --config FILE (or set IPALLOC_CONFIG); see README.md"
        );
        return Err(ExitCode::from(2));
    };
    let also_known = cli_env_names();
    let env = config::Env::process(&also_known);
    let mut config = config::load_file_env(path, &env).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })?;
    if let Some(listen) = cli.listen {
        config.listen = listen;
        config.listen_tcp = true;
        if config.exposure() == config::Exposure::Refused {
            eprintln!(
                "error: --listen {listen}: {}",
                config::listeners::REFUSED_EXPOSURE
            );
            return Err(ExitCode::from(2));
        }
    }
    if cli.start_fresh_if_invalid {
        config.idempotency.start_fresh_if_invalid = true;
    }
    Ok(config)
}

/// `--check-config`: everything start-up checks, without binding the port
/// or creating the idempotency store.
fn check_config(cli: &Cli) -> ExitCode {
    let config = match load_config(cli) {
        Ok(config) => config,
        Err(code) => return code,
    };
    if let Err(e) = server::preflight(&config) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    for warning in &config.warnings {
        eprintln!("warning: {warning}");
    }
    let listening = match (&config.unix_socket, config.listen_tcp) {
        (Some(socket), false) => format!("unix:{}", socket.path.display()),
        _ => config.listen.to_string(),
    };
    println!(
        "configuration OK: {} provider(s), listening on {listening}",
        config.providers.len(),
    );
    ExitCode::SUCCESS
}

/// `migrate`: applies the fleet database's migrations.
fn migrate(cli: &Cli) -> ExitCode {
    let config = match load_config(cli) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let Some(cluster) = &config.cluster else {
        eprintln!("error: migrate needs a [cluster] postgres_url (fleet mode)");
        return ExitCode::from(2);
    };
    let runtime = match runtime::build(cli.worker_threads) {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let migrated = runtime.block_on(async {
        let database = ipalloc_gateway::cluster::Database::new(cluster)?;
        ipalloc_gateway::cluster::migrate::migrate(&database).await
    });
    match migrated {
        Ok(found) => {
            println!(
                "fleet database schema at version {} (was {found})",
                ipalloc_gateway::cluster::migrate::SCHEMA_VERSION
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A runtime with the signal handlers installed in it.
fn runtime_with_signals(
    worker_threads: NonZeroUsize,
) -> Option<(tokio::runtime::Runtime, server::Signals)> {
    let runtime = match runtime::build(worker_threads) {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return None;
        }
    };
    let signals = {
        let _context = runtime.enter();
        server::Signals::install()
    };
    match signals {
        Ok(signals) => Some((runtime, signals)),
        Err(e) => {
            eprintln!("error: cannot install the SIGINT/SIGTERM handlers: {e}");
            None
        }
    }
}

/// Runs `task` on `runtime`; an error is printed and exits non-zero.
fn block_on(
    runtime: &tokio::runtime::Runtime,
    task: impl std::future::Future<Output = Result<(), Box<dyn std::error::Error>>>,
) -> ExitCode {
    match runtime.block_on(task) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "stopped with an error");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The sandbox's configuration: loopback, in-memory idempotency, providers
/// added once the emulators run, and no drain period (it is interactive).
fn sandbox_config() -> Config {
    Config {
        listen: config::DEFAULT_LISTEN
            .parse()
            .unwrap_or_else(|_| std::net::SocketAddr::from(([127, 0, 0, 1], 50051))),
        listen_tcp: true,
        unix_socket: None,
        tls: None,
        caller_authentication: false,
        log: config::LogConfig {
            json: false,
            level: "info".to_owned(),
        },
        server: config::ServerConfig {
            shutdown_drain: std::time::Duration::ZERO,
            ..config::ServerConfig::default()
        },
        idempotency: config::IdempotencyConfig::default(),
        cluster: None,
        // Started by run_sandbox: on 9464 when it is free.
        admin: config::AdminConfig { listen: None },
        providers: Vec::new(),
        callers: Vec::new(),
        spend: Default::default(),
        audit: config::AuditConfig::default(),
        warnings: Vec::new(),
    }
}

async fn run_sandbox(
    mut config: Config,
    signals: server::Signals,
) -> Result<(), Box<dyn std::error::Error>> {
    let emulators = sandbox::start_emulators(&sandbox::EmulatorOptions::default()).await?;
    config.providers = emulators.provider_configs();
    let gateway = server::Gateway::start(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let address = listener.local_addr()?;
    let admin = sandbox::admin_server(Readiness::of(&gateway.allocator)).await?;
    println!(
        "ipalloc-gateway sandbox: gRPC on {address}, providers `aliyun` and `zenlayer` on local emulators\n\
         metrics: http://{}/metrics\n",
        admin.address()
    );
    print!("{}", emulators.describe());
    println!();
    print!("{}", sandbox::grpcurl_examples(address));
    println!("\nStop with Ctrl-C.");
    tracing::info!(%address, "sandbox listening");
    server::serve(listener, gateway, signals.into_shutdown()).await?;
    admin.stop().await;
    drop(emulators);
    tracing::info!("stopped");
    Ok(())
}

async fn emulate(
    options: sandbox::EmulatorOptions,
    mut signals: server::Signals,
) -> Result<(), Box<dyn std::error::Error>> {
    let emulators = sandbox::start_emulators(&options).await?;
    print!("{}", emulators.describe());
    println!("Stop with Ctrl-C.");
    signals.recv().await;
    drop(emulators);
    Ok(())
}

async fn run(config: Config, signals: server::Signals) -> Result<(), Box<dyn std::error::Error>> {
    let gateway = server::Gateway::start(&config).await?;
    let registry = Arc::clone(&gateway.registry);
    let listeners = server::Listeners::bind(&config).await?;
    let admin = AdminServer::start(config.admin.listen, Readiness::of(&gateway.allocator)).await?;
    for provider in registry.iter() {
        let d = provider.description();
        tracing::info!(name = %d.name, kind = %d.kind, endpoint = %d.endpoint, "provider configured");
    }
    if let Some(cluster) = &config.cluster {
        tracing::info!(
            replica = %cluster.replica_id,
            replicas = cluster.replicas,
            "fleet mode: idempotency records and account rate limits are shared in PostgreSQL"
        );
    } else if config.idempotency.path.is_none() {
        tracing::warn!(
            "idempotency records are kept in memory: set [idempotency] path to keep them across restarts"
        );
    }
    listeners.log();
    server::serve_on(listeners, gateway, signals.into_shutdown()).await?;
    if let Some(admin) = admin {
        admin.stop().await;
    }
    tracing::info!("stopped");
    Ok(())
}
