//! Solana chains of the topology: one adapter per chain (its first asset's
//! mint, paid from the hot wallet of `SWITCHYARD_SOLANA_KEY`), shared by the
//! chain's probe and its payout lane, and that lane (a generic lane per
//! chain, with its task).

use std::sync::Arc;

use switchyard_chains::solana::SolanaPubkey;
use switchyard_chains::solana::vault::{LocalVaultSigners, VaultSigners};
use switchyard_chains::solana::{SolanaChain, SolanaFeePolicy, SolanaKeypair, parse_keypair};
use switchyard_core::address::ChainKind;
use switchyard_core::chain::ChainError;
use switchyard_core::redact::redact_url;
use switchyard_core::topology::{ChainIx, Topology};

use std::collections::HashMap;
use std::time::Duration;

use switchyard_core::chain::vm::VmPayouts;
use switchyard_relayer::vmlane::GenericLane;
use switchyard_relayer::{Store, VmPayoutChain};
use tokio_util::sync::CancellationToken;

use crate::Failure;
use crate::tasks::{Restart, TaskManager, off_workers};

/// The hot wallet's key variable: a keypair as `solana-keygen` writes it
/// (a JSON array of 64 bytes), or their base58.
pub const KEY_VAR: &str = "SWITCHYARD_SOLANA_KEY";

/// The bridge vault's signer keys held by this daemon (development and
/// the devnet): keypairs as in [`KEY_VAR`], separated by commas. Each checks
/// every release it signs (`switchyard_chains::solana::vault::check_release`).
pub const VAULT_KEYS_VAR: &str = "SWITCHYARD_SOLANA_VAULT_KEYS";

/// Who signs the bridge vaults' releases.
#[derive(Clone, Default)]
pub enum VaultSigning {
    /// Nobody: transfers through a vault are not executed.
    #[default]
    None,
    /// Keys this daemon holds ([`VAULT_KEYS_VAR`]; development only).
    Local(String),
    /// The co-signers of `[relayer.signing]` that list a `solana_key`,
    /// asked with the identity key (hex).
    Cosigners {
        /// `SWITCHYARD_IDENTITY_KEY`.
        identity: String,
        /// Each with its Solana key.
        members: Vec<(switchyard_cosigner::CosignerEndpoint, SolanaPubkey)>,
        /// Per co-signer, per request.
        timeout: Duration,
    },
}

impl std::fmt::Debug for VaultSigning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "VaultSigning::None",
            Self::Local(_) => "VaultSigning::Local(..)",
            Self::Cosigners { .. } => "VaultSigning::Cosigners(..)",
        })
    }
}

impl VaultSigning {
    /// From the keys and `[relayer.signing]`: co-signers with a
    /// `solana_key` when any is listed (then [`VAULT_KEYS_VAR`] must not
    /// be set: one signer set), else the local keys, else none.
    pub fn from_config(
        keys: Option<&crate::engine::Keys>,
        signing: Option<&switchyard_core::config::SigningConfig>,
    ) -> Result<Self, Failure> {
        let Some(keys) = keys else {
            return Ok(Self::None);
        };
        let listed: Vec<_> = signing
            .map(|s| {
                s.cosigner
                    .iter()
                    .enumerate()
                    .filter_map(|(i, c)| c.solana_key.as_ref().map(|k| (i, c, k)))
                    .collect()
            })
            .unwrap_or_default();
        match (&keys.signer, listed.is_empty(), &keys.solana_vault) {
            (_, false, Some(_)) => Err(Failure::Usage(format!(
                "{VAULT_KEYS_VAR} is set and [relayer.signing] co-signers list a solana_key: the vaults are signed by one of them; unset {VAULT_KEYS_VAR}"
            ))),
            (crate::engine::SignerKey::Identity(identity), false, None) => {
                let mut members = Vec::with_capacity(listed.len());
                for (i, c, k) in listed {
                    let field = |f: &str| format!("relayer.signing.cosigner[{i}].{f}");
                    let address = c.address.parse().map_err(|_| {
                        Failure::Usage(format!("{}: not an address", field("address")))
                    })?;
                    let key: SolanaPubkey = k.parse().map_err(|_| {
                        Failure::Usage(format!("{}: not a Solana address", field("solana_key")))
                    })?;
                    if members.iter().any(|(_, m)| *m == key) {
                        return Err(Failure::Usage(format!(
                            "{}: {key} is listed twice",
                            field("solana_key")
                        )));
                    }
                    members.push((
                        switchyard_cosigner::CosignerEndpoint {
                            name: c.name.clone(),
                            url: c.url.clone(),
                            address,
                        },
                        key,
                    ));
                }
                Ok(Self::Cosigners {
                    identity: identity.clone(),
                    members,
                    timeout: Duration::from_millis(signing.map_or(5_000, |s| s.timeout_ms)),
                })
            }
            (_, false, None) => Err(Failure::Usage(
                "[relayer.signing] co-signers list a solana_key but SWITCHYARD_IDENTITY_KEY is not set".into(),
            )),
            (_, true, Some(text)) => Ok(Self::Local(text.clone())),
            (_, true, None) => Ok(Self::None),
        }
    }

