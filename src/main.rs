//! `switchyard`: cross-chain stablecoin withdrawal routing and relayer
//! daemon. Parses the command line and hands over to [`switchyard::run`].

use clap::Parser;

fn main() -> std::process::ExitCode {
    match switchyard::cli::Cli::try_parse() {
        Ok(cli) => switchyard::run(cli),
        Err(e) => switchyard::cli::report_parse_error(&e),
    }
}
