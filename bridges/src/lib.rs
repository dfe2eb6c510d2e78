//! Bridge protocol adapters: one module per protocol (the devnet escrow
//! bridge first, then CCTP, Stargate, USDT0...), each turning a routed leg
//! into the transactions its contracts expect and reading the protocol's own
//! fee, liquidity and health figures for the probes.
//!
//! Dependencies point one way: this crate knows `switchyard-core` only. The
//! spine release routes on the fee models in the topology file; the first
//! adapter lands with the EVM end-to-end work, so the crate holds no code yet.
