//! The daemon: load the topology, publish the model, connect each chain,
//! start the probes and the relayer under the supervisor, serve the API
//! until SIGINT/SIGTERM or until the shutdown token is cancelled.

use std::sync::Arc;
use std::time::{Duration, Instant};

use eyre::WrapErr;
use switchyard_chains::evm::{Endpoints, EvmChain};
use switchyard_core::address::ChainKind;
use switchyard_core::config::DaemonConfig;
use switchyard_core::model::NetworkSnapshot;
use switchyard_core::redact::redact_url;
use switchyard_core::topology::{BridgeIx, ChainIx, Topology};
use switchyard_probes::ModelHandle;
use switchyard_probes::breaker::Breakers;
use switchyard_probes::probe::{ChainProbe, LiquidityProbe};
use tokio_util::sync::CancellationToken;

use crate::Failure;
use crate::metrics::Metrics;
use crate::rpc::{self, AppState};
use crate::tasks::{Restart, TaskManager};

/// Logs to stderr, filtered by `RUST_LOG` (default `info`). alloy's HTTP
/// transport records the full RPC URL (credentials and API keys included)
/// on its debug spans, so those targets stay at `info` whatever `RUST_LOG`
/// asks; our own logs name endpoints in redacted form.
///
/// `--log-format text` (the default) writes one line per event, with ANSI
/// colours only when stderr is a terminal and `NO_COLOR` is unset;
/// `--log-format json` writes one JSON object per line.
pub fn init_tracing(json: bool) {
    use std::io::IsTerminal;
    let base = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let filter = tracing_subscriber::EnvFilter::try_new(format!(
        "{base},alloy_transport_http=info,alloy_transport=info,alloy_rpc_client=info"
    ))
    .unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder
            .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
            .try_init()
    };
}

/// Resolves on SIGINT or SIGTERM.
pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Serves until `shutdown` is cancelled. Prints `listening on ADDR` on
/// stdout once the port is bound, so scripts and tests can wait for it.
pub async fn serve(cfg: DaemonConfig, shutdown: CancellationToken) -> Result<(), Failure> {
    let keys = match &cfg.relayer {
        Some(r) => Some(crate::engine::Keys::from_env(r.signing.is_some())?),
        None => None,
    };
    serve_with(cfg, keys, shutdown).await
}

