//! The EVM side of [`Attestation`]: its EIP-712 digest, the calldata that
//! carries its signatures, and [`LocalAttester`] (keys in this process, for
//! tests and offline tools; a deployment asks co-signers instead).

use alloy::primitives::{Address as EvmAddress, B256, U256};
use switchyard_core::attest::{AttestError, AttestFuture, Attestation, Attested, Attester};

use super::contracts::{
    CancelBatch, CancelRelease, Refund, Release, TreasuryDeposit, cancel_batch_call,
    cancel_release_call, digest as struct_digest, execute_call, refund_call, release_call,
    treasury_deposit_call,
};
use super::eip712::{Eip712Signer, Payout, PayoutBatch, domain};

/// The contract's own struct of a message.
enum Typed {
    Batch(PayoutBatch),
    Cancel(CancelBatch),
    Release(Release),
    CancelRelease(CancelRelease),
    Refund(Refund),
    Treasury(TreasuryDeposit),
}

fn typed(a: &Attestation) -> Typed {
    match a {
        Attestation::PayoutBatch {
            batch_id,
            token,
            payouts,
            deadline,
            ..
        } => Typed::Batch(PayoutBatch {
            batchId: *batch_id,
            token: *token,
            payouts: payouts
                .iter()
                .map(|p| Payout {
                    to: p.to,
                    amount: p.amount,
                })
                .collect(),
            deadline: *deadline,
        }),
        Attestation::CancelBatch { batch_id, .. } => {
            Typed::Cancel(CancelBatch { batchId: *batch_id })
        }
        Attestation::Release {
            source_chain_id,
            deposit_id,
            token,
            recipient,
            amount,
            deadline,
            ..
        } => Typed::Release(Release {
            sourceChainId: U256::from(*source_chain_id),
            depositId: *deposit_id,
            token: *token,
            recipient: *recipient,
            amount: *amount,
            deadline: *deadline,
        }),
        Attestation::CancelRelease {
            source_chain_id,
            deposit_id,
            ..
        } => Typed::CancelRelease(CancelRelease {
            sourceChainId: U256::from(*source_chain_id),
            depositId: *deposit_id,
        }),
        Attestation::Refund { deposit_id, .. } => Typed::Refund(Refund {
            depositId: *deposit_id,
        }),
        Attestation::TreasuryDeposit {
            op_id,
            escrow,
            token,
            amount,
            destination_chain_id,
            recipient,
            deadline,
            ..
        } => Typed::Treasury(TreasuryDeposit {
            opId: *op_id,
            escrow: *escrow,
            token: *token,
            amount: *amount,
            destinationChainId: U256::from(*destination_chain_id),
            recipient: *recipient,
            deadline: *deadline,
        }),
    }
}

/// The EIP-712 digest its contract recovers signers from, computed from
/// the message's own fields.
pub fn digest(a: &Attestation) -> B256 {
    let d = domain(a.chain_id(), a.contract());
    match typed(a) {
        Typed::Batch(m) => struct_digest(&m, &d),
        Typed::Cancel(m) => struct_digest(&m, &d),
        Typed::Release(m) => struct_digest(&m, &d),
        Typed::CancelRelease(m) => struct_digest(&m, &d),
        Typed::Refund(m) => struct_digest(&m, &d),
        Typed::Treasury(m) => struct_digest(&m, &d),
    }
}

/// The calldata of the contract call that carries `a` with `sigs`, to
/// `a.contract()`.
pub fn calldata(a: &Attestation, sigs: &Attested) -> Vec<u8> {
    let (signers, signatures) = (sigs.signers.clone(), sigs.signatures.clone());
    match typed(a) {
        Typed::Batch(m) => execute_call(&m, signers, signatures),
        Typed::Cancel(m) => cancel_batch_call(m.batchId, signers, signatures),
        Typed::Release(m) => release_call(&m, signers, signatures),
        Typed::CancelRelease(m) => cancel_release_call(&m, signers, signatures),
        Typed::Refund(m) => refund_call(m.depositId, signers, signatures),
        Typed::Treasury(m) => treasury_deposit_call(&m, signers, signatures),
    }
}

/// Keys held in this process that all sign everything they are shown
/// (tests, `switchyard sign`). `field` names where the keys came from.
#[derive(Clone, Debug)]
pub struct LocalAttester {
    keys: Vec<Eip712Signer>,
    field: String,
}

impl LocalAttester {
    /// One or more keys; each signs every message.
    pub fn new(keys: Vec<Eip712Signer>, field: impl Into<String>) -> Self {
        Self {
            keys,
            field: field.into(),
        }
    }

    /// The keys' addresses.
    pub fn addresses(&self) -> Vec<EvmAddress> {
        self.keys.iter().map(Eip712Signer::address).collect()
    }

    /// Signs now.
    pub fn sign(&self, a: &Attestation) -> Result<Attested, AttestError> {
        let d = digest(a);
        let mut pairs = Vec::with_capacity(self.keys.len());
        for k in &self.keys {
            k.check_chain(&self.field, a.chain_id())
                .map_err(|e| AttestError::Config(e.to_string()))?;
            let sig = k
                .sign_digest(&d)
                .map_err(|e| AttestError::Config(e.to_string()))?;
            pairs.push((k.address(), sig.to_vec()));
        }
        Ok(Attested::from_pairs(pairs))
    }
}

impl Attester for LocalAttester {
    fn attest<'a>(&'a self, what: &'a Attestation) -> AttestFuture<'a> {
        Box::pin(async move { self.sign(what) })
    }
}
