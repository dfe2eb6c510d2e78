//! The relayer: one lane per (chain, signer) that batches payouts sharing a
//! leg, signs domain-separated messages, manages nonces, simulates, submits,
//! replaces stuck transactions and watches finality and reorgs. Every state
//! change is written to the store (SQLite, WAL) before the action that
//! depends on it, so a crash at any line loses nothing and repeats nothing.
//!
//! Today: the [`store`] and the EVM [`lane`]'s durable nonce management —
//! write-ahead reservation per intent, sign-then-record-then-broadcast, and
//! reconciliation with the chain after a restart or a send error. Fee
//! bumping, the finality/reorg watcher and batching build on these.

pub mod error;
pub mod lane;
pub mod store;

pub use error::{Error, Result};
pub use lane::{Call, Lane, ReconcileReport, TxRecord, TxState};
pub use store::Store;
