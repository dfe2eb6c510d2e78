//! What the signer set is asked to sign, and who asks it.
//!
//! An [`Attestation`] is a typed message, never a digest: whoever signs it
//! (a local key in tests, a co-signer process in a deployment) reads every
//! field, checks it against its own policy and computes the digest itself
//! (`switchyard_chains::evm::attest::digest`). Each one has a replay fence
//! ([`Attestation::fence`]), the key under which the contract accepts it
//! at most once: a batch id, a deposit's release, a refund.
//!
//! An [`Attester`] returns signatures of at least the set's threshold,
//! strictly ascending by signer address, as `SignerSet` requires. Its
//! errors say whether asking again can help ([`AttestError::is_retryable`]):
//! co-signers that are down or refuse for now hold the work with the reason;
//! nothing is marked failed for it.

use std::future::Future;
use std::pin::Pin;

use alloy_primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};

/// One item of a payout batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PayoutItem {
    /// Recipient.
    #[schemars(with = "String")]
    pub to: Address,
    /// Base units of the batch's token.
    #[schemars(with = "String")]
    pub amount: U256,
}

/// A message for the signer set of one contract on one EVM chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Attestation {
    /// `PayoutBatcher.execute`: pays every item, once per batch id.
    PayoutBatch {
        /// EIP-155 chain id (the EIP-712 domain).
        chain_id: u64,
        /// The `PayoutBatcher` (the EIP-712 verifying contract).
        #[schemars(with = "String")]
        batcher: Address,
        /// The fence: executed or cancelled at most once.
        #[schemars(with = "String")]
        batch_id: B256,
        /// ERC-20 paid.
        #[schemars(with = "String")]
        token: Address,
        /// Items in order.
        payouts: Vec<PayoutItem>,
        /// Unix seconds after which the batch is refused.
        deadline: u64,
    },
    /// `PayoutBatcher.cancelBatch`: the batch id can never pay after it.
    CancelBatch {
        /// EIP-155 chain id.
        chain_id: u64,
        /// The `PayoutBatcher`.
        #[schemars(with = "String")]
        batcher: Address,
        /// The batch id voided.
        #[schemars(with = "String")]
        batch_id: B256,
    },
    /// `EscrowBridge.release` on the destination: pays a deposit made on
    /// the source chain, once per (source chain, deposit id).
    Release {
        /// Destination EIP-155 chain id.
        chain_id: u64,
        /// Destination escrow.
        #[schemars(with = "String")]
        escrow: Address,
        /// Where the deposit was made.
        source_chain_id: u64,
        /// The deposit released.
        #[schemars(with = "String")]
        deposit_id: B256,
        /// Token paid on the destination.
        #[schemars(with = "String")]
        token: Address,
        /// Who is paid.
        #[schemars(with = "String")]
        recipient: Address,
        /// Base units paid.
        #[schemars(with = "String")]
        amount: U256,
        /// Unix seconds after which the release is refused.
        deadline: u64,
    },
    /// `EscrowBridge.cancelRelease`: the deposit can never be released.
    CancelRelease {
        /// Destination EIP-155 chain id.
        chain_id: u64,
        /// Destination escrow.
        #[schemars(with = "String")]
        escrow: Address,
        /// Where the deposit was made.
        source_chain_id: u64,
        /// The deposit.
        #[schemars(with = "String")]
        deposit_id: B256,
    },
    /// `Treasury.deposit`: moves treasury funds into an escrow deposit for
    /// `recipient` on the destination chain, once per operation id.
    TreasuryDeposit {
        /// EIP-155 chain id of the treasury.
        chain_id: u64,
        /// The `Treasury` (the EIP-712 verifying contract).
        #[schemars(with = "String")]
        treasury: Address,
        /// The fence: used at most once.
        #[schemars(with = "String")]
        op_id: B256,
        /// The escrow deposited into.
        #[schemars(with = "String")]
        escrow: Address,
        /// Token moved.
        #[schemars(with = "String")]
        token: Address,
        /// Base units moved.
        #[schemars(with = "String")]
        amount: U256,
        /// Where the deposit is released.
        destination_chain_id: u64,
        /// Who the release pays there.
        #[schemars(with = "String")]
        recipient: Address,
        /// Unix seconds after which the deposit is refused.
        deadline: u64,
    },
    /// `EscrowBridge.refund` on the source: returns a deposit to its
    /// depositor (the contract decides who that is).
    Refund {
        /// Source EIP-155 chain id.
        chain_id: u64,
        /// Source escrow.
        #[schemars(with = "String")]
        escrow: Address,
        /// The deposit refunded.
        #[schemars(with = "String")]
        deposit_id: B256,
    },
}

