//! One co-signer of Switchyard's M-of-N signer set.
//!
//! A co-signer is its own process (`switchyard signer serve`) with its own
//! key (an encrypted keystore file, [`keys`]), policy file ([`policy`]),
//! SQLite store and hash-chained audit log ([`store`]). The daemon asks M
//! of N co-signers ([`client::RemoteAttester`]); each one:
//!
//! 1. authenticates the request ([`request`]): signed by a daemon identity
//!    key it knows, addressed to this co-signer, fresh (clock skew bound),
//!    its nonce never seen before;
//! 2. reads the message itself (an [`Attestation`], never a digest) and
//!    checks it against its policy: chain, contract, token, batch size,
//!    per-item and per-recipient caps, its own USD budget per chain over a
//!    sliding window, the deny list;
//! 3. signs at most one content per replay fence (batch id, release of a
//!    deposit, refund), and records what it signs, with its budget use, in
//!    the same SQLite transaction, before answering.
//!
//! Every refusal is audited with its rule. A co-signer killed at any point
//! and restarted answers the same fence with the same signature, or not
//! at all; never with a second content.
//!
//! [`Attestation`]: switchyard_core::attest::Attestation

pub mod client;
pub mod keys;
pub mod pkcs11;
pub mod policy;
pub mod request;
pub mod server;
pub mod store;
pub mod vault;

pub use client::{CosignerEndpoint, RemoteAttester, RemoteVaultSigners};
pub use policy::Policy;
pub use server::Cosigner;
