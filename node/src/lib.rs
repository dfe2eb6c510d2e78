//! The Switchyard daemon: connects each chain of the topology by its kind,
//! starts the probes, the relayer's lanes, batcher and transfer executor
//! under a supervisor ([`tasks`]), and serves the JSON-RPC API of the
//! `switchyard-api` contract ([`rpc`]). The binary's `serve` and `devnet
//! up` call [`serve::serve`].

pub mod console;
pub mod drills;
pub mod engine;
pub mod health;
pub mod metrics;
pub mod rpc;
pub mod serve;
pub mod solana;
pub mod tasks;
pub mod webhook;

pub use switchyard_core::now_ms;

/// How a command failed.
#[derive(Debug)]
pub enum Failure {
    /// Bad input; the message names what to fix.
    Usage(String),
    /// Bad input about a named field (a flag or a file's field).
    Input {
        /// The field, as a request or file names it.
        field: Option<String>,
        /// What to fix, naming it.
        message: String,
    },
    /// The command ran and printed its answer, which is "no route".
    NoRoute,
    /// Anything else.
    Runtime(eyre::Report),
}

impl From<switchyard_core::Error> for Failure {
    fn from(e: switchyard_core::Error) -> Self {
        Self::Input {
            field: e.field().map(str::to_owned),
            message: e.to_string(),
        }
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
