//! Switchyard core: the vocabulary every other crate speaks.
//!
//! * [`ids`]: newtypes for chains, assets and bridges.
//! * [`amount`]: token amounts as integers in base units, parsed from and
//!   printed to decimal strings without ever going through a float.
//! * [`address`]: per-VM addresses, validated once at the edge.
//! * [`finality`]: when a chain's block counts as final.
//! * [`topology`]: the chains, assets and bridges file format and its
//!   validation.
//! * [`model`]: the live network model (topology plus readings) that the
//!   router reads as an immutable snapshot.
//! * [`chain`]: the traits each VM adapter (EVM, Solana, TON) implements.
//! * [`config`]: the daemon's typed configuration.
//! * [`health`]: observed bridge health and the estimates made from it.
//! * [`fees`]: EIP-1559 pricing and replacement rules of the relayer.
//! * [`attest`]: what the signer set is asked to sign, and the trait of
//!   whoever signs it (local keys, co-signers).
//! * [`deny`]: deny lists (sanctions-shaped address files), reloaded live.
//! * [`redact`]: RPC URLs without their credentials, for logs and errors.
//!
//! Guarantees: nothing here panics on input; every parse error is a
//! [`Error`] that names the offending field.

pub mod address;
pub mod amount;
pub mod attest;
pub mod chain;
pub mod config;
pub mod deny;
pub mod error;
pub mod fees;
pub mod finality;
pub mod health;
pub mod ids;
pub mod model;
pub mod redact;
pub mod topology;

/// Milliseconds since the Unix epoch (0 if the clock is before 1970). The
/// router never calls it: callers pass `now_ms` in, so routing stays pure.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub use address::{Address, ChainKind};
pub use amount::{Amount, UsdE8};
pub use error::{Error, Result};
pub use finality::Finality;
pub use ids::{AssetKey, BridgeId, ChainId, Symbol};

/// 256-bit unsigned integer for every token amount; 512-bit for products.
pub use alloy_primitives::{U256, U512};
