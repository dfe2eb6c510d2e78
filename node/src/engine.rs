//! The relayer inside the daemon: one lane task per EVM chain (with an
//! `rpc_url`) for the key in `SWITCHYARD_RELAYER_KEY`, one generic lane
//! per Solana chain for the hot wallet in `SWITCHYARD_SOLANA_KEY`, and the transfer
//! executor, all sharing one SQLite store. On start every lane's first
//! tick reconciles with its chain, so a restart after a crash resumes from
//! the store.
//! The crash drills it arms are in [`crate::drills`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use eyre::WrapErr;
use switchyard_chains::evm::attest::LocalAttester;
use switchyard_chains::evm::eip712::Eip712Signer;
use switchyard_chains::evm::{Endpoints, EvmChain};
use switchyard_chains::solana::SolanaChain;
use switchyard_core::UsdE8;
use switchyard_core::address::Address;
use switchyard_core::address::ChainKind;
use switchyard_core::attest::Attester;
use switchyard_core::config::RelayerConfig;
use switchyard_core::model::BreakerState;
use switchyard_core::topology::{BridgeIx, ChainIx};
use switchyard_probes::ModelHandle;
use switchyard_probes::breaker::{Breakers, Subject};
use switchyard_relayer::{
    BatchPolicy, Funder, Lane, LaneHandle, Ops, Outbox, PayoutChain, Payouts, Store, Transfers,
};
use tokio_util::sync::CancellationToken;

use crate::Failure;
use crate::tasks::{Restart, TaskManager, off_workers};

/// The running relayer.
#[derive(Debug, Clone)]
pub struct Engine {
    /// Transfer executor (also answers status queries).
    pub transfers: Arc<Transfers>,
    /// Payout intake, batcher and status.
    pub payouts: Arc<Payouts>,
    /// EVM chain ids where payouts can be paid (lane and PayoutBatcher).
    pub payout_chains: HashSet<u64>,
    /// The store, for metrics.
    pub store: Arc<Store>,
    /// Payout events as they are collected from the outbox (WebSocket
    /// subscribers listen here).
    pub events: tokio::sync::broadcast::Sender<serde_json::Value>,
    /// The outbox (webhook deliveries on record).
    pub outbox: Arc<Outbox>,
    /// Default funding source of payouts.
    pub treasury: Option<String>,
    /// Pauses and the audit log.
    pub ops: Arc<Ops>,
    /// Approval thresholds in USD: (one operator, two operators).
    pub approvals: Option<(UsdE8, UsdE8)>,
    /// From this USD value an operator's transfer from the relayer's own
    /// funds waits for a second operator.
    pub transfer_dual: Option<UsdE8>,
    /// The deny list checked at intake (`relayer.deny_list`).
    pub deny: Option<Arc<switchyard_core::deny::DenyFile>>,
    /// The store's lock, held while the daemon lives.
    pub lock: Arc<std::fs::File>,
}

impl Engine {
    /// Refuses `address` on `chain` if the deny list names it: the
    /// refusal is audited (actor `caller`) and typed (4023), before
    /// anything of the request is stored. A deny list that cannot be
    /// reloaded keeps its last good version.
    pub fn check_denied(
        &self,
        caller: &str,
        field: &str,
        chain: &str,
        address: &str,
    ) -> Result<(), jsonrpsee::types::ErrorObjectOwned> {
        let Some(d) = &self.deny else {
            return Ok(());
        };
        let (list, err) = d.current();
        if let Some(e) = err {
            tracing::error!(error = %e, "relayer.deny_list unreadable; the last good list stays in force");
        }
        if !list.denies(chain, address) {
            return Ok(());
        }
        if let Err(e) = self.ops.record(
            caller,
            "deny_refused",
            &format!("{chain}:{address}"),
            &format!("{field} is on the deny list"),
        ) {
            return Err(switchyard_api::error::internal(&e.to_string()));
        }
        Err(switchyard_api::error::denied(field, chain))
    }
}

