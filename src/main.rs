//! The `ipalloc-gateway` binary: parses the command line, loads the
//! configuration, sets up logging, and serves until SIGINT or SIGTERM.

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use ipalloc_gateway::config::{self, Config};
use ipalloc_gateway::server;

/// gRPC gateway for allocating public IP addresses on Alibaba Cloud ECS and
/// Zenlayer Cloud BMC.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, short = 'c', env = "IPALLOC_CONFIG")]
    config: Option<String>,

    /// Listen address; overrides the file and IPALLOC_LISTEN.
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,

    /// Validate the configuration and exit.
    #[arg(long)]
    check_config: bool,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the provider error mapping tables (Markdown, as in README.md).
    ErrorTables,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::ErrorTables) = cli.command {
        print!("{}", ipalloc_gateway::error_tables_markdown());
        return ExitCode::SUCCESS;
    }
    let Some(path) = cli.config.as_deref() else {
        eprintln!(
            "error: no configuration: pass --config FILE (or set IPALLOC_CONFIG); see README.md"
        );
        return ExitCode::from(2);
    };
    let mut config = match config::load_file(path, &config::process_env) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(listen) = cli.listen {
        config.listen = listen;
    }
    if cli.check_config {
        println!(
            "configuration OK: {} provider(s), listening on {}",
            config.providers.len(),
            config.listen
        );
        return ExitCode::SUCCESS;
    }
    if let Err(e) = init_logging(&config) {
        eprintln!("error: log.level: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "gateway stopped");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let registry = Arc::new(server::build_registry(&config.providers)?);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let address = listener.local_addr()?;
    for provider in registry.iter() {
        let d = provider.description();
        tracing::info!(name = %d.name, kind = %d.kind, endpoint = %d.endpoint, "provider configured");
    }
    tracing::info!(%address, "ipalloc-gateway listening");
    server::serve(listener, registry, server::shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

fn init_logging(config: &Config) -> Result<(), String> {
    let filter =
        tracing_subscriber::EnvFilter::try_new(&config.log.level).map_err(|e| e.to_string())?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log.json {
        builder.json().init();
    } else {
        builder.init();
    }
    Ok(())
}
