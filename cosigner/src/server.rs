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
use crate::store::{Ask, Signed, Store};
use crate::vault::ReleaseRequest;
use solana_sdk::pubkey::Pubkey;

/// The JSON-RPC error code of every refusal.
pub const REFUSED: i32 = 4403;

fn refused(r: Refusal) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        REFUSED,
        format!("refused: {r}"),
        Some(serde_json::json!({"rule": r.rule, "detail": r.detail})),
    )
}

/// One co-signer: key, policy, store, deny list.
#[derive(Debug)]
pub struct Cosigner {
    policy: Policy,
    key: Box<dyn KeyBackend>,
    address: Address,
    store: Store,
    deny: Option<DenyFile>,
    solana: Option<(Box<dyn KeyBackend>, Pubkey)>,
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
            solana: None,
        })
    }

    /// With `key` (ed25519) as its Solana key, which signs vault releases.
    pub fn with_solana_key(mut self, key: Box<dyn KeyBackend>) -> Result<Self> {
        if key.kind() != KeyKind::Ed25519 {
            return Err(Error::invalid(
                "solana_keystore",
                "a Solana key is an ed25519 key",
            ));
        }
        let bytes: [u8; 32] = alloy::primitives::hex::decode(key.public())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| Error::invalid("solana_keystore", "no 32-byte public key"))?;
        let public = Pubkey::new_from_array(bytes);
        for v in self.policy.vaults.values() {
            if !v.signers.contains(&public) {
                tracing::warn!(vault = %v.vault, key = %public, "this co-signer's Solana key is not one of the vault's signers");
            }
        }
        self.solana = Some((key, public));
        Ok(self)
    }

    /// Its Solana key and public key, if it has one.
    pub fn solana_key(&self) -> Option<(&dyn KeyBackend, Pubkey)> {
        self.solana.as_ref().map(|(k, p)| (k.as_ref(), *p))
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
        let solana = policy
            .solana_key
            .as_deref()
            .map(|f| crate::keys::open(f, KeyKind::Ed25519))
            .transpose()?;
        let c = Self::new(policy, key)?;
        match solana {
            Some(k) => c.with_solana_key(k),
            None => Ok(c),
        }
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

    pub(crate) fn deny_list(&self) -> DenyList {
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

    /// The checks every request passes first, in order: signed by a
    /// daemon identity it knows, addressed to this co-signer, fresh, its
    /// nonce never seen (each refusal audited).
    pub(crate) fn admit(
        &self,
        by: Option<Address>,
        audience: Address,
        issued_ms: u64,
        ask: std::result::Result<Ask, Refusal>,
        now_ms: u64,
    ) -> std::result::Result<Ask, Refusal> {
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
        let ask = match ask {
            Ok(a) => a,
            Err(r) => {
                self.store.refuse_unread(now_ms, &r, None)?;
                return Err(r);
            }
        };
        let refuse = |r: Refusal| -> std::result::Result<Ask, Refusal> {
            self.store.refuse(&ask, &r, now_ms)?;
            Err(r)
        };
        if audience != self.address() {
            return refuse(Refusal::new(
                "audience",
                format!(
                    "addressed to {audience}, this co-signer is {}",
                    self.address()
                ),
            ));
        }
        let skew = now_ms.abs_diff(issued_ms);
        if skew > self.policy.max_skew_ms {
            return refuse(Refusal::new(
                "stale",
                format!(
                    "issued {} ms from now; at most {} ms allowed",
                    skew, self.policy.max_skew_ms
                ),
            ));
        }
        if self.store.seen(&ask.nonce)? {
            return refuse(Refusal::new(
                "replay",
                format!("nonce {} was used before", ask.nonce),
            ));
        }
        tracing::debug!(from = %by, fence = %ask.fence, "request admitted");
        Ok(ask)
    }

    /// Decides one request at `now_ms`: each check in order, the first
    /// that fails refuses (audited), else the signature (recorded first).
    pub fn handle(
        &self,
        req: &SignRequest,
        now_ms: u64,
    ) -> std::result::Result<SignAnswer, Refusal> {
        let ask = self.admit(
            req.signed_by(),
            req.cosigner,
            req.issued_ms,
            req.ask(),
            now_ms,
        )?;
        let refuse = |r: Refusal| -> std::result::Result<SignAnswer, Refusal> {
            self.store.refuse(&ask, &r, now_ms)?;
            Err(r)
        };
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
        let signed = self.store.decide(
            &ask,
            &chain.limits(),
            &moves,
            self.policy.window_ms,
            now_ms,
            || {
                self.key
                    .sign(d.as_slice())
                    .map_err(|e| Refusal::new("key", e.to_string()))
            },
        )?;
        let sig = match signed {
            Signed::New(s) => {
                tracing::info!(fence = %ask.fence, "signed");
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
            c.handle(&req, switchyard_core::now_ms()).map_err(refused)
        });
        debug_assert!(ok.is_ok());
        let ok = m.register_blocking_method("cosigner_sign_release", |params, c, _| {
            let req: ReleaseRequest = params.one().map_err(|e| {
                ErrorObjectOwned::owned(
                    -32602,
                    format!("invalid request: {}", e.message()),
                    None::<()>,
                )
            })?;
            c.handle_release(&req, switchyard_core::now_ms())
                .map_err(refused)
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
