//! The daemon's side: [`RemoteAttester`] asks every co-signer at once and
//! takes the first `threshold` valid signatures (lowest addresses first,
//! as `SignerSet` wants them ascending). Every answer is checked against
//! the digest computed here and the address configured for that
//! co-signer: a co-signer cannot slip in a signature of something else.

use std::time::Duration;

use alloy::primitives::Address;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use switchyard_chains::evm::attest::digest;
use switchyard_chains::evm::eip712::Eip712Signer;
use switchyard_core::attest::{AttestError, AttestFuture, Attestation, Attested, Attester};
use switchyard_core::{Error, Result};

use crate::request::{SignAnswer, SignRequest, recover};
use crate::vault::{ReleaseAnswer, ReleaseRequest};
use solana_sdk::message::Message;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::Signature;
use switchyard_chains::solana::vault::{ReleaseCheck, VaultContext, VaultSigners};
use switchyard_core::chain::ChainError;
use switchyard_core::chain::vm::VmFuture;

/// A co-signer as the daemon's config names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignerEndpoint {
    /// Name in logs and reasons.
    pub name: String,
    /// Its API, `http://host:port`.
    pub url: String,
    /// Its signing address (a member of the contracts' signer set).
    pub address: Address,
}

/// M of N co-signers.
pub struct RemoteAttester {
    identity: Eip712Signer,
    cosigners: Vec<(CosignerEndpoint, HttpClient)>,
    threshold: usize,
}

impl std::fmt::Debug for RemoteAttester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteAttester")
            .field("identity", &self.identity.address())
            .field(
                "cosigners",
                &self
                    .cosigners
                    .iter()
                    .map(|(c, _)| &c.name)
                    .collect::<Vec<_>>(),
            )
            .field("threshold", &self.threshold)
            .finish()
    }
}