    /// The signers of `chain`'s vault.
    fn for_chain(&self, chain: &str) -> Result<Option<Arc<dyn VaultSigners>>, Failure> {
        Ok(match self {
            Self::None => None,
            Self::Local(text) => {
                tracing::warn!(
                    chain,
                    "the bridge vault's keys are held by this daemon ({VAULT_KEYS_VAR}): for development only; give the co-signers a solana_key"
                );
                Some(local_vault_signers(text)?)
            }
            Self::Cosigners {
                identity,
                members,
                timeout,
            } => {
                let id = switchyard_chains::evm::eip712::Eip712Signer::from_hex(
                    "SWITCHYARD_IDENTITY_KEY",
                    identity,
                )?;
                Some(Arc::new(switchyard_cosigner::RemoteVaultSigners::new(
                    id,
                    chain,
                    members.clone(),
                    *timeout,
                )?))
            }
        })
    }
}

/// The vault signers in `text` (the value of [`VAULT_KEYS_VAR`]).
pub fn local_vault_signers(text: &str) -> Result<Arc<LocalVaultSigners>, Failure> {
    let keys = text
        .split(',')
        .filter(|k| !k.trim().is_empty())
        .enumerate()
        .map(|(i, k)| {
            parse_keypair(&format!("{VAULT_KEYS_VAR}[{i}]"), k)
                .map_err(|e| Failure::Usage(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Arc::new(LocalVaultSigners::new(keys)))
}

/// The hot wallet from `text` (the value of [`KEY_VAR`]).
pub fn hot_wallet(text: &str) -> Result<Arc<SolanaKeypair>, Failure> {
    parse_keypair(KEY_VAR, text)
        .map(Arc::new)
        .map_err(|e| Failure::Usage(e.to_string()))
}

/// Connects every Solana chain that lists an RPC URL. `key` pays (a fresh
/// throwaway key when the daemon only quotes: nothing is sent then). A
/// node that cannot be reached now is connected without its checks (the
/// probe and the lane retry it); one that keeps no transaction history, or
/// whose mint has other decimals than the topology says, is refused.
pub async fn connect(
    topology: &Topology,
    key: Option<Arc<SolanaKeypair>>,
    vault_signing: &VaultSigning,
) -> Result<Vec<(ChainIx, Arc<SolanaChain>)>, Failure> {
    let mut out = Vec::new();
    for (i, c) in topology.chains().iter().enumerate() {
        if c.kind != ChainKind::Solana || c.rpc_urls.is_empty() {
            continue;
        }
        let ix = ChainIx(u32::try_from(i).unwrap_or(u32::MAX));
        let Some(asset) = topology.assets().iter().find(|a| a.chain == ix) else {
            tracing::warn!(chain = %c.id, "no [[asset]] on this Solana chain: neither probed nor paid");
            continue;
        };
        let mint = switchyard_chains::solana::pubkey(&asset.address)
            .map_err(|e| Failure::Usage(format!("asset {}: {e}", asset.key)))?;
        if topology.assets().iter().filter(|a| a.chain == ix).count() > 1 {
            tracing::warn!(chain = %c.id, asset = %asset.key, "a Solana chain pays one mint in this build: the first [[asset]] listed");
        }
        let url = &c.rpc_urls[0];
        let payer = key
            .clone()
            .unwrap_or_else(|| Arc::new(SolanaKeypair::new()));
        let policy = SolanaFeePolicy::default();
        let chain = match SolanaChain::connect(url, Arc::clone(&payer), mint, policy).await {
            Ok(chain) if chain.decimals() != asset.decimals => {
                return Err(Failure::Usage(format!(
                    "asset {}: the topology says {} decimals, mint {mint} has {}",
                    asset.key,
                    asset.decimals,
                    chain.decimals()
                )));
            }
            Ok(chain) => chain,
            Err(e @ ChainError::Rpc { code: -32011, .. }) => {
                return Err(Failure::Usage(format!(
                    "chain {} ({}): {e}",
                    c.id,
                    redact_url(url)
                )));
            }
            Err(e) => {
                tracing::warn!(chain = %c.id, url = %redact_url(url), error = %e, "Solana node not reachable at start; its probe and lane retry");
                SolanaChain::with_decimals(url, Arc::clone(&payer), mint, asset.decimals, policy)
            }
        };
        let signers = match &c.escrow {
            Some(_) => vault_signing.for_chain(&c.id.to_string())?,
            None => None,
        };
        let chain = match (&c.escrow, signers, key.is_some()) {
            (Some(vault), Some(signers), true) => {
                let vault = switchyard_chains::solana::pubkey(vault).map_err(|e| {
                    Failure::Usage(format!("chain {}: contracts.escrow: {e}", c.id))
                })?;
                let plain = SolanaChain::with_decimals(
                    url,
                    Arc::clone(&payer),
                    mint,
                    asset.decimals,
                    policy,
                );
                match chain.with_vault(vault, signers).await {
                    Ok(v) => {
                        tracing::info!(chain = %c.id, vault = %vault, "bridge vault open");
                        v
                    }
                    Err(e @ ChainError::Malformed(_)) => {
                        return Err(Failure::Usage(format!("chain {}: bridge vault: {e}", c.id)));
                    }
                    Err(e) => {
                        tracing::warn!(chain = %c.id, error = %e, "bridge vault not readable at start: transfers through it wait for a restart");
                        plain
                    }
                }
            }
            (Some(_), _, _) => {
                tracing::warn!(chain = %c.id, "no vault signers (co-signers with a solana_key, or {VAULT_KEYS_VAR}) or no {KEY_VAR}: transfers through this chain's bridge vault are not executed");
                chain
            }
            _ => chain,
        };
        tracing::info!(chain = %c.id, url = %redact_url(url), mint = %mint, hot_wallet = %chain.payer(), "Solana chain connected");
        out.push((ix, Arc::new(chain)));
    }
    Ok(out)
}

/// One generic lane and payout chain per connected Solana chain, paid from
/// the hot wallet; its lane task is started here. Without the key, the
/// chain is quoted and probed but its payouts wait (said once, here).
pub(crate) fn payout_chains(
    has_key: bool,
    store: &Arc<Store>,
    topology: &Topology,
    solana: &[(ChainIx, Arc<SolanaChain>)],
    every: Duration,
    tasks: &TaskManager,
) -> Result<HashMap<String, VmPayoutChain>, Failure> {
    let mut out = HashMap::new();
    if !has_key {
        for (ix, _) in solana {
            tracing::warn!(chain = %topology.chain(*ix).id, "{} is not set: payouts on this chain wait", KEY_VAR);
        }
        return Ok(out);
    }
    let hook = crate::drills::vm_crash_hook();
    for (ix, chain) in solana {
        let name = topology.chain(*ix).id.to_string();
        let adapter: Arc<dyn VmPayouts> = Arc::clone(chain) as Arc<dyn VmPayouts>;
        let mut lane = GenericLane::new(Arc::clone(store), &name, Arc::clone(&adapter) as _);
        if let Some(h) = &hook {
            lane = lane.with_hook(Arc::clone(h));
        }
        // Transactions in flight under an earlier hot wallet would never be
        // driven to their end by this key's lane: refuse to start.
        let others = lane
            .others_open()
            .map_err(|e| Failure::Usage(format!("reading the store: {e}")))?;
        if let Some((sender, n)) = others.first() {
            return Err(Failure::Usage(format!(
                "chain {name}: {n} transaction(s) still open under the earlier hot wallet {sender}, not {}: start with that key in {KEY_VAR} until they are final (they are driven to their end then), and change it after",
                lane.sender()
            )));
        }
        let (n, l, stop) = (name.clone(), lane.clone(), tasks.shutdown().clone());
        tasks.spawn_critical(format!("lane:{name}"), Restart::Always, move || {
            vm_lane_task(n.clone(), l.clone(), every, stop.clone())
        });
        tracing::info!(chain = %name, sender = %lane.sender(), "payout lane open (generic lane)");
        out.insert(
            name,
            VmPayoutChain {
                lane,
                adapter,
                token: chain.mint().to_string(),
            },
        );
    }
    Ok(out)
}

async fn vm_lane_task(
    name: String,
    lane: GenericLane,
    every: Duration,
    stop: CancellationToken,
) -> eyre::Result<()> {
    loop {
        let l = lane.clone();
        match off_workers(async move { l.tick().await }).await? {
            Ok(r) => {
                if r.signed + r.included + r.finalized + r.forked + r.dead > 0 {
                    tracing::info!(
                        chain = %name,
                        signed = r.signed,
                        resigned = r.resigned,
                        included = r.included,
                        finalized = r.finalized,
                        forked = r.forked,
                        dead = r.dead,
                        errors = r.errors,
                        "lane step"
                    );
                }
            }
            Err(e) => {
                tracing::warn!(chain = %name, error = %e, retryable = e.is_retryable(), "lane step failed")
            }
        }
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = tokio::time::sleep(every) => {}
        }
    }
}
