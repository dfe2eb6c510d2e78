//! The devnet `EscrowBridge` (`contracts/src/EscrowBridge.sol`).
//!
//! A leg is two transactions on two chains: `deposit` on the source escrow
//! locks the tokens and emits a deposit id; once that deposit is final on
//! the source chain, the bridge's signer set signs an EIP-712 `Release`
//! (source chain id, deposit id, token, recipient, amount, deadline) and
//! anyone submits `release` on the destination escrow, which pays at most
//! once per (source chain, deposit id). A deposit never released can be
//! refunded: [`cancel_release`] on the destination first, then, once
//! that is final, [`refund`] on the source. Each of these is an
//! [`Attestation`] for the bridge's signer set; its calldata comes from
//! `switchyard_chains::evm::attest::calldata` once it is signed.

use alloy_primitives::{Address as EvmAddress, B256, U256};
use switchyard_chains::evm::contracts::deposit_call;
use switchyard_core::attest::Attestation;

/// The topology's `protocol` value for this bridge.
pub const PROTOCOL: &str = "escrow";

/// Calldata of `deposit` on the source escrow.
pub fn deposit(
    token: EvmAddress,
    amount: U256,
    destination_chain_id: u64,
    recipient: EvmAddress,
) -> Vec<u8> {
    deposit_call(token, amount, destination_chain_id, recipient)
}

/// What a release pays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseOrder {
    /// Chain the deposit was made on.
    pub source_chain_id: u64,
    /// Its deposit id.
    pub deposit_id: B256,
    /// Destination chain and escrow (the EIP-712 domain).
    pub destination_chain_id: u64,
    /// Destination escrow.
    pub escrow: EvmAddress,
    /// Token paid on the destination chain.
    pub token: EvmAddress,
    /// Who is paid.
    pub recipient: EvmAddress,
    /// Amount paid, destination base units.
    pub amount: U256,
    /// Unix seconds after which the release is refused.
    pub deadline: u64,
}

impl ReleaseOrder {
    /// The `Release` the destination escrow's signer set signs.
    pub fn attestation(&self) -> Attestation {
        Attestation::Release {
            chain_id: self.destination_chain_id,
            escrow: self.escrow,
            source_chain_id: self.source_chain_id,
            deposit_id: self.deposit_id,
            token: self.token,
            recipient: self.recipient,
            amount: self.amount,
            deadline: self.deadline,
        }
    }
}

/// `cancelRelease` on the destination escrow: after it, no signed release
/// of (`source_chain_id`, `deposit_id`) can pay.
pub fn cancel_release(
    source_chain_id: u64,
    deposit_id: B256,
    destination_chain_id: u64,
    escrow: EvmAddress,
) -> Attestation {
    Attestation::CancelRelease {
        chain_id: destination_chain_id,
        escrow,
        source_chain_id,
        deposit_id,
    }
}

/// `refund` on the source escrow (sign it only once the release's
/// cancellation is final on the destination).
pub fn refund(deposit_id: B256, source_chain_id: u64, escrow: EvmAddress) -> Attestation {
    Attestation::Refund {
        chain_id: source_chain_id,
        escrow,
        deposit_id,
    }
}
