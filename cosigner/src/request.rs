//! The authenticated request a daemon sends a co-signer.
//!
//! The daemon signs, with its identity key, the EIP-712 struct
//!
//! ```text
//! CosignRequest(address cosigner,uint64 issuedMs,bytes32 nonce,bytes32 message)
//! ```
//!
//! under the domain `name "Switchyard co-signer"`, `version "1"`, where
//! `message` is the EIP-712 digest of the message to sign. The signature
//! thus binds the one co-signer asked, the moment, a one-time nonce and
//! the exact message; it cannot be replayed to another co-signer, later,
//! twice, or for another message.

use alloy::primitives::{Address, B256, Signature};
use alloy::sol;
use alloy::sol_types::{Eip712Domain, SolStruct, eip712_domain};
use serde::{Deserialize, Serialize};
use switchyard_chains::evm::attest::digest;
use switchyard_chains::evm::eip712::Eip712Signer;
use switchyard_core::attest::Attestation;

sol! {
    /// What the daemon's identity key signs.
    struct CosignRequest {
        address cosigner;
        uint64 issuedMs;
        bytes32 nonce;
        bytes32 message;
    }
}

fn domain() -> Eip712Domain {
    eip712_domain! {
        name: "Switchyard co-signer",
        version: "1",
    }
}

/// A request to sign `message`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    /// The co-signer asked (its signing address).
    pub cosigner: Address,
    /// When the daemon made the request, Unix ms.
    pub issued_ms: u64,
    /// Never reused.
    pub nonce: B256,
    /// What to sign.
    pub message: Attestation,
    /// The daemon identity key's signature of the above, 65 bytes hex.
    pub auth: alloy::primitives::Bytes,
}

/// The digest the identity key signs.
pub fn auth_digest(cosigner: Address, issued_ms: u64, nonce: B256, message: &Attestation) -> B256 {
    auth_digest_of(cosigner, issued_ms, nonce, digest(message))
}

/// The digest the identity key signs for a message whose own digest is
/// `message` (an attestation's EIP-712 digest, a vault release's).
pub fn auth_digest_of(cosigner: Address, issued_ms: u64, nonce: B256, message: B256) -> B256 {
    CosignRequest {
        cosigner,
        issuedMs: issued_ms,
        nonce,
        message,
    }
    .eip712_signing_hash(&domain())
}

impl SignRequest {
    /// What the store decides: the message's fence, content and budgets'
    /// key.
    pub fn ask(&self) -> Result<crate::store::Ask, crate::policy::Refusal> {
        let json = |v: &Attestation| {
            serde_json::to_string(v)
                .map_err(|e| crate::policy::Refusal::new("store", e.to_string()))
        };
        Ok(crate::store::Ask {
            nonce: self.nonce,
            issued_ms: self.issued_ms,
            fence: self.message.fence(),
            kind: self.message.kind(),
            chain_key: self.message.chain_id(),
            substance: json(&self.message.substance())?,
            message: json(&self.message)?,
            deadline: self.message.deadline(),
            resign: false,
            about: String::new(),
        })
    }

    /// A request signed by `identity`, with a fresh random nonce.
    pub fn new(
        identity: &Eip712Signer,
        cosigner: Address,
        issued_ms: u64,
        message: Attestation,
    ) -> switchyard_core::Result<Self> {
        let nonce = B256::from(rand08::random::<[u8; 32]>());
        let d = auth_digest(cosigner, issued_ms, nonce, &message);
        let auth = identity.sign_digest(&d)?.to_vec().into();
        Ok(Self {
            cosigner,
            issued_ms,
            nonce,
            message,
            auth,
        })
    }

    /// Who signed it, if the signature is well formed.
    pub fn signed_by(&self) -> Option<Address> {
        let sig = Signature::try_from(self.auth.as_ref()).ok()?;
        let d = auth_digest(self.cosigner, self.issued_ms, self.nonce, &self.message);
        sig.recover_address_from_prehash(&d).ok()
    }
}

/// The answer: the co-signer's signature of the message's digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignAnswer {
    /// The co-signer's address.
    pub signer: Address,
    /// 65 bytes `r || s || v`.
    pub signature: alloy::primitives::Bytes,
}

/// What `cosigner_info` says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Info {
    /// Its signing address.
    pub signer: Address,
    /// Chains (topology ids) its policy allows.
    pub chains: Vec<String>,
}

/// Recovers the signer of a 65-byte signature over `d`.
pub fn recover(d: &B256, sig: &[u8]) -> Option<Address> {
    Signature::try_from(sig)
        .ok()?
        .recover_address_from_prehash(d)
        .ok()
}
