//! Per-VM chain adapters behind the traits of `switchyard_core::chain`:
//! EVM through alloy, Solana through solana-client, TON through tonlib-core
//! and the toncenter v2 HTTP API, each behind a cargo feature. Nothing
//! outside this crate sees a VM library's types.
//!
//! The spine release defines the traits (and documents how each VM maps
//! onto them) in `switchyard-core`; the adapters land with the EVM, Solana
//! and TON work, so the crate holds no code yet.
