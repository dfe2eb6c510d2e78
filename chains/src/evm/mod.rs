//! EVM support (alloy): EIP-712 messages and signer, and the RPC adapter
//! implementing `switchyard_core::chain`'s traits.

pub mod adapter;
pub mod attest;
pub mod contracts;
pub mod deploy;
pub mod eip712;
pub mod endpoints;

pub use adapter::{Consumer, EvmChain, EvmTx};
pub use endpoints::{EndpointView, Endpoints};