impl Attestation {
    /// The chain whose contract verifies it.
    pub fn chain_id(&self) -> u64 {
        match self {
            Self::PayoutBatch { chain_id, .. }
            | Self::CancelBatch { chain_id, .. }
            | Self::Release { chain_id, .. }
            | Self::CancelRelease { chain_id, .. }
            | Self::Refund { chain_id, .. }
            | Self::TreasuryDeposit { chain_id, .. } => *chain_id,
        }
    }

    /// The verifying contract.
    pub fn contract(&self) -> Address {
        match self {
            Self::PayoutBatch { batcher, .. } | Self::CancelBatch { batcher, .. } => *batcher,
            Self::Release { escrow, .. }
            | Self::CancelRelease { escrow, .. }
            | Self::Refund { escrow, .. } => *escrow,
            Self::TreasuryDeposit { treasury, .. } => *treasury,
        }
    }

    /// The message's kind, as in its JSON `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::PayoutBatch { .. } => "payout_batch",
            Self::CancelBatch { .. } => "cancel_batch",
            Self::Release { .. } => "release",
            Self::CancelRelease { .. } => "cancel_release",
            Self::Refund { .. } => "refund",
            Self::TreasuryDeposit { .. } => "treasury_deposit",
        }
    }

    /// The replay fence: the contract accepts one message per fence at
    /// most, so a signer signs one content per fence at most.
    pub fn fence(&self) -> String {
        let (c, k) = (self.chain_id(), self.kind());
        let at = self.contract();
        match self {
            Self::PayoutBatch { batch_id, .. } | Self::CancelBatch { batch_id, .. } => {
                format!("{k}:{c}:{at}:{batch_id}")
            }
            Self::Release {
                source_chain_id,
                deposit_id,
                ..
            }
            | Self::CancelRelease {
                source_chain_id,
                deposit_id,
                ..
            } => format!("{k}:{c}:{at}:{source_chain_id}:{deposit_id}"),
            Self::Refund { deposit_id, .. } => format!("{k}:{c}:{at}:{deposit_id}"),
            Self::TreasuryDeposit { op_id, .. } => format!("{k}:{c}:{at}:{op_id}"),
        }
    }

    /// Unix seconds after which the contract refuses it, if it expires.
    pub fn deadline(&self) -> Option<u64> {
        match self {
            Self::PayoutBatch { deadline, .. }
            | Self::Release { deadline, .. }
            | Self::TreasuryDeposit { deadline, .. } => Some(*deadline),
            _ => None,
        }
    }

    /// The same message without its deadline: two messages with the same
    /// fence and the same substance pay the same thing to the same people.
    pub fn substance(&self) -> Self {
        let mut s = self.clone();
        match &mut s {
            Self::PayoutBatch { deadline, .. }
            | Self::Release { deadline, .. }
            | Self::TreasuryDeposit { deadline, .. } => *deadline = 0,
            _ => {}
        }
        s
    }

    /// The token it pays out and what it pays to whom, in order; empty for
    /// messages that pay nobody but the original depositor (refunds) or
    /// nobody at all (cancellations).
    pub fn pays(&self) -> (Option<Address>, Vec<(Address, U256)>) {
        match self {
            Self::PayoutBatch { token, payouts, .. } => (
                Some(*token),
                payouts.iter().map(|p| (p.to, p.amount)).collect(),
            ),
            Self::Release {
                token,
                recipient,
                amount,
                ..
            } => (Some(*token), vec![(*recipient, *amount)]),
            Self::TreasuryDeposit {
                token,
                recipient,
                amount,
                ..
            } => (Some(*token), vec![(*recipient, *amount)]),
            _ => (None, Vec::new()),
        }
    }
}

