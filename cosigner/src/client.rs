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
