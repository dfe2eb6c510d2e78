//! Releases from a Solana bridge vault (an SPL Token multisig's token
//! account, `switchyard_chains::solana::vault`), signed by the co-signers
//! that hold the multisig's keys.
//!
//! The daemon sends the exact message bytes of a release transaction with
//! what it claims the release is ([`ReleaseCheck`]: source domain, deposit,
//! recipient, amount, signers). The co-signer, in order:
//!
//! 1. authenticates the request as it does an attestation (identity key,
//!    audience, age, one-time nonce);
//! 2. finds the vault in its own policy (vault, multisig, mint, decimals,
//!    threshold and the multisig's signers in their on-chain order, the
//!    first being the receipt key): nothing of the vault is taken from
//!    the daemon;
//! 3. decodes the message and refuses anything but exactly that release
//!    ([`check_release`]), from a source chain its policy lists;
//! 4. checks the recipient against the deny list, the amount against the
//!    item cap, and (in its store, in one transaction with the signature)
//!    the vault's budget per window and the recipient's cap;
//! 5. signs at most one release content per deposit, ever: the same
//!    content in a new message (a new blockhash, after the last attempt
//!    was proven dead) is signed again and counted once, since the
//!    deposit's receipt lets at most one of them execute.

use std::collections::HashMap;

use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use serde::{Deserialize, Serialize};
use solana_sdk::pubkey::Pubkey;
use switchyard_chains::evm::eip712::Eip712Signer;
use switchyard_chains::solana::vault::{ReleaseCheck, VaultContext, check_release, decode_message};
use switchyard_core::{Error, Result};

use crate::Cosigner;
use crate::policy::{Moves, Refusal, micro, show, usd_micro};
use crate::request::{auth_digest_of, recover};
use crate::store::{Ask, Limits, Signed};

/// What a co-signer may sign for one vault.
#[derive(Clone, Debug)]
pub struct VaultPolicy {
    /// Topology chain id of the vault's chain (deny list key).
    pub id: String,
    /// Its bridge domain (derived from `id`).
    pub domain: u64,
    /// The vault token account.
    pub vault: Pubkey,
    /// The SPL Token multisig owning it.
    pub multisig: Pubkey,
    /// The mint.
    pub mint: Pubkey,
    /// The mint's decimals (valued at one US dollar).
    pub decimals: u8,
    /// Signatures the multisig needs.
    pub threshold: u8,
    /// The multisig's signers, in its order (the first signs receipts).
    pub signers: Vec<Pubkey>,
    /// Largest release, micro-USD.
    pub max_item: u128,
    /// Most per recipient per window, micro-USD.
    pub max_recipient: u128,
    /// Most per window, micro-USD.
    pub budget: u128,
}

impl VaultPolicy {
    /// Its windowed budgets.
    pub fn limits(&self) -> Limits<'_> {
        Limits {
            id: &self.id,
            max_recipient: self.max_recipient,
            budget: self.budget,
        }
    }

    /// The vault as [`check_release`] sees it, for a message paid by
    /// `payer`.
    pub fn context(&self, payer: Pubkey) -> VaultContext {
        VaultContext {
            vault: self.vault,
            multisig: self.multisig,
            mint: self.mint,
            decimals: self.decimals,
            payer,
            threshold: self.threshold,
            signers: self.signers.clone(),
        }
    }
}

/// `[[vault]]` in the policy file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VaultFile {
    id: String,
    vault: String,
    multisig: String,
    mint: String,
    decimals: u8,
    threshold: u8,
    signers: Vec<String>,
    max_item_usd: u64,
    max_recipient_usd: u64,
    budget_usd: u64,
}

fn pubkey(field: &str, s: &str) -> Result<Pubkey> {
    s.parse::<Pubkey>()
        .map_err(|_| Error::invalid(field, format!("{s:?} is not a base58 Solana address")))
}

