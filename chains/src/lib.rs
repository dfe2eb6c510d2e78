//! Per-VM chain adapters behind the traits of `switchyard_core::chain`:
//! EVM through alloy, Solana through solana-client, TON through tonlib-core
//! and the toncenter v2 HTTP API, each behind a cargo feature. Nothing
//! outside this crate sees a VM library's types.
//!
//! Today: [`evm::eip712`], the domain-separated messages Switchyard's EVM
//! contracts verify (`PayoutBatch`), and their signer. The RPC adapters
//! follow with the relayer.

#[cfg(feature = "evm")]
pub mod evm;

#[cfg(feature = "solana")]
pub mod solana;

#[cfg(feature = "testing")]
pub mod rpc_proxy;
#[cfg(feature = "testing")]
pub mod testing;
