//! Integration tests of the chain adapters against real local nodes.

mod anvil;
mod eip712_onchain;
mod evm_adapter;
