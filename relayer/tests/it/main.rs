//! The relayer lane against real anvil nodes: nonces and restarts, sends by
//! someone else from the same key, crashes mid-send, fee replacement of a
//! stuck transaction, a 200-recipient batch in one transaction, and a reorg
//! that drops it.

mod approvals;
mod budgets;
mod common;
mod lifecycle;
mod nonces;
mod payouts;
mod solana;
mod vmlane;
mod vmpayouts;