impl Engine {
    /// Per lane: chain id, sender, why it is halted (if it is), and the
    /// open rows whose last step failed.
    pub fn lane_health(&self) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        for (chain_id, h) in self.transfers.lanes() {
            let halted = h
                .lane
                .halted()
                .unwrap_or_else(|e| Some(format!("unreadable: {e}")));
            let failing: Vec<serde_json::Value> = h
                .lane
                .failing()
                .unwrap_or_default()
                .into_iter()
                .map(|(nonce, intent, error)| {
                    serde_json::json!({ "nonce": nonce, "intent": intent, "error": error })
                })
                .collect();
            out.push(serde_json::json!({
                "chain_id": chain_id,
                "sender": h.lane.sender().to_string(),
                "halted": halted,
                "failing_rows": failing,
            }));
        }
        out.sort_by_key(|v| v["chain_id"].as_u64());
        // Generic lanes (Solana): keyed by the chain's name.
        let mut vm: Vec<_> = self.payouts.vm_chains().iter().collect();
        vm.sort_by_key(|(name, _)| name.as_str());
        for (name, c) in vm {
            let failing: Vec<serde_json::Value> = c
                .lane
                .failing()
                .unwrap_or_default()
                .into_iter()
                .map(|(intent, error)| serde_json::json!({ "intent": intent, "error": error }))
                .collect();
            out.push(serde_json::json!({
                "chain": name,
                "sender": c.lane.sender(),
                "halted": null,
                "failing_rows": failing,
            }));
        }
        out
    }
}

/// The keys the daemon holds, as hex. Neither moves funds when
/// co-signers sign: the relayer key pays fees (and holds no float), the
/// identity key only authenticates requests to the co-signers.
#[derive(Clone)]
pub struct Keys {
    /// Signs the lanes' transactions (`SWITCHYARD_RELAYER_KEY`).
    pub relayer: String,
    /// Who signs messages for the contracts.
    pub signer: SignerKey,
    /// The Solana hot wallet (`SWITCHYARD_SOLANA_KEY`, a keypair as
    /// `solana-keygen` writes it), when the topology has Solana chains to
    /// pay on.
    pub solana: Option<String>,
    /// The Solana bridge vault's signer keys this daemon holds
    /// (`SWITCHYARD_SOLANA_VAULT_KEYS`; development and the devnet).
    pub solana_vault: Option<String>,
}

/// Who signs messages for the contracts.
#[derive(Clone)]
pub enum SignerKey {
    /// The co-signers of `[relayer.signing]`; this key
    /// (`SWITCHYARD_IDENTITY_KEY`) authenticates the daemon to them.
    Identity(String),
    /// One local key (`SWITCHYARD_SIGNER_KEY`): development only, it can
    /// sign anything.
    Local(String),
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

impl Keys {
    /// From `SWITCHYARD_RELAYER_KEY`, and `SWITCHYARD_IDENTITY_KEY` when
    /// `cosigners` (else `SWITCHYARD_SIGNER_KEY`).
    pub fn from_env(cosigners: bool) -> Result<Self, Failure> {
        let get = |name: &str| {
            std::env::var(name).map_err(|_| {
                Failure::Usage(format!(
                    "{name} is not set: the [relayer] section needs it (hex secp256k1 key)"
                ))
            })
        };
        Ok(Self {
            relayer: get("SWITCHYARD_RELAYER_KEY")?,
            signer: if cosigners {
                SignerKey::Identity(get("SWITCHYARD_IDENTITY_KEY")?)
            } else {
                SignerKey::Local(get("SWITCHYARD_SIGNER_KEY")?)
            },
            solana: std::env::var(crate::solana::KEY_VAR).ok(),
            solana_vault: std::env::var(crate::solana::VAULT_KEYS_VAR).ok(),
        })
    }
}

/// The signer set: co-signers, or (development) one local key.
fn attester(keys: &Keys, cfg: &RelayerConfig) -> Result<Arc<dyn Attester>, Failure> {
    match (&keys.signer, &cfg.signing) {
        (SignerKey::Identity(hex), Some(s)) => {
            let identity = Eip712Signer::from_hex("SWITCHYARD_IDENTITY_KEY", hex)?;
            let mut cosigners = Vec::with_capacity(s.cosigner.len());
            for (i, c) in s.cosigner.iter().enumerate() {
                let address = c.address.parse().map_err(|_| {
                    Failure::Usage(format!("relayer.signing.cosigner[{i}].address: not an address"))
                })?;
                cosigners.push(switchyard_cosigner::CosignerEndpoint {
                    name: c.name.clone(),
                    url: c.url.clone(),
                    address,
                });
            }
            let r = switchyard_cosigner::RemoteAttester::new(
                identity,
                cosigners,
                s.threshold,
                Duration::from_millis(s.timeout_ms),
            )?;
            tracing::info!(identity = %r.identity(), threshold = s.threshold, cosigners = s.cosigner.len(), "messages signed by co-signers");
            Ok(Arc::new(r))
        }
        (SignerKey::Local(hex), None) => {
            let k = Eip712Signer::from_hex("SWITCHYARD_SIGNER_KEY", hex)?;
            tracing::warn!(signer = %k.address(), "one local key signs every message (SWITCHYARD_SIGNER_KEY): for development only; configure [relayer.signing] co-signers");
            Ok(Arc::new(LocalAttester::new(vec![k], "SWITCHYARD_SIGNER_KEY")))
        }
        (SignerKey::Identity(_), None) => Err(Failure::Usage(
            "SWITCHYARD_IDENTITY_KEY given but the config has no [relayer.signing]".into(),
        )),
        (SignerKey::Local(_), Some(_)) => Err(Failure::Usage(
            "[relayer.signing] names co-signers: set SWITCHYARD_IDENTITY_KEY, not SWITCHYARD_SIGNER_KEY".into(),
        )),
    }
}

/// Takes the store's lock file (`<store>.lock`, an OS lock the kernel
/// releases when the process dies, however it dies): one daemon per store,
/// since two would drive the same lanes.
pub fn lock_store(store: &std::path::Path) -> Result<std::fs::File, Failure> {
    use std::io::{Read, Seek, Write};
    let path = std::path::PathBuf::from(format!("{}.lock", store.display()));
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .wrap_err_with(|| format!("opening {}", path.display()))?;
    if f.try_lock().is_err() {
        let mut holder = String::new();
        let _ = f.read_to_string(&mut holder);
        return Err(Failure::Usage(format!(
            "relayer.store {}: in use by another switchyard serve (pid {}); one daemon per store",
            store.display(),
            holder.trim()
        )));
    }
    f.set_len(0)?;
    f.rewind()?;
    write!(f, "{}", std::process::id())?;
    f.flush()?;
    Ok(f)
}

/// The chains the daemon connected, by kind.
#[derive(Clone, Copy)]
pub struct Connections<'a> {
    /// EVM chains' endpoints.
    pub evm: &'a [(ChainIx, Arc<Endpoints>)],
    /// Solana chains' adapters (shared with their probes).
    pub solana: &'a [(ChainIx, Arc<SolanaChain>)],
}