/// [`serve`] with the relayer's keys given (required when the config has a
/// `[relayer]` section).
pub async fn serve_with(
    cfg: DaemonConfig,
    keys: Option<crate::engine::Keys>,
    shutdown: CancellationToken,
) -> Result<(), Failure> {
    let topology = Topology::load(&cfg.topology)?;
    let mut snapshot = NetworkSnapshot::offline(Arc::new(topology));
    snapshot.stale_after_ms = cfg.model.stale_after_ms;
    snapshot.health = cfg.model.health;
    let model = Arc::new(ModelHandle::new(snapshot));
    let breakers = Arc::new(Breakers::new(cfg.model.breaker.clone(), Arc::clone(&model)));
    let endpoints = connect_chains(&model).await?;
    let solana_key = match keys.as_ref().and_then(|k| k.solana.as_deref()) {
        Some(text) => Some(crate::solana::hot_wallet(text)?),
        None => None,
    };
    let vault_signing = crate::solana::VaultSigning::from_config(
        keys.as_ref(),
        cfg.relayer.as_ref().and_then(|r| r.signing.as_ref()),
    )?;
    let solana = crate::solana::connect(
        &model.current().snapshot.topology,
        solana_key,
        &vault_signing,
    )
    .await?;
    // The tasks stop on the caller's shutdown, or when one that cannot
    // restart fails.
    let stop = shutdown.child_token();
    // However this function ends (a start-up error included), the tasks
    // it started stop with it.
    let _stop_on_return = stop.clone().drop_guard();
    let tasks = TaskManager::new(stop.clone());
    start_probes(
        &model,
        &breakers,
        &endpoints,
        &solana,
        cfg.model.frozen_head_ms,
        Duration::from_millis(cfg.model.probe_every_ms),
        &tasks,
    )?;
    let engine = match &cfg.relayer {
        Some(r) => {
            let keys = keys.ok_or_else(|| {
                Failure::Usage(
                    "the [relayer] section needs SWITCHYARD_RELAYER_KEY, and SWITCHYARD_IDENTITY_KEY (with [relayer.signing]) or SWITCHYARD_SIGNER_KEY"
                        .into(),
                )
            })?;
            Some(
                crate::engine::start(
                    &keys,
                    r,
                    &model,
                    &breakers,
                    crate::engine::Connections {
                        evm: &endpoints,
                        solana: &solana,
                    },
                    cfg.router.default_max_hops,
                    &tasks,
                )
                .await?,
            )
        }
        None => None,
    };
    let state = Arc::new(AppState {
        model: Arc::clone(&model),
        metrics: Arc::new(Metrics::new()),
        default_max_hops: cfg.router.default_max_hops,
        started: Instant::now(),
        auth: match (&cfg.auth, &engine) {
            (Some(_), Some(e)) => Some(Arc::new(crate::rpc::auth::Auth::new(
                switchyard_relayer::Keys::new(Arc::clone(&e.store)),
            ))),
            _ => None,
        },
        default_rate_per_s: cfg.auth.as_ref().map_or(50, |a| a.default_rate_per_s),
        engine,
        breakers: Some(Arc::clone(&breakers)),
        endpoints: endpoints
            .iter()
            .map(|(ix, e)| (topology_id(&model, *ix), Arc::clone(e)))
            .collect(),
        tasks: tasks.clone(),
        history: Default::default(),
        feed: Default::default(),
    });
    // The console binds first: its origin may call the API.
    let console = match &cfg.console {
        Some(c) => {
            let l = tokio::net::TcpListener::bind(c.listen)
                .await
                .wrap_err_with(|| format!("binding console.listen {}", c.listen))?;
            let at = l.local_addr().wrap_err("console address")?;
            Some((l, at, c.api_url.clone()))
        }
        None => None,
    };
    let mut origins = cfg.server.allowed_origins.clone();
    if let Some((_, at, _)) = &console {
        origins.extend(crate::console::origins(*at));
    }
    let hosts = crate::console::Api::hosts_of(&origins);
    let (addr, handle) = rpc::start(
        cfg.server.listen,
        Arc::clone(&state),
        cfg.server.max_request_bytes,
        cfg.server.max_connections,
        origins,
    )
    .await
    .wrap_err_with(|| format!("binding {}", cfg.server.listen))?;
    tracing::info!(%addr, topology = %cfg.topology.display(), "serving JSON-RPC over HTTP and WebSocket");
    println!("listening on {addr}");
    if let Some((listener, at, url)) = console {
        tracing::info!(%at, "serving the operators' console");
        // A reader of the first line only may have closed our stdout.
        use std::io::Write;
        let _ = writeln!(
            std::io::stdout(),
            "console on {}",
            crate::console::url_of(at)
        );
        let _ = std::io::stdout().flush();
        let api = crate::console::Api {
            port: addr.port(),
            url,
            hosts,
        };
        let listener = Arc::new(tokio::sync::Mutex::new(Some(listener)));
        let stop = tasks.shutdown().clone();
        tasks.spawn_critical("console", Restart::Never, move || {
            let (listener, api, stop) = (Arc::clone(&listener), api.clone(), stop.clone());
            async move {
                let Some(l) = listener.lock().await.take() else {
                    return Err(eyre::eyre!("the console's listener is gone"));
                };
                crate::console::serve(l, api, stop).await;
                Ok(())
            }
        });
    }
    {
        let (state, stop) = (Arc::clone(&state), tasks.shutdown().clone());
        tasks.spawn_critical("console-feed", Restart::Always, move || {
            let run = rpc::console::run_feed(Arc::clone(&state), stop.clone());
            async move {
                run.await;
                Ok(())
            }
        });
    }
    if state.engine.is_some() {
        let (state, stop) = (Arc::clone(&state), tasks.shutdown().clone());
        tasks.spawn_critical("queue-history", Restart::Always, move || {
            let (state, stop) = (Arc::clone(&state), stop.clone());
            async move {
                let mut tick = tokio::time::interval(rpc::console::HISTORY_EVERY);
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return Ok(()),
                        _ = tick.tick() => {}
                    }
                    let s = Arc::clone(&state);
                    let _ = tokio::task::spawn_blocking(move || s.sample_queues()).await;
                }
            }
        });
    }
    let server = handle.clone();
    tasks.spawn_critical("api-server", Restart::Never, move || {
        let server = server.clone();
        async move {
            server.stopped().await;
            Ok(())
        }
    });
    let fatal = tokio::select! {
        () = shutdown.cancelled() => None,
        why = tasks.failed() => Some(why),
    };
    tracing::info!("shutting down");
    stop.cancel();
    let _ = handle.stop();
    handle.stopped().await;
    let stuck = tasks.join(Duration::from_secs(30)).await;
    if !stuck.is_empty() {
        tracing::warn!(tasks = %stuck.join(", "), "tasks still running at exit");
    }
    match fatal {
        None => Ok(()),
        Some(why) => Err(Failure::Runtime(eyre::eyre!("{why}"))),
    }
}

fn topology_id(model: &ModelHandle, ix: ChainIx) -> String {
    model.current().snapshot.topology.chain(ix).id.to_string()
}

/// Connects each chain that lists RPC endpoints by its kind: an EVM chain
/// gets its endpoints (shared by its probes and its lane, so they learn
/// from each other's failures); a chain of a kind this build has no
/// adapter for is quoted from its topology figures only, and said so.
pub async fn connect_chains(
    model: &ModelHandle,
) -> Result<Vec<(ChainIx, Arc<Endpoints>)>, Failure> {
    let topology = Arc::clone(&model.current().snapshot.topology);
    let mut out = Vec::new();
    for (i, c) in topology.chains().iter().enumerate() {
        if c.rpc_urls.is_empty() {
            continue;
        }
        match c.kind {
            ChainKind::Evm => {
                if c.chain_id.is_none() {
                    continue;
                }
                let e = Endpoints::connect(&c.rpc_urls, c.chain_id)
                    .await
                    .map_err(|e| Failure::Usage(format!("invalid chain[{i}].rpc_urls: {e}")))?;
                out.push((ChainIx(i as u32), e));
            }
            // Connected by `crate::solana`.
            ChainKind::Solana => {}
            kind @ (ChainKind::Ton | ChainKind::Tron) => {
                tracing::warn!(
                    chain = %c.id,
                    kind = kind.as_str(),
                    "no {} adapter in this build: the chain is quoted from the topology, neither probed nor executed",
                    kind.as_str()
                );
            }
        }
    }
    Ok(out)
}

