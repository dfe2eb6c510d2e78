//! Integration tests of the chain adapters against real local nodes.

mod eip712_onchain;
mod evm_adapter;