/// The validated `[[vault]]` entries, by chain id.
pub(crate) fn parse(files: &[VaultFile]) -> Result<HashMap<String, VaultPolicy>> {
    let mut out = HashMap::new();
    for (i, v) in files.iter().enumerate() {
        let at = |k: &str| format!("vault[{i}].{k}");
        let signers = v
            .signers
            .iter()
            .enumerate()
            .map(|(j, s)| pubkey(&at(&format!("signers[{j}]")), s))
            .collect::<Result<Vec<_>>>()?;
        if signers.is_empty() || signers.len() > 11 {
            return Err(Error::invalid(
                at("signers"),
                "an SPL Token multisig has 1 to 11 signers",
            ));
        }
        if v.threshold == 0 || usize::from(v.threshold) > signers.len() {
            return Err(Error::invalid(
                at("threshold"),
                format!("must be between 1 and the {} signers", signers.len()),
            ));
        }
        if v.decimals > 36 {
            return Err(Error::invalid(at("decimals"), "at most 36"));
        }
        if v.id.is_empty() {
            return Err(Error::invalid(at("id"), "name the vault's chain"));
        }
        if let Some(j) = (1..signers.len()).find(|&j| signers[..j].contains(&signers[j])) {
            return Err(Error::invalid(at(&format!("signers[{j}]")), "listed twice"));
        }
        let (vault, multisig, mint) = (
            pubkey(&at("vault"), &v.vault)?,
            pubkey(&at("multisig"), &v.multisig)?,
            pubkey(&at("mint"), &v.mint)?,
        );
        if vault != switchyard_chains::solana::associated_token_account(&multisig, &mint) {
            return Err(Error::invalid(
                at("vault"),
                format!("not the associated token account of {multisig} for {mint}"),
            ));
        }
        if out
            .values()
            .any(|o: &VaultPolicy| o.vault == vault || o.multisig == multisig)
        {
            return Err(Error::invalid(
                at("vault"),
                "this vault or multisig is listed twice (its budget would count twice)",
            ));
        }
        let p = VaultPolicy {
            id: v.id.clone(),
            domain: switchyard_core::topology::derived_bridge_domain(&v.id),
            vault,
            multisig,
            mint,
            decimals: v.decimals,
            threshold: v.threshold,
            signers,
            max_item: micro(&at("max_item_usd"), v.max_item_usd)?,
            max_recipient: micro(&at("max_recipient_usd"), v.max_recipient_usd)?,
            budget: micro(&at("budget_usd"), v.budget_usd)?,
        };
        if out.insert(v.id.clone(), p).is_some() {
            return Err(Error::invalid(at("id"), "listed twice"));
        }
    }
    Ok(out)
}

/// A request to sign a vault release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    /// The co-signer asked (its EVM signing address, as for attestations).
    pub cosigner: Address,
    /// When the daemon made the request, Unix ms.
    pub issued_ms: u64,
    /// Never reused.
    pub nonce: B256,
    /// Topology id of the vault's chain.
    pub chain: String,
    /// What the daemon says the release is.
    pub release: ReleaseCheck,
    /// The transaction message to sign, as serialized.
    pub message: Bytes,
    /// The daemon identity key's signature of the above.
    pub auth: Bytes,
}

/// The digest of a release request's content (what the identity key's
/// signature binds, through [`auth_digest_of`]).
pub fn release_digest(chain: &str, release: &ReleaseCheck, message: &[u8]) -> B256 {
    let mut b = b"switchyard vault release v1\0".to_vec();
    b.extend_from_slice(chain.as_bytes());
    b.push(0);
    b.extend_from_slice(&release.source_domain.to_be_bytes());
    b.extend_from_slice(&release.deposit_id);
    b.extend_from_slice(&release.recipient);
    b.extend_from_slice(&release.amount.to_be_bytes());
    b.extend_from_slice(
        &u64::try_from(release.signers.len())
            .unwrap_or(u64::MAX)
            .to_be_bytes(),
    );
    for s in &release.signers {
        b.extend_from_slice(s);
    }
    b.extend_from_slice(message);
    keccak256(b)
}

impl ReleaseRequest {
    /// A request signed by `identity`, with a fresh random nonce.
    pub fn new(
        identity: &Eip712Signer,
        cosigner: Address,
        issued_ms: u64,
        chain: &str,
        release: ReleaseCheck,
        message: Vec<u8>,
    ) -> Result<Self> {
        let nonce = B256::from(rand08::random::<[u8; 32]>());
        let d = auth_digest_of(
            cosigner,
            issued_ms,
            nonce,
            release_digest(chain, &release, &message),
        );
        let auth = identity.sign_digest(&d)?.to_vec().into();
        Ok(Self {
            cosigner,
            issued_ms,
            nonce,
            chain: chain.to_owned(),
            release,
            message: message.into(),
            auth,
        })
    }

    /// Who signed it, if the signature is well formed.
    pub fn signed_by(&self) -> Option<Address> {
        let d = auth_digest_of(
            self.cosigner,
            self.issued_ms,
            self.nonce,
            release_digest(&self.chain, &self.release, &self.message),
        );
        recover(&d, &self.auth)
    }

    /// The replay fence: the deposit released from this chain's vault.
    pub fn fence(&self) -> String {
        let hex: String = self
            .release
            .deposit_id
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect();
        format!(
            "vault_release:{}:{}:0x{hex}",
            self.chain, self.release.source_domain
        )
    }

