//! EIP-712 messages for Switchyard's EVM contracts, and their signer.
//!
//! Domain: `name "Switchyard"`, `version "1"`, `chainId`, `verifyingContract`.
//! A signature therefore names one chain and one contract: the same batch
//! signed for chain A does not verify on chain B, nor on another deployment.
//! Types, exactly as the contract hashes them:
//!
//! ```text
//! PayoutBatch(bytes32 batchId,address token,Payout[] payouts,uint64 deadline)
//! Payout(address to,uint256 amount)
//! ```
//!
//! Signatures are 65 bytes `r || s || v` with `v` 27 or 28 and low `s`
//! (RFC 6979 nonces, s normalised), as OpenZeppelin's `ECDSA.recover`
//! expects.

use alloy::primitives::{Address as EvmAddress, B256, U256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol;
use alloy::sol_types::{Eip712Domain, SolStruct, eip712_domain};
use serde::Deserialize;
use switchyard_core::address::{Address, ChainKind};
use switchyard_core::{Amount, Error, Result};

sol! {
    /// One item of a batch: pay `amount` base units of the batch token to `to`.
    #[derive(Debug, PartialEq, Eq)]
    struct Payout {
        address to;
        uint256 amount;
    }

    /// A batch of payouts of one token, valid until `deadline` (unix seconds).
    #[derive(Debug, PartialEq, Eq)]
    struct PayoutBatch {
        bytes32 batchId;
        address token;
        Payout[] payouts;
        uint64 deadline;
    }
}

/// Most payouts one batch may carry (bounded by block gas in practice).
pub const MAX_PAYOUTS: usize = 2_000;

/// The Switchyard domain for a contract on a chain.
pub fn domain(chain_id: u64, verifying_contract: EvmAddress) -> Eip712Domain {
    eip712_domain! {
        name: "Switchyard",
        version: "1",
        chain_id: chain_id,
        verifying_contract: verifying_contract,
    }
}

/// The EIP-712 digest the contract recovers signers from.
pub fn payout_batch_digest(batch: &PayoutBatch, domain: &Eip712Domain) -> B256 {
    batch.eip712_signing_hash(domain)
}

/// The batch file format of `switchyard sign payout-batch`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayoutBatchFile {
    /// `0x` + 64 hex digits.
    pub batch_id: String,
    /// ERC-20 token address.
    pub token: String,
    /// Items.
    pub payouts: Vec<PayoutFileItem>,
    /// Unix seconds.
    pub deadline: u64,
}

/// One item of a [`PayoutBatchFile`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayoutFileItem {
    /// Recipient address.
    pub to: String,
    /// Amount in base units, decimal digits, up to 2^256-1.
    pub amount: String,
}

fn evm_address(field: &str, s: &str) -> Result<EvmAddress> {
    match Address::parse(ChainKind::Evm, field, s)? {
        Address::Evm(a) => Ok(EvmAddress::from(a.into_array())),
        _ => Err(Error::invalid(field, "not an EVM address")),
    }
}

impl PayoutBatchFile {
    /// Parses JSON text, naming the offending field on error.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| Error::invalid("batch", e.to_string()))
    }

    /// Validates every field into the signed struct.
    pub fn validate(&self) -> Result<PayoutBatch> {
        let hex = self
            .batch_id
            .strip_prefix("0x")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| Error::invalid("batch_id", "expected 0x followed by 64 hex digits"))?;
        let batch_id: B256 = hex
            .parse()
            .map_err(|_| Error::invalid("batch_id", "expected 0x followed by 64 hex digits"))?;
        let token = evm_address("token", &self.token)?;
        if self.payouts.is_empty() {
            return Err(Error::invalid(
                "payouts",
                "a batch needs at least one payout",
            ));
        }
        if self.payouts.len() > MAX_PAYOUTS {
            return Err(Error::invalid(
                "payouts",
                format!("at most {MAX_PAYOUTS} per batch"),
            ));
        }
        let payouts = self
            .payouts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let to = evm_address(&format!("payouts[{i}].to"), &p.to)?;
                let amount: U256 =
                    Amount::parse_raw(&format!("payouts[{i}].amount"), &p.amount, 0)?.raw;
                if amount.is_zero() {
                    return Err(Error::invalid(
                        format!("payouts[{i}].amount"),
                        "must be greater than zero",
                    ));
                }
                Ok(Payout { to, amount })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(PayoutBatch {
            batchId: batch_id,
            token,
            payouts,
            deadline: self.deadline,
        })
    }
}

/// Chain ids of public mainnets, where a well-known development key must
/// never sign.
pub const MAINNET_CHAIN_IDS: [u64; 8] = [1, 10, 56, 137, 8453, 42161, 43114, 728126428];

/// The first accounts of the standard development mnemonic (anvil,
/// hardhat): public knowledge, so anything they sign can be forged.
const DEV_KEYS: [&str; 3] = [
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
];

/// A local secp256k1 key that signs EIP-712 digests.
#[derive(Clone, Debug)]
pub struct Eip712Signer {
    key: PrivateKeySigner,
    dev_key: bool,
}

impl Eip712Signer {
    /// Parses a hex private key (with or without `0x`); `field` names where
    /// it came from (e.g. `SWITCHYARD_SIGNER_KEY`). The key is never echoed.
    pub fn from_hex(field: &str, hex: &str) -> Result<Self> {
        let h = hex.trim().trim_start_matches("0x").to_ascii_lowercase();
        let key: PrivateKeySigner = h
            .parse()
            .map_err(|_| Error::invalid(field, "not a 32-byte hex secp256k1 private key"))?;
        Ok(Self {
            key,
            dev_key: DEV_KEYS.contains(&h.as_str()),
        })
    }

    /// The signer's address.
    pub fn address(&self) -> EvmAddress {
        self.key.address()
    }

    /// Refuses a well-known development key on a mainnet chain id.
    pub fn check_chain(&self, field: &str, chain_id: u64) -> Result<()> {
        if self.dev_key && MAINNET_CHAIN_IDS.contains(&chain_id) {
            return Err(Error::invalid(
                field,
                format!("a public development key must not sign for mainnet chain id {chain_id}"),
            ));
        }
        Ok(())
    }

    /// Signs a digest: `r || s || v`, `v` in {27, 28}, low `s`.
    pub fn sign_digest(&self, digest: &B256) -> Result<[u8; 65]> {
        let sig = self
            .key
            .sign_hash_sync(digest)
            .map_err(|e| Error::invalid("signature", e.to_string()))?;
        Ok(sig.as_bytes())
    }
}

#[cfg(test)]
mod tests;
