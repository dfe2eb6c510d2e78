//! The co-signer process: its checks, in order, and its JSON-RPC API.
//!
//! `cosigner_info` → [`Info`]; `cosigner_sign(request)` → [`SignAnswer`],
//! or error 4403 with `data: {rule, detail}` (see [`Refusal`]).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use alloy::primitives::Address;
use jsonrpsee::RpcModule;
use jsonrpsee::server::{Server, ServerHandle};
use jsonrpsee::types::ErrorObjectOwned;
use switchyard_chains::evm::attest::digest;
use switchyard_core::deny::{DenyFile, DenyList};
use switchyard_core::{Error, Result};

use crate::keys::{KeyBackend, KeyKind};
use crate::policy::{KeySource, Policy, Refusal};
use crate::request::{Info, SignAnswer, SignRequest};
use crate::store::{Signed, Store};

/// The JSON-RPC error code of every refusal.
pub const REFUSED: i32 = 4403;

/// One co-signer: key, policy, store, deny list.
#[derive(Debug)]
pub struct Cosigner {
    policy: Policy,
    key: Box<dyn KeyBackend>,
    address: Address,
    store: Store,
    deny: Option<DenyFile>,
}

impl Cosigner {
    /// From a validated policy and a secp256k1 key.
    pub fn new(policy: Policy, key: Box<dyn KeyBackend>) -> Result<Self> {
        if key.kind() != KeyKind::Secp256k1 {
            return Err(Error::invalid(
                "key",
                "a co-signer of EVM contracts needs a secp256k1 key",
            ));
        }
        let address: Address = key
            .public()
            .parse()
            .map_err(|_| Error::invalid("key", "no EVM address"))?;
        let store = Store::open(&policy.store)
            .map_err(|e| Error::invalid("store", format!("{}: {e}", policy.store.display())))?;
        let deny = policy
            .deny_list
            .as_deref()
            .map(DenyFile::open)
            .transpose()?;
        Ok(Self {
            policy,
            key,
            address,
            store,
            deny,
        })
    }

    /// Loads the policy at `path` and opens its key: a keystore
    /// (passphrase from `SWITCHYARD_COSIGNER_PASSPHRASE`) or a PKCS#11
    /// token (PIN from `SWITCHYARD_PKCS11_PIN`).
    pub fn load(path: &Path) -> Result<Self> {
        let policy = Policy::load(path)?;
        let key: Box<dyn KeyBackend> = match &policy.key {
            KeySource::Keystore(file) => crate::keys::open(file, KeyKind::Secp256k1)?,
            KeySource::Pkcs11 {
                module,
                token,
                label,
            } => Box::new(crate::pkcs11::open(
                module,
                token,
                label,
                KeyKind::Secp256k1,
            )?),
        };
        Self::new(policy, key)
    }

    /// Its signing address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Its policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Its store (audit log).
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn deny_list(&self) -> DenyList {
        match &self.deny {
            None => DenyList::default(),
            Some(f) => {
                let (l, err) = f.current();
                if let Some(e) = err {
                    tracing::error!(file = %f.path().display(), error = %e, "deny list unreadable; the last good one stays in force");
                }
                l
            }
        }
    }

    /// Decides one request at `now_ms`: each check in order, the first
    /// that fails refuses (audited), else the signature (recorded first).
    pub fn handle(
        &self,
        req: &SignRequest,
        now_ms: u64,
    ) -> std::result::Result<SignAnswer, Refusal> {
        let by = req.signed_by();
        let Some(by) = by.filter(|a| self.policy.daemons.contains(a)) else {
            let r = Refusal::new(
                "auth",
                match by {
                    Some(a) => format!("signed by {a}, not a daemon identity this co-signer knows"),
                    None => "the request's signature is malformed".to_owned(),
                },
            );
            self.store.refuse_unread(now_ms, &r, None)?;
            return Err(r);
        };
        let refuse = |r: Refusal| -> std::result::Result<SignAnswer, Refusal> {
            self.store.refuse(req, &r, now_ms)?;
            Err(r)
        };
        if req.cosigner != self.address() {
            return refuse(Refusal::new(
                "audience",
                format!(
                    "addressed to {}, this co-signer is {}",
                    req.cosigner,
                    self.address()
                ),
            ));
        }
        let skew = now_ms.abs_diff(req.issued_ms);
        if skew > self.policy.max_skew_ms {
            return refuse(Refusal::new(
                "stale",
                format!(
                    "issued {} ms from now; at most {} ms allowed",
                    skew, self.policy.max_skew_ms
                ),
            ));
        }
        if self.store.seen(&req.nonce)? {
            return refuse(Refusal::new(
                "replay",
                format!("nonce {} was used before", req.nonce),
            ));
        }
        let moves = match self
            .policy
            .check(&req.message, &self.deny_list(), now_ms / 1000)
        {
            Ok(m) => m,
            Err(r) => return refuse(r),
        };
        let Some(chain) = self.policy.chains.get(&req.message.chain_id()) else {
            return refuse(Refusal::new("chain", "not in the policy"));
        };
        let d = digest(&req.message);
        let signed =
            self.store
                .decide(req, chain, &moves, self.policy.window_ms, now_ms, || {
                    self.key
                        .sign(d.as_slice())
                        .map_err(|e| Refusal::new("key", e.to_string()))
                })?;
        let sig = match signed {
            Signed::New(s) => {
                tracing::info!(fence = %req.message.fence(), from = %by, "signed");
                s
            }
            Signed::Again(s) => s,
        };
        Ok(SignAnswer {
            signer: self.address(),
            signature: sig.into(),
        })
    }

    /// Its JSON-RPC methods.
    pub fn module(self: Arc<Self>) -> RpcModule<Arc<Self>> {
        let mut m = RpcModule::new(self);
        let ok = m.register_method("cosigner_info", |_, c, _| {
            let mut chains: Vec<String> = c.policy.chains.values().map(|p| p.id.clone()).collect();
            chains.sort();
            Ok::<_, ErrorObjectOwned>(Info {
                signer: c.address(),
                chains,
            })
        });
        debug_assert!(ok.is_ok());
        let ok = m.register_blocking_method("cosigner_sign", |params, c, _| {
            let req: SignRequest = params.one().map_err(|e| {
                ErrorObjectOwned::owned(
                    -32602,
                    format!("invalid request: {}", e.message()),
                    None::<()>,
                )
            })?;
            c.handle(&req, switchyard_core::now_ms()).map_err(|r| {
                ErrorObjectOwned::owned(
                    REFUSED,
                    format!("refused: {r}"),
                    Some(serde_json::json!({"rule": r.rule, "detail": r.detail})),
                )
            })
        });
        debug_assert!(ok.is_ok());
        m
    }

    /// Serves the API on the policy's `listen` address until the handle
    /// is stopped; prunes nonces too old to be accepted once a minute.
    pub async fn serve(self: Arc<Self>) -> Result<(ServerHandle, SocketAddr)> {
        let server = Server::builder()
            .build(&self.policy.listen)
            .await
            .map_err(|e| Error::invalid("listen", format!("{}: {e}", self.policy.listen)))?;
        let addr = server
            .local_addr()
            .map_err(|e| Error::invalid("listen", e.to_string()))?;
        let c = Arc::clone(&self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                let before = switchyard_core::now_ms()
                    .saturating_sub(c.policy.max_skew_ms.saturating_mul(2));
                if let Err(e) = c.store.prune_nonces(before) {
                    tracing::warn!(error = %e, "pruning nonces");
                }
            }
        });
        Ok((server.start(self.module()), addr))
    }
}