/// Signatures of a message, strictly ascending by signer address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attested {
    /// Signers, ascending.
    pub signers: Vec<Address>,
    /// 65-byte `r || s || v` signatures, in the signers' order.
    pub signatures: Vec<Vec<u8>>,
}

impl Attested {
    /// Orders and deduplicates (signer, signature) pairs.
    pub fn from_pairs(mut pairs: Vec<(Address, Vec<u8>)>) -> Self {
        pairs.sort_by_key(|(a, _)| *a);
        pairs.dedup_by_key(|(a, _)| *a);
        let (signers, signatures) = pairs.into_iter().unzip();
        Self {
            signers,
            signatures,
        }
    }
}

/// Why a message is not signed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AttestError {
    /// Fewer than the threshold answered: down, slow or refusing for now.
    /// Retried; whatever waits on it is held with this reason.
    #[error("{got} of the {need} signatures needed: {detail}")]
    Unavailable {
        /// Signatures needed.
        need: usize,
        /// Signatures obtained.
        got: usize,
        /// Each signer's answer.
        detail: String,
    },
    /// The local configuration cannot sign it (a key refused for this
    /// chain): not retried until the configuration changes.
    #[error("{0}")]
    Config(String),
}

impl AttestError {
    /// Whether asking again later can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// A future of an attestation, object-safe.
pub type AttestFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Attested, AttestError>> + Send + 'a>>;

/// The signer set, as the relayer sees it: local keys or co-signers.
pub trait Attester: Send + Sync + std::fmt::Debug {
    /// Signatures of `what`, at least the threshold, ascending by signer.
    fn attest<'a>(&'a self, what: &'a Attestation) -> AttestFuture<'a>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(deadline: u64, amount: u64) -> Attestation {
        Attestation::Release {
            chain_id: 2,
            escrow: Address::repeat_byte(1),
            source_chain_id: 1,
            deposit_id: B256::repeat_byte(7),
            token: Address::repeat_byte(2),
            recipient: Address::repeat_byte(3),
            amount: U256::from(amount),
            deadline,
        }
    }

    #[test]
    fn fence_ignores_content_and_substance_ignores_deadline() {
        assert_eq!(release(1, 5).fence(), release(2, 6).fence());
        assert_eq!(release(1, 5).substance(), release(2, 5).substance());
        assert_ne!(release(1, 5).substance(), release(1, 6).substance());
        let cancel = Attestation::CancelRelease {
            chain_id: 2,
            escrow: Address::repeat_byte(1),
            source_chain_id: 1,
            deposit_id: B256::repeat_byte(7),
        };
        assert_ne!(cancel.fence(), release(1, 5).fence());
    }

    #[test]
    fn json_is_tagged_and_strict() {
        let j = serde_json::to_value(release(9, 5)).unwrap();
        assert_eq!(j["kind"], "release");
        let back: Attestation = serde_json::from_value(j.clone()).unwrap();
        assert_eq!(back, release(9, 5));
        let mut extra = j;
        extra["surprise"] = serde_json::json!(1);
        assert!(serde_json::from_value::<Attestation>(extra).is_err());
    }

    #[test]
    fn pairs_are_sorted_and_deduplicated() {
        let a = Attested::from_pairs(vec![
            (Address::repeat_byte(9), vec![9]),
            (Address::repeat_byte(1), vec![1]),
            (Address::repeat_byte(9), vec![9]),
        ]);
        assert_eq!(
            a.signers,
            vec![Address::repeat_byte(1), Address::repeat_byte(9)]
        );
        assert_eq!(a.signatures, vec![vec![1], vec![9]]);
    }
}
