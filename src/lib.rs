//! The `switchyard` binary's library: the command line and what each
//! command wires together (the daemon itself is `switchyard-node`, the API
//! contract `switchyard-api`). `main.rs` only parses arguments and calls
//! [`run`].

pub mod bench;
pub mod bench_intake;
pub mod bench_relayer;
pub mod bench_solana;
pub mod cli;
pub mod devnet;
mod devnet_cosigners;
mod devnet_solana;
mod keys_cmd;
mod quote_cmd;
pub mod serve;
mod sign_cmd;
mod signer_cmd;
mod table;
mod topology_cmd;

use std::process::ExitCode;

use cli::{BenchCommand, Cli, Command, DevnetCommand, LogFormat, SignCommand};

/// Exit code for bad input (flags, files, values): the caller must fix it.
pub const EXIT_USAGE: u8 = 2;

/// Exit code of `quote` when no route satisfies the request (the answer,
/// with every excluded bridge and why, is still printed).
pub const EXIT_NO_ROUTE: u8 = 3;

static LOG_FORMAT: std::sync::OnceLock<LogFormat> = std::sync::OnceLock::new();

/// The `--log-format` the command line asked for.
pub fn log_format() -> LogFormat {
    LOG_FORMAT.get().copied().unwrap_or(LogFormat::Text)
}

/// Writes `text` to stdout. A reader that went away (`| head`) ends the
/// output quietly rather than with a panic.
pub fn emit(text: &str) -> Result<(), Failure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.map_err(Failure::from),
    }
}

/// `{"error": {"kind", "field"?, "message"}}`, how a `--json` command
/// reports a failure on stdout.
pub fn json_error(kind: &str, field: Option<&str>, message: &str) -> serde_json::Value {
    let mut e = serde_json::json!({ "kind": kind, "message": message });
    if let Some(f) = field {
        e["field"] = f.into();
    }
    serde_json::json!({ "error": e })
}

/// Runs one command and returns the process exit code: 0 on success, 2 on
/// bad input (with a one-line `error:` on stderr, and with `--json` a JSON
/// error object on stdout too), 3 when `quote` finds no route, 1 on any
/// other failure.
pub fn run(cli: Cli) -> ExitCode {
    let _ = LOG_FORMAT.set(cli.log_format);
    let json = cli.command.prints_json();
    let result = match cli.command {
        Command::Quote(args) => quote_cmd::run(&args),
        Command::Topology(args) => topology_cmd::run(&args),
        Command::Serve(args) => serve::run_blocking(&args),
        Command::Sign {
            what: SignCommand::PayoutBatch(args),
        } => sign_cmd::payout_batch(&args),
        Command::Keys(args) => keys_cmd::run(&args),
        Command::Signer { what } => signer_cmd::run(&what),
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
            what: BenchCommand::Solana(args),
        } => bench_solana::run(&args),
        Command::Bench {
            what: BenchCommand::Intake(args),
        } => bench_intake::run(&args),
    };
    // With `--json` the error is also a JSON object on stdout, for the
    // program reading it; the line on stderr is for the person.
    let report = |kind: &str, field: Option<&str>, message: &str| {
        if json {
            println!("{}", json_error(kind, field, message));
        }
        eprintln!("error: {message}");
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(msg)) => {
            report("usage", None, &msg);
            ExitCode::from(EXIT_USAGE)
        }
        Err(Failure::Input { field, message }) => {
            report("usage", field.as_deref(), &message);
            ExitCode::from(EXIT_USAGE)
        }
        Err(Failure::NoRoute) => ExitCode::from(EXIT_NO_ROUTE),
        Err(Failure::Runtime(e)) => {
            report("failure", None, &format!("{e:#}"));
            ExitCode::FAILURE
        }
    }
}

pub use switchyard_core::now_ms;
pub use switchyard_node::Failure;