/// Opens the store, builds the lanes and starts their tasks.
pub async fn start(
    keys: &Keys,
    cfg: &RelayerConfig,
    model: &Arc<ModelHandle>,
    breakers: &Arc<Breakers>,
    chains: Connections<'_>,
    default_max_hops: u8,
    tasks: &TaskManager,
) -> Result<Engine, Failure> {
    let topology = Arc::clone(&model.current().snapshot.topology);
    if let Some(t) = &cfg.treasury {
        topology
            .resolve_asset("relayer.treasury", t)
            .map_err(Failure::from)?;
    }
    let relayer_key = keys.relayer.clone();
    let relayer = Eip712Signer::from_hex("SWITCHYARD_RELAYER_KEY", &relayer_key)?;
    let attester = attester(keys, cfg)?;
    if let Some(dir) = cfg.store.parent() {
        std::fs::create_dir_all(dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
    }
    let lock = lock_store(&cfg.store)?;
    let store = Arc::new(
        Store::open(&cfg.store)
            .map_err(|e| Failure::Usage(format!("relayer.store {}: {e}", cfg.store.display())))?,
    );
    let hook = crate::drills::crash_hook();
    let mut lanes = HashMap::new();
    let mut payout_chains = HashMap::new();
    let every = Duration::from_millis(cfg.poll_ms);
    for (i, c) in topology.chains().iter().enumerate() {
        let eps = chains
            .evm
            .iter()
            .find(|(ix, _)| ix.ix() == i)
            .map(|(_, e)| Arc::clone(e));
        let (ChainKind::Evm, Some(eps), Some(chain_id)) = (c.kind, eps, c.chain_id) else {
            continue;
        };
        relayer.check_chain("SWITCHYARD_RELAYER_KEY", chain_id)?;
        let chain = EvmChain::with_endpoints(eps, chain_id, c.finality, &relayer_key)
            .map_err(|e| Failure::Usage(format!("invalid chain[{i}].rpc_urls: {e}")))?;
        let mut lane = Lane::open(
            Arc::clone(&store),
            chain_id,
            chain.sender(),
            cfg.fees.clone(),
        )
        .map_err(|e| Failure::Runtime(eyre::eyre!("opening lane of {}: {e}", c.id)))?;
        if let Some(h) = &hook {
            lane = lane.with_hook(Arc::clone(h));
        }
        let handle = LaneHandle { lane, chain };
        let (name, h, stop) = (c.id.to_string(), handle.clone(), tasks.shutdown().clone());
        tasks.spawn_critical(format!("lane:{}", c.id), Restart::Always, move || {
            lane_task(name.clone(), h.clone(), every, stop.clone())
        });
        tracing::info!(chain = %c.id, sender = %handle.lane.sender(), "relayer lane open");
        if let Some(Address::Evm(batcher)) = c.payout_batcher {
            payout_chains.insert(
                chain_id,
                PayoutChain {
                    lane: handle.clone(),
                    batcher,
                },
            );
        }
        lanes.insert(chain_id, handle);
    }
    let vm_chains = crate::solana::payout_chains(
        keys.solana.is_some(),
        &store,
        &topology,
        chains.solana,
        every,
        tasks,
    )?;
    // Solana chains with a bridge vault carry its deposits and releases on
    // their payout lane.
    let vaults: HashMap<u64, switchyard_relayer::VaultHandle> = chains
        .solana
        .iter()
        .filter(|(_, c)| c.has_vault())
        .filter_map(|(ix, c)| {
            let chain = topology.chain(*ix);
            vm_chains.get(chain.id.as_str()).map(|p| {
                (
                    chain.bridge_domain(),
                    switchyard_relayer::VaultHandle {
                        lane: p.lane.clone(),
                        vault: Arc::clone(c) as Arc<dyn switchyard_core::chain::vm::VmVault>,
                    },
                )
            })
        })
        .collect();
    // Hop outcomes feed the bridges' breakers.
    let b = Arc::clone(breakers);
    let t = Arc::clone(&topology);
    let transfers = Arc::new(
        Transfers::new(
            Arc::clone(&store),
            lanes,
            Arc::clone(&attester),
            cfg.release_ttl_s,
        )
        .with_release_policy(switchyard_relayer::transfer::ReleasePolicy {
            ttl_s: cfg.release_ttl_s,
            alert_ms: cfg.release_alert_ms,
            refund_after_ms: cfg.refund_after_ms,
        })
        .with_treasuries(
            topology
                .chains()
                .iter()
                .filter_map(|c| match (c.chain_id, c.treasury) {
                    (Some(id), Some(Address::Evm(t))) => {
                        Some((id, alloy_primitives::Address::from(t.into_array())))
                    }
                    _ => None,
                })
                .collect(),
        )
        .with_vaults(vaults)
        .with_drill(Arc::new(crate::drills::drill))
        .with_outcomes(Arc::new(move |bridge: &str, ok: bool, what: &str| {
            if let Some(ix) = t
                .bridges()
                .iter()
                .position(|x| x.id.as_str() == bridge)
                .and_then(|i| u32::try_from(i).ok())
            {
                b.record(Subject::Bridge(BridgeIx(ix)), ok, what);
            }
        })),
    );
    let chain_ids: HashSet<u64> = payout_chains.keys().copied().collect();
    let mut payouts = Payouts::new(
        Arc::clone(&store),
        payout_chains,
        Arc::clone(&attester),
        BatchPolicy {
            max_items: cfg.batch.max_items,
            max_age_ms: cfg.batch.max_age_ms,
            ttl_s: cfg.batch.ttl_s,
        },
    );
    payouts = payouts.with_vm_chains(vm_chains);
    payouts = payouts.with_decimals(
        topology
            .assets()
            .iter()
            .map(|a| (a.key.to_string(), a.decimals))
            .collect(),
    );
    if let Some(h) = crate::drills::batch_hook() {
        payouts = payouts.with_hook(h);
    }
    let mut limits = HashMap::new();
    for (i, g) in cfg.governor.iter().enumerate() {
        let (budget, large) = g.amounts(i)?;
        // Keyed as the payouts key their flows: an EVM chain by its id, a
        // chain without one by its bridge domain.
        let chain_id = topology
            .chains()
            .iter()
            .find(|c| c.id.as_str() == g.chain)
            .map(switchyard_core::topology::Chain::bridge_domain)
            .ok_or_else(|| {
                Failure::Usage(format!(
                    "invalid relayer.governor[{i}].chain: no chain {:?} in the topology",
                    g.chain
                ))
            })?;
        limits.insert(
            chain_id,
            switchyard_relayer::governor::Limit {
                budget,
                window_ms: g.window_ms,
                large,
                large_delay_ms: g.large_delay_ms,
            },
        );
    }
    payouts = payouts.with_governor(limits);
    let mut budgets = HashMap::new();
    for (i, m) in cfg.merchant_budget.iter().enumerate() {
        let (budget, max_item) = m.amounts(i)?;
        budgets.insert(
            m.merchant.clone(),
            switchyard_relayer::payout::MerchantBudget {
                budget,
                window_ms: m.window_ms,
                max_item,
            },
        );
    }
    // A budget is keyed by a key's name: one naming no live key never
    // applies, which is worth saying.
    if !budgets.is_empty() {
        let live: Vec<String> = switchyard_relayer::Keys::new(Arc::clone(&store))
            .list()
            .unwrap_or_default()
            .into_iter()
            .filter(|k| k.revoked_ms.is_none())
            .map(|k| k.name)
            .collect();
        for name in budgets.keys() {
            if !live.iter().any(|n| n == name) {
                tracing::warn!(
                    merchant = %name,
                    "relayer.merchant_budget names no live API key: it applies once a key of that name exists"
                );
            }
        }
    }
    payouts = payouts.with_budgets(budgets);
    let thresholds = cfg.approvals.as_ref().map(|a| a.parse()).transpose()?;
    let deny = match &cfg.deny_list {
        Some(path) => Some(Arc::new(
            switchyard_core::deny::DenyFile::open(path)
                .map_err(|e| Failure::Usage(format!("relayer.deny_list: {e}")))?,
        )),
        None => None,
    };
    payouts = payouts.with_first_payout_delay(cfg.first_payout_delay_ms);
    payouts = payouts.with_approval_tiers(thresholds.map(|t| {
        switchyard_relayer::payout::ApprovalTiers {
            single: t.single,
            dual: t.dual,
            window_ms: t.window_ms,
            total_single: t.merchant_single,
            total_dual: t.merchant_dual,
        }
    }));
    // Payouts for a paused chain or one whose breaker is open wait.
    let m = Arc::clone(model);
    payouts = payouts.with_gate(Arc::new(move |chain_id: u64, name: Option<&str>| {
        let cur = m.current();
        let snap = &cur.snapshot;
        let (c, live) =
            snap.topology
                .chains()
                .iter()
                .zip(&snap.chains)
                .find(|(c, _)| match name {
                    Some(n) => c.id.as_str() == n,
                    None => c.chain_id == Some(chain_id),
                })?;
        if let Some(why) = &live.paused {
            return Some(format!("chain {} paused: {why}", c.id));
        }
        match &live.breaker {
            BreakerState::Open { reason } => Some(format!("chain {} breaker open: {reason}", c.id)),
            BreakerState::HalfOpen => Some(format!("chain {} breaker half-open: recovering", c.id)),
            BreakerState::Closed => None,
        }
    }));
    let payouts = Arc::new(payouts);
    // Pauses survive restarts: the model starts with those in force.
    let ops = Arc::new(Ops::new(Arc::clone(&store)));
    let pauses = ops
        .pauses()
        .map_err(|e| Failure::Runtime(eyre::eyre!("reading pauses: {e}")))?;
    crate::rpc::ops::apply_pauses(model, &pauses);
    let outbox = Arc::new(Outbox::new(Arc::clone(&store), cfg.webhook.is_some()));
    let webhooks = match &cfg.webhook {
        Some(w) => {
            let secret = std::env::var(&w.secret_env).map_err(|_| {
                Failure::Usage(format!(
                    "relayer.webhook.secret_env: {} is not set",
                    w.secret_env
                ))
            })?;
            Some(Arc::new(crate::webhook::Webhooks::new(
                Arc::clone(&outbox),
                w.url.clone(),
                secret.into_bytes(),
                w.max_attempts,
                Duration::from_millis(w.timeout_ms),
            )?))
        }
        None => None,
    };
    let (events, _) = tokio::sync::broadcast::channel(4096);
    let p = Arc::clone(&payouts);
    let o = Arc::clone(&outbox);
    let funder = Funder {
        transfers: Arc::clone(&transfers),
        payouts: Arc::clone(&payouts),
        default_max_hops,
    };
    let funding_model = Arc::clone(model);
    let tx = events.clone();
    let stop = tasks.shutdown().clone();
    let reconcile_every = Duration::from_millis(cfg.reconcile_every_ms);
    tasks.spawn_critical("payout-batcher", Restart::Always, move || {
        let (p, o, funder, model, tx, webhooks, stop) = (
            Arc::clone(&p),
            Arc::clone(&o),
            funder.clone(),
            Arc::clone(&funding_model),
            tx.clone(),
            webhooks.clone(),
            stop.clone(),
        );
        async move {
            let mut last_reconcile = tokio::time::Instant::now();
            loop {
                let reconcile = last_reconcile.elapsed() >= reconcile_every;
                if reconcile {
                    last_reconcile = tokio::time::Instant::now();
                }
                let (p, o, funder, model, tx, webhooks) = (
                    Arc::clone(&p),
                    Arc::clone(&o),
                    funder.clone(),
                    Arc::clone(&model),
                    tx.clone(),
                    webhooks.clone(),
                );
                off_workers(async move {
                    match p.step().await {
                        Ok(short) => funder.fund(&model.current().graph, &short),
                        Err(e) => {
                            tracing::warn!(error = %e, retryable = e.is_retryable(), "payout batcher");
                        }
                    }
                    match o.collect(&p, 5_000) {
                        Ok(evs) => {
                            for ev in evs {
                                // No subscriber is not an error.
                                let _ = tx.send(ev);
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "payout outbox"),
                    }
                    if let Some(w) = &webhooks {
                        w.send_due();
                    }
                    if reconcile && let Err(e) = p.reconcile().await {
                        tracing::warn!(error = %e, "reconciliation");
                    }
                })
                .await?;
                tokio::select! {
                    () = stop.cancelled() => return Ok(()),
                    () = tokio::time::sleep(every) => {}
                }
            }
        }
    });
    // Hop observations move the bridges' estimates (restart reads them
    // back from the store first thing).
    let (s, m, stop) = (
        Arc::clone(&store),
        Arc::clone(model),
        tasks.shutdown().clone(),
    );
    tasks.spawn_critical("bridge-health", Restart::Always, move || {
        crate::health::run(
            Arc::clone(&s),
            Arc::clone(&m),
            Duration::from_secs(1),
            stop.clone(),
        )
    });
    let t = Arc::clone(&transfers);
    let stop = tasks.shutdown().clone();
    tasks.spawn_critical("transfer-executor", Restart::Always, move || {
        let (t, stop) = (Arc::clone(&t), stop.clone());
        async move {
            loop {
                let t = Arc::clone(&t);
                if let Err(e) = off_workers(async move { t.advance_all().await }).await? {
                    tracing::warn!(error = %e, "transfer executor");
                }
                tokio::select! {
                    () = stop.cancelled() => return Ok(()),
                    () = tokio::time::sleep(every) => {}
                }
            }
        }
    });
    Ok(Engine {
        transfers,
        payouts,
        payout_chains: chain_ids,
        store,
        events,
        outbox,
        treasury: cfg.treasury.clone(),
        ops,
        approvals: thresholds.map(|t| (t.single, t.dual)),
        transfer_dual: thresholds.and_then(|t| t.transfer_dual),
        deny,
        lock: Arc::new(lock),
    })
}

async fn lane_task(
    name: String,
    h: LaneHandle,
    every: Duration,
    stop: CancellationToken,
) -> eyre::Result<()> {
    let mut was_halted = false;
    loop {
        let lane = h.clone();
        let ticked = off_workers(async move { lane.lane.tick(&lane.chain).await }).await?;
        if matches!(&ticked, Ok(r) if r.sent > 0) {
            crate::tasks::panic_drill(&format!("lane:{name}"), "sent");
        }
        match ticked {
            Ok(r) => {
                if r.sent + r.replaced + r.reorged + r.finalized + r.renonced + r.cancelled > 0 {
                    tracing::info!(
                        chain = %name,
                        head = r.head,
                        sent = r.sent,
                        replaced = r.replaced,
                        reorged = r.reorged,
                        finalized = r.finalized,
                        renonced = r.renonced,
                        cancelled = r.cancelled,
                        "lane step"
                    );
                }
                match (&r.halted, was_halted) {
                    (Some(why), false) => {
                        tracing::error!(chain = %name, reason = %why, "lane halted: it sends nothing until an operator resumes it (ops_lane_resume)");
                    }
                    (None, true) => tracing::info!(chain = %name, "lane resumed"),
                    _ => {}
                }
                was_halted = r.halted.is_some();
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
