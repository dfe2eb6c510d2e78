//! The relayer: one lane per (chain, signer) that batches payouts sharing a
//! leg, signs domain-separated messages, manages nonces, simulates, submits,
//! replaces stuck transactions and watches finality and reorgs. Every state
//! change is written to the store (SQLite, WAL) before the action that
//! depends on it, so a crash at any line loses nothing and repeats nothing.
//!
//! - [`store`]: the SQLite file, schema-versioned.
//! - [`lane`]: one (chain, signer): write-ahead nonces per intent,
//!   simulate, sign-store-broadcast, EIP-1559 replacement (`switchyard_core::fees`),
//!   finality per intent and the reorg watcher.
//! - [`transfer`]: routed transfers over escrow bridges, hop by hop.
//! - [`payout`]: merchant payouts, batched per chain and token.
//! - [`notify`]: the outbox of payout events (WebSocket, webhooks).
//! - [`ops`]: operator pauses and the hash-chained audit log.
//! - [`keys`]: API keys (hashed) with roles.
//! - [`governor`]: notional limits per chain.

pub mod console;
pub mod error;
pub mod governor;
pub mod keys;
pub mod lane;
pub mod notify;
pub mod observe;
pub mod ops;
pub mod payout;
pub mod planner;
pub mod states;
pub mod store;
pub mod transfer;
pub mod vmlane;

pub use error::{Error, Result};
pub use keys::{ApiKey, Keys, Role};
pub use lane::{Call, Hook, Lane, Stage, TickReport, TxRecord, TxState};
pub use notify::{Delivery, DeliveryView, Outbox};
pub use ops::{AuditEntry, Ops, Pause};
pub use payout::{
    BatchHook, BatchPolicy, ChainGate, NewPayout, PayoutChain, PayoutView, Payouts, Shortfall,
    Submitted, VmPayoutChain,
};
pub use planner::{FundError, Funder, PlanError, plan};
pub use states::{
    AttemptState, BatchState, DeliveryStatus, HopState, IntentState, PayoutState, StoredState,
    TransferState,
};
pub use store::{Alert, Store};
pub use switchyard_core::fees::{FeePolicy, Fees};
pub use transfer::{
    HopEnd, HopOutcome, HopPlan, HopView, LaneHandle, TransferView, Transfers, VaultHandle, VmEnd,
};