/// One chain probe per EVM chain that has RPC endpoints, and one liquidity
/// probe per escrow bridge whose destination escrow is known.
fn start_probes(
    model: &Arc<ModelHandle>,
    breakers: &Arc<Breakers>,
    endpoints: &[(ChainIx, Arc<Endpoints>)],
    solana: &[(ChainIx, Arc<switchyard_chains::solana::SolanaChain>)],
    frozen_head_ms: u64,
    every: Duration,
    tasks: &TaskManager,
) -> Result<(), Failure> {
    let topology = Arc::clone(&model.current().snapshot.topology);
    let of = |ix: ChainIx| {
        endpoints
            .iter()
            .find(|(i, _)| *i == ix)
            .map(|(_, e)| Arc::clone(e))
    };
    for (i, c) in topology.chains().iter().enumerate() {
        let (ChainKind::Evm, Some(eps), Some(chain_id)) =
            (c.kind, of(ChainIx(i as u32)), c.chain_id)
        else {
            continue;
        };
        let client = EvmChain::reader_over(eps, chain_id, c.finality)
            .map_err(|e| Failure::Usage(format!("invalid chain[{i}].rpc_urls: {e}")))?;
        let probe = ChainProbe {
            chain: ChainIx(i as u32),
            client,
            every,
        };
        let shown: Vec<String> = c.rpc_urls.iter().map(|u| redact_url(u)).collect();
        tracing::info!(chain = %c.id, endpoints = %shown.join(", "), "probing");
        spawn_chain_probe(probe, c, frozen_head_ms, model, breakers, tasks);
    }
    // Solana chains: the same probe over the adapter their lane uses.
    for (ix, chain) in solana {
        let c = topology.chain(*ix);
        let probe = ChainProbe {
            chain: *ix,
            client: Arc::clone(chain),
            every,
        };
        tracing::info!(chain = %c.id, "probing");
        spawn_chain_probe(probe, c, frozen_head_ms, model, breakers, tasks);
    }
    // Escrow bridges (and vault bridges toward an EVM chain): the
    // destination escrow's token balance is the bridge's liquidity.
    for (i, b) in topology.bridges().iter().enumerate() {
        if b.protocol != switchyard_bridges::escrow::PROTOCOL
            && b.protocol != switchyard_bridges::VAULT
        {
            continue;
        }
        let to = topology.asset(b.to);
        let c = topology.chain(to.chain);
        let (Some(eps), Some(chain_id), Some(escrow)) = (of(to.chain), c.chain_id, c.escrow) else {
            continue;
        };
        let client = EvmChain::reader_over(eps, chain_id, c.finality)
            .map_err(|e| Failure::Usage(format!("invalid rpc_urls of {}: {e}", c.id)))?;
        let probe = LiquidityProbe {
            bridge: BridgeIx(i as u32),
            client,
            token: to.address,
            holder: escrow,
            decimals: to.decimals,
            usd_price: to.usd_price,
            every,
        };
        let (model, stop) = (Arc::clone(model), tasks.shutdown().clone());
        tasks.spawn_critical(format!("liquidity:{}", b.id), Restart::Always, move || {
            let run = probe.clone().run(Arc::clone(&model), stop.clone());
            async move {
                run.await;
                Ok(())
            }
        });
    }
    Ok(())
}

/// Runs `probe` of chain `c` under the supervisor; a head that does not
/// move for `frozen_head_ms` (0: ten block times, at least 10 s) trips the
/// chain's breaker.
fn spawn_chain_probe<C>(
    probe: ChainProbe<C>,
    c: &switchyard_core::topology::Chain,
    frozen_head_ms: u64,
    model: &Arc<ModelHandle>,
    breakers: &Arc<Breakers>,
    tasks: &TaskManager,
) where
    C: switchyard_core::chain::ChainReader + Clone + Send + Sync + 'static,
{
    let frozen = if frozen_head_ms > 0 {
        frozen_head_ms
    } else {
        c.block_time_ms.saturating_mul(10).max(10_000)
    };
    let (model, breakers, stop) = (
        Arc::clone(model),
        Arc::clone(breakers),
        tasks.shutdown().clone(),
    );
    tasks.spawn_critical(format!("probe:{}", c.id), Restart::Always, move || {
        let run = probe.clone().run_with(
            Arc::clone(&model),
            Some(Arc::clone(&breakers)),
            frozen,
            stop.clone(),
        );
        async move {
            run.await;
            Ok(())
        }
    });
}
