//! The devnet `EscrowBridge` (`contracts/src/EscrowBridge.sol`).
//!
//! A leg is two transactions on two chains: `deposit` on the source escrow
//! locks the tokens and emits a deposit id; once that deposit is final on
//! the source chain, the bridge's signer set signs an EIP-712 `Release`
//! (source chain id, deposit id, token, recipient, amount, deadline) and
//! anyone submits `release` on the destination escrow, which pays at most
//! once per (source chain, deposit id). A deposit never released can be
//! refunded: [`signed_cancel_release`] on the destination first, then, once
//! that is final, [`signed_refund`] on the source.

use alloy_primitives::{Address as EvmAddress, B256, U256};
use switchyard_chains::evm::contracts::{
    CancelRelease, Refund, Release, cancel_release_call, deposit_call, digest, refund_call,
    release_call, release_digest,
};
use switchyard_chains::evm::eip712::{Eip712Signer, domain};
use switchyard_core::Result;

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

/// Signs `d` with each signer for `chain_id`, sorted by address and
/// deduplicated as `SignerSet` requires: (addresses, signatures).
fn sign_all(
    d: alloy_primitives::B256,
    chain_id: u64,
    signers: &[Eip712Signer],
    field: &str,
) -> Result<(Vec<EvmAddress>, Vec<Vec<u8>>)> {
    let mut sorted: Vec<&Eip712Signer> = signers.iter().collect();
    sorted.sort_by_key(|s| s.address());
    sorted.dedup_by_key(|s| s.address());
    let mut addrs = Vec::with_capacity(sorted.len());
    let mut sigs = Vec::with_capacity(sorted.len());
    for s in sorted {
        s.check_chain(field, chain_id)?;
        addrs.push(s.address());
        sigs.push(s.sign_digest(&d)?.to_vec());
    }
    Ok((addrs, sigs))
}

/// Calldata of `cancelRelease` on the destination escrow: after it, no
/// signed release of (`source_chain_id`, `deposit_id`) can pay.
pub fn signed_cancel_release(
    source_chain_id: u64,
    deposit_id: B256,
    destination_chain_id: u64,
    escrow: EvmAddress,
    signers: &[Eip712Signer],
    field: &str,
) -> Result<Vec<u8>> {
    let c = CancelRelease {
        sourceChainId: U256::from(source_chain_id),
        depositId: deposit_id,
    };
    let d = digest(&c, &domain(destination_chain_id, escrow));
    let (addrs, sigs) = sign_all(d, destination_chain_id, signers, field)?;
    Ok(cancel_release_call(&c, addrs, sigs))
}

/// Calldata of `refund` on the source escrow (sign it only once the
/// release's cancellation is final on the destination).
pub fn signed_refund(
    deposit_id: B256,
    source_chain_id: u64,
    escrow: EvmAddress,
    signers: &[Eip712Signer],
    field: &str,
) -> Result<Vec<u8>> {
    let d = digest(
        &Refund {
            depositId: deposit_id,
        },
        &domain(source_chain_id, escrow),
    );
    let (addrs, sigs) = sign_all(d, source_chain_id, signers, field)?;
    Ok(refund_call(deposit_id, addrs, sigs))
}

/// Calldata of `release`, signed by `signers` (sorted by address, as the
/// contract requires). `field` names the key source in errors.
pub fn signed_release(
    order: &ReleaseOrder,
    signers: &[Eip712Signer],
    field: &str,
) -> Result<Vec<u8>> {
    let release = Release {
        sourceChainId: U256::from(order.source_chain_id),
        depositId: order.deposit_id,
        token: order.token,
        recipient: order.recipient,
        amount: order.amount,
        deadline: order.deadline,
    };
    let d = release_digest(&release, &domain(order.destination_chain_id, order.escrow));
    let (addrs, sigs) = sign_all(d, order.destination_chain_id, signers, field)?;
    Ok(release_call(&release, addrs, sigs))
}
