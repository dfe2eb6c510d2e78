//! The relayer: one lane per (chain, signer) that batches payouts sharing a
//! leg, signs domain-separated messages, manages nonces, simulates, submits,
//! replaces stuck transactions and watches finality and reorgs. Every state
//! change is written to the store (SQLite, WAL) before the action that
//! depends on it, so a crash at any line loses nothing and repeats nothing.
//!
//! The spine release quotes routes only; the lanes land with the EVM
//! end-to-end work, so the crate holds no code yet.
