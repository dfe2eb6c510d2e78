//! The `switchyard` binary's library: command line, JSON-RPC API, daemon
//! wiring and benchmarks. `main.rs` only parses arguments and calls [`run`].

// The OpenRPC document is one large `json!` literal.
#![recursion_limit = "512"]

pub mod api;
pub mod bench;
pub mod bench_intake;
pub mod bench_relayer;
pub mod cli;
pub mod devnet;
pub mod engine;
mod keys_cmd;
pub mod metrics;
mod quote_cmd;
pub mod serve;
mod sign_cmd;
pub mod webhook;

use std::process::ExitCode;

use cli::{BenchCommand, Cli, Command, DevnetCommand, SignCommand};

/// Exit code for bad input (flags, files, values): the caller must fix it.
pub const EXIT_USAGE: u8 = 2;

/// Runs one command and returns the process exit code: 0 on success, 2 on
/// bad input (with a one-line `error:` on stderr), 1 on any other failure.
pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Quote(args) => quote_cmd::run(&args),
        Command::Serve(args) => serve::run_blocking(&args),
        Command::Sign {
            what: SignCommand::PayoutBatch(args),
        } => sign_cmd::payout_batch(&args),
        Command::Keys(args) => keys_cmd::run(&args),
        Command::Devnet {
            what: DevnetCommand::Up(args),
        } => devnet::run(&args),
        Command::Bench {
            what: BenchCommand::Router(args),
        } => bench::run(&args),
        Command::Bench {
            what: BenchCommand::Relayer(args),
        } => bench_relayer::run(&args),
        Command::Bench {
            what: BenchCommand::Intake(args),
        } => bench_intake::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(Failure::Runtime(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// How a command failed.
#[derive(Debug)]
pub enum Failure {
    /// Bad input; the message names what to fix.
    Usage(String),
    /// Anything else.
    Runtime(eyre::Report),
}

impl From<switchyard_core::Error> for Failure {
    fn from(e: switchyard_core::Error) -> Self {
        Self::Usage(e.to_string())
    }
}

impl From<eyre::Report> for Failure {
    fn from(e: eyre::Report) -> Self {
        Self::Runtime(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Self::Runtime(e.into())
    }
}

pub use switchyard_core::now_ms;