impl RemoteAttester {
    /// `threshold` of `cosigners`, asked with `identity`'s signature, each
    /// answer awaited at most `timeout`.
    pub fn new(
        identity: Eip712Signer,
        cosigners: Vec<CosignerEndpoint>,
        threshold: usize,
        timeout: Duration,
    ) -> Result<Self> {
        if threshold == 0 || threshold > cosigners.len() {
            return Err(Error::invalid(
                "relayer.signing.threshold",
                format!(
                    "must be between 1 and the {} co-signers listed",
                    cosigners.len()
                ),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::with_capacity(cosigners.len());
        for (i, c) in cosigners.into_iter().enumerate() {
            if !seen.insert(c.address) {
                return Err(Error::invalid(
                    format!("relayer.signing.cosigner[{i}].address"),
                    "listed twice: each co-signer counts once",
                ));
            }
            let client = HttpClientBuilder::default()
                .request_timeout(timeout)
                .build(&c.url)
                .map_err(|e| {
                    Error::invalid(format!("relayer.signing.cosigner[{i}].url"), e.to_string())
                })?;
            out.push((c, client));
        }
        Ok(Self {
            identity,
            cosigners: out,
            threshold,
        })
    }

    /// The identity address co-signers must know.
    pub fn identity(&self) -> Address {
        self.identity.address()
    }

    async fn ask(
        &self,
        c: &CosignerEndpoint,
        client: &HttpClient,
        what: &Attestation,
    ) -> std::result::Result<Vec<u8>, String> {
        let req = SignRequest::new(
            &self.identity,
            c.address,
            switchyard_core::now_ms(),
            what.clone(),
        )
        .map_err(|e| e.to_string())?;
        let a: SignAnswer = client
            .request("cosigner_sign", rpc_params![req])
            .await
            .map_err(|e| match e {
                jsonrpsee::core::ClientError::Call(o) => o.message().to_owned(),
                jsonrpsee::core::ClientError::RequestTimeout => "no answer in time".to_owned(),
                e => format!("unreachable ({e})"),
            })?;
        if a.signer != c.address || recover(&digest(what), &a.signature) != Some(c.address) {
            return Err("answered a signature that does not verify for it".to_owned());
        }
        Ok(a.signature.to_vec())
    }
}

impl Attester for RemoteAttester {
    fn attest<'a>(&'a self, what: &'a Attestation) -> AttestFuture<'a> {
        Box::pin(async move {
            let answers = futures::future::join_all(
                self.cosigners
                    .iter()
                    .map(|(c, client)| self.ask(c, client, what)),
            )
            .await;
            let mut good = Vec::new();
            let mut why = Vec::new();
            for ((c, _), a) in self.cosigners.iter().zip(answers) {
                match a {
                    Ok(sig) => good.push((c.address, sig)),
                    Err(e) => why.push(format!("{}: {e}", c.name)),
                }
            }
            if good.len() < self.threshold {
                return Err(AttestError::Unavailable {
                    need: self.threshold,
                    got: good.len(),
                    detail: why.join("; "),
                });
            }
            if !why.is_empty() {
                tracing::warn!(kind = what.kind(), fence = %what.fence(), missing = %why.join("; "), "signed without every co-signer");
            }
            good.sort_by_key(|(a, _)| *a);
            good.truncate(self.threshold);
            Ok(Attested::from_pairs(good))
        })
    }
}

/// The vault's signers of a Solana chain, reached as co-signers: each
/// release message goes to the co-signers holding the keys it names, and
/// every answer is verified against that key before it is used.
pub struct RemoteVaultSigners {
    identity: Eip712Signer,
    chain: String,
    members: Vec<(CosignerEndpoint, Pubkey, HttpClient)>,
}

impl std::fmt::Debug for RemoteVaultSigners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteVaultSigners")
            .field("chain", &self.chain)
            .field(
                "members",
                &self
                    .members
                    .iter()
                    .map(|(c, k, _)| (&c.name, k.to_string()))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl RemoteVaultSigners {
    /// The co-signers of `members` (each with its Solana key) signing
    /// releases from the vault of `chain`, asked with `identity`'s
    /// signature, each answer awaited at most `timeout`.
    pub fn new(
        identity: Eip712Signer,
        chain: &str,
        members: Vec<(CosignerEndpoint, Pubkey)>,
        timeout: Duration,
    ) -> Result<Self> {
        let mut out: Vec<(CosignerEndpoint, Pubkey, HttpClient)> = Vec::new();
        for (c, key) in members {
            if out.iter().any(|(_, k, _)| *k == key) {
                return Err(Error::invalid(
                    format!("{}: solana_key", c.name),
                    format!("{key} listed twice: each key signs once"),
                ));
            }
            let client = HttpClientBuilder::default()
                .request_timeout(timeout)
                .build(&c.url)
                .map_err(|e| Error::invalid(format!("{}: url", c.name), e.to_string()))?;
            out.push((c, key, client));
        }
        Ok(Self {
            identity,
            chain: chain.to_owned(),
            members: out,
        })
    }

    async fn ask(
        &self,
        c: &CosignerEndpoint,
        key: &Pubkey,
        client: &HttpClient,
        check: &ReleaseCheck,
        message: &[u8],
    ) -> std::result::Result<Signature, ChainError> {
        let req = ReleaseRequest::new(
            &self.identity,
            c.address,
            switchyard_core::now_ms(),
            &self.chain,
            check.clone(),
            message.to_vec(),
        )
        .map_err(|e| ChainError::Malformed(e.to_string()))?;
        let a: ReleaseAnswer = client
            .request("cosigner_sign_release", rpc_params![req])
            .await
            .map_err(|e| match e {
                jsonrpsee::core::ClientError::Call(o) => {
                    ChainError::Malformed(format!("{}: {}", c.name, o.message()))
                }
                jsonrpsee::core::ClientError::RequestTimeout => {
                    ChainError::Transport(format!("{}: no answer in time", c.name))
                }
                e => ChainError::Transport(format!("{}: unreachable ({e})", c.name)),
            })?;
        let sig = <[u8; 64]>::try_from(a.signature.as_ref())
            .ok()
            .map(Signature::from)
            .filter(|s| a.signer == key.to_string() && s.verify(key.as_ref(), message));
        sig.ok_or_else(|| {
            ChainError::Malformed(format!(
                "{}: answered a signature that does not verify for {key}",
                c.name
            ))
        })
    }
}

impl VaultSigners for RemoteVaultSigners {
    fn keys(&self) -> Vec<Pubkey> {
        self.members.iter().map(|(_, k, _)| *k).collect()
    }

    fn sign<'a>(
        &'a self,
        _ctx: &'a VaultContext,
        check: &'a ReleaseCheck,
        message: &'a Message,
    ) -> VmFuture<'a, Vec<(Pubkey, Signature)>> {
        Box::pin(async move {
            let bytes = message.serialize();
            let bytes = bytes.as_slice();
            let mut asks = Vec::with_capacity(check.signers.len());
            for s in &check.signers {
                let s = Pubkey::new_from_array(*s);
                let (c, key, client) =
                    self.members
                        .iter()
                        .find(|(_, k, _)| *k == s)
                        .ok_or_else(|| {
                            ChainError::Malformed(format!("no co-signer holds vault signer {s}"))
                        })?;
                asks.push(async move {
                    self.ask(c, key, client, check, bytes)
                        .await
                        .map(|sig| (*key, sig))
                });
            }
            futures::future::join_all(asks)
                .await
                .into_iter()
                .collect::<std::result::Result<Vec<_>, _>>()
        })
    }
}
