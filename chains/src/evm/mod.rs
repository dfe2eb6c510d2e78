//! EVM support (alloy).

pub mod eip712;