    /// What the store decides, counted under `domain`: one release
    /// content per deposit, ever. The content is what the deposit pays and
    /// where from (the vault, its multisig and receipt key, from this
    /// co-signer's policy); not which of the signers sign it, since every
    /// release of the deposit allocates the same receipt.
    fn ask(&self, domain: u64, v: Option<&VaultPolicy>) -> std::result::Result<Ask, Refusal> {
        let hex = |b: &[u8]| alloy::primitives::hex::encode_prefixed(b);
        let recipient = Pubkey::new_from_array(self.release.recipient).to_string();
        let substance = serde_json::json!({
            "chain": self.chain,
            "source_domain": self.release.source_domain,
            "deposit_id": hex(&self.release.deposit_id),
            "recipient": recipient,
            "amount": self.release.amount.to_string(),
            "vault": v.map(|v| v.vault.to_string()),
            "multisig": v.map(|v| v.multisig.to_string()),
            "receipt_key": v.and_then(|v| v.signers.first()).map(ToString::to_string),
        })
        .to_string();
        let about = format!(
            "{} to {recipient} for deposit {} from {}; message keccak {}",
            self.release.amount,
            hex(&self.release.deposit_id),
            self.release.source_domain,
            keccak256(&self.message)
        );
        Ok(Ask {
            nonce: self.nonce,
            issued_ms: self.issued_ms,
            fence: self.fence(),
            kind: "vault_release",
            chain_key: domain,
            substance,
            message: alloy::primitives::hex::encode(&self.message),
            deadline: None,
            resign: true,
            about,
        })
    }
}

/// A co-signer's signature of a release message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseAnswer {
    /// The co-signer's Solana key, base58.
    pub signer: String,
    /// Its ed25519 signature of the message, 64 bytes hex.
    pub signature: Bytes,
}

impl Cosigner {
    /// Decides one release request at `now_ms`: each check in order, the
    /// first that fails refuses (audited), else the signature (recorded
    /// first).
    pub fn handle_release(
        &self,
        req: &ReleaseRequest,
        now_ms: u64,
    ) -> std::result::Result<ReleaseAnswer, Refusal> {
        let vault = self.policy().vaults.get(&req.chain);
        let ask = self.admit(
            req.signed_by(),
            req.cosigner,
            req.issued_ms,
            req.ask(
                switchyard_core::topology::derived_bridge_domain(&req.chain),
                vault,
            ),
            now_ms,
        )?;
        let refuse = |r: Refusal| -> std::result::Result<ReleaseAnswer, Refusal> {
            self.store().refuse(&ask, &r, now_ms)?;
            Err(r)
        };
        let Some(v) = vault else {
            return refuse(Refusal::new(
                "chain",
                format!(
                    "{} is not a vault chain of this co-signer's policy",
                    req.chain
                ),
            ));
        };
        let Some((key, mine)) = self.solana_key() else {
            return refuse(Refusal::new("key", "this co-signer holds no Solana key"));
        };
        let check = &req.release;
        if !check.signers.contains(&mine.to_bytes()) {
            return refuse(Refusal::new(
                "audience",
                format!("the release is not to be signed by {mine}, this co-signer's key"),
            ));
        }
        if check.source_domain == v.domain
            || !self.policy().chains.contains_key(&check.source_domain)
        {
            return refuse(Refusal::new(
                "chain",
                format!(
                    "source chain id {} is not in this co-signer's policy",
                    check.source_domain
                ),
            ));
        }
        let message = match decode_message(&req.message) {
            Ok(m) => m,
            Err(e) => return refuse(Refusal::new("message", e)),
        };
        let Some(payer) = message.account_keys.first().copied() else {
            return refuse(Refusal::new("message", "a message with no accounts"));
        };
        if let Err(e) = check_release(&v.context(payer), check, &message) {
            return refuse(Refusal::new("message", e));
        }
        let recipient = Pubkey::new_from_array(check.recipient).to_string();
        if self.deny_list().denies(&v.id, &recipient) {
            return refuse(Refusal::new(
                "deny_list",
                format!("{recipient} is on the deny list"),
            ));
        }
        if check.amount == 0 {
            return refuse(Refusal::new("amount", "zero amount"));
        }
        let Some(usd) = usd_micro(U256::from(check.amount), v.decimals) else {
            return refuse(Refusal::new("amount", "amount too large"));
        };
        if usd > v.max_item {
            return refuse(Refusal::new(
                "item_cap",
                format!(
                    "{} USD, more than the {} USD cap per release",
                    show(usd),
                    show(v.max_item)
                ),
            ));
        }
        let moves = Moves {
            total: usd,
            per_recipient: [(recipient, usd)].into(),
            own: Default::default(),
        };
        let signed = self.store().decide(
            &ask,
            &v.limits(),
            &moves,
            self.policy().window_ms,
            now_ms,
            || {
                key.sign(&req.message)
                    .map_err(|e| Refusal::new("key", e.to_string()))
            },
        )?;
        let sig = match signed {
            Signed::New(s) => {
                tracing::info!(fence = %ask.fence, "release signed");
                s
            }
            Signed::Again(s) => s,
        };
        Ok(ReleaseAnswer {
            signer: mine.to_string(),
            signature: sig.into(),
        })
    }
}

#[cfg(test)]
#[path = "vault_tests.rs"]
mod tests;
