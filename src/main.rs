//! `switchyard`: cross-chain stablecoin withdrawal routing and relayer
//! daemon. Parses the command line and hands over to [`switchyard::run`].

use clap::Parser;

fn main() -> std::process::ExitCode {
    switchyard::run(switchyard::cli::Cli::parse())
}
