//! The `portcullis` binary: parse flags, set up logging, run the chosen component.

mod cli;

use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command};
use portcullis_ingress::ingress_command::run_ingress;
use portcullis_ingress::migrate_command::run_migrate_check;
use portcullis_node::node_command::run_node;
use tracing_subscriber::EnvFilter;

/// mimalloc: table rebuilds allocate heavily, and the glibc allocator's free path cost about
/// 40% of a rebuild in profiles (see the README's benchmark section).
#[global_allocator]
static ALLOCATOR: portcullis_allocator::MiMalloc = portcullis_allocator::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            // rustls warns once per handshake about clients that send an IP address as SNI
            // (wrk, some IoT clients): that is log spam on the handshake path, not news.
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,rustls=error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(problem) => {
            eprintln!("portcullis: cannot start the async runtime: {problem}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Ingress(args) => run_ingress(args).await.map(|()| true),
            Command::Node(args) => run_node(args).await.map(|()| true),
            Command::MigrateCheck(args) => run_migrate_check(args).await,
        }
    });
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        // migrate-check: the report says what blocks the migration.
        Ok(false) => ExitCode::FAILURE,
        Err(problem) => {
            eprintln!("portcullis: {problem:#}");
            ExitCode::FAILURE
        }
    }
}
