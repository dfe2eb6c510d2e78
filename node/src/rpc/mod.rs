//! The JSON-RPC server: the daemon's implementation of the
//! `switchyard-api` traits, HTTP and WebSocket on one port, behind the
//! API's one middleware ([`switchyard_api::GateService`]: keys, roles,
//! rate limits, params, call metrics). Plain endpoints: `GET /health`,
//! `GET /metrics` ([`http`]).

pub mod auth;
pub mod console;
pub mod handler;
pub mod http;
pub mod ops;
pub mod payout;
pub mod transfer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use jsonrpsee::server::middleware::rpc::RpcServiceBuilder;
use jsonrpsee::server::{Server, ServerConfig, ServerHandle};
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::{Value, json};
use switchyard_api::Gatekeeper;
use switchyard_api::error as errors;
use switchyard_api::quote::{GovernorNote, QuoteParams, QuoteResult, QuotedRoute};
use switchyard_probes::ModelHandle;
use switchyard_router::{QuoteRequest, quote};

use crate::metrics::{Metrics, ModeLabels};

/// Largest answer the server sends (a batch's answers together included).
const MAX_RESPONSE_BYTES: u32 = 16 << 20;

/// An idempotency key: 1 to 128 printable ASCII characters.
pub fn check_idempotency_key(key: &str) -> Result<(), ErrorObjectOwned> {
    if key.is_empty() || key.len() > 128 || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(errors::invalid_field(
            "idempotency_key",
            "1 to 128 printable ASCII characters",
        ));
    }
    Ok(())
}

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    /// The live network model.
    pub model: Arc<ModelHandle>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Hop budget when a request names none.
    pub default_max_hops: u8,
    /// Process start, for `/health`.
    pub started: Instant,
    /// The relayer, when the config has a `[relayer]` section.
    pub engine: Option<crate::engine::Engine>,
    /// Circuit breakers.
    pub breakers: Option<Arc<switchyard_probes::breaker::Breakers>>,
    /// API keys, when the config has an `[auth]` section.
    pub auth: Option<Arc<auth::Auth>>,
    /// Rate of keys created without one.
    pub default_rate_per_s: u32,
    /// Each probed chain's RPC endpoints (by chain id), for `/health`.
    pub endpoints: Vec<(String, Arc<switchyard_chains::evm::Endpoints>)>,
    /// The supervisor, for `/health` and the metrics.
    pub tasks: crate::tasks::TaskManager,
    /// Payout counts over time, for the console's chart.
    pub history: console::History,
    /// The console's view, read once for every subscriber.
    pub feed: console::Feed,
}

impl AppState {
    /// The relayer, or the error of a daemon that only quotes (4003).
    pub fn engine(&self) -> Result<&crate::engine::Engine, ErrorObjectOwned> {
        self.engine.as_ref().ok_or_else(errors::not_executing)
    }

    /// Body of `GET /health`.
    pub fn health_json(&self) -> String {
        let cur = self.model.current();
        let snap = &cur.snapshot;
        let t = &snap.topology;
        let now = crate::now_ms();
        let readings: Vec<Value> = t
            .chains()
            .iter()
            .zip(&snap.chains)
            .filter_map(|(c, live)| {
                live.reading.as_ref().map(|r| {
                    let age = now.saturating_sub(r.observed_at_ms);
                    json!({
                        "chain": c.id.as_str(),
                        "head": r.head,
                        "finalized": r.finalized,
                        "reading_age_ms": age,
                        "stale": age > snap.stale_after_ms,
                    })
                })
            })
            .collect();
        let breakers: Vec<Value> = self
            .breakers
            .as_ref()
            .map(|b| b.not_closed())
            .unwrap_or_default()
            .into_iter()
            .map(|(s, st)| {
                let who = match s {
                    switchyard_probes::breaker::Subject::Chain(c) => {
                        format!("chain {}", t.chain(c).id)
                    }
                    switchyard_probes::breaker::Subject::Bridge(b) => {
                        format!("bridge {}", t.bridge(b).id)
                    }
                };
                json!({ "subject": who, "breaker": st })
            })
            .collect();
        let alerts = self.engine.as_ref().and_then(|e| e.store.alerts(10).ok());
        let (alert_count, alerts) = alerts.unwrap_or_default();
        let lanes = self
            .engine
            .as_ref()
            .map(|e| e.lane_health())
            .unwrap_or_default();
        let failing: Vec<Value> = self
            .engine
            .as_ref()
            .map(|e| e.payouts.chain_errors())
            .unwrap_or_default()
            .into_iter()
            .map(|(c, err, since)| json!({ "chain_id": c, "error": err, "since_ms": since }))
            .chain(
                self.engine
                    .as_ref()
                    .map(|e| e.payouts.vm_chain_errors())
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(c, err, since)| json!({ "chain": c, "error": err, "since_ms": since })),
            )
            .collect();
        let tasks = self.tasks.status();
        let degraded = lanes.iter().any(|l| !l["halted"].is_null())
            || !failing.is_empty()
            || tasks
                .values()
                .any(|t| t.state != crate::tasks::TaskState::Running);
        json!({
            "status": if alert_count > 0 { "alert" } else if degraded { "degraded" } else { "ok" },
            "lanes": lanes,
            "tasks": tasks,
            "failing_chains": failing,
            "rpc_endpoints": self
                .endpoints
                .iter()
                .map(|(chain, e)| json!({ "chain": chain, "endpoints": e.views() }))
                .collect::<Vec<_>>(),
            "alerts": alert_count,
            "latest_alerts": alerts,
            "breakers": breakers,
            "model_version": snap.version,
            "chains": t.chains().len(),
            "assets": t.assets().len(),
            "bridges": t.bridges().len(),
            "readings": readings,
            "uptime_s": self.started.elapsed().as_secs(),
        })
        .to_string()
    }

    /// Body of `GET /metrics`.
    pub fn metrics_text(&self) -> String {
        let v = self.model.current().snapshot.version;
        self.metrics
            .model_version
            .set(i64::try_from(v).unwrap_or(i64::MAX));
        for (task, st) in self.tasks.status() {
            let labels = crate::metrics::TaskLabels { task };
            self.metrics
                .task_up
                .get_or_create(&labels)
                .set(i64::from(st.state == crate::tasks::TaskState::Running));
            self.metrics
                .task_restarts
                .get_or_create(&labels)
                .set(i64::try_from(st.restarts).unwrap_or(i64::MAX));
        }
        if let Some(e) = &self.engine {
            // Gauges from the store, read now; a failed read leaves the
            // previous values.
            if let Ok(counts) = e.payouts.counts() {
                self.metrics.payouts.clear();
                for (state, n) in counts {
                    self.metrics
                        .payouts
                        .get_or_create(&crate::metrics::StateLabels { state })
                        .set(n);
                }
            }
            if let Ok(counts) = e.store.lane_counts() {
                self.metrics.lane_txs.clear();
                for (chain_id, state, n) in counts {
                    self.metrics
                        .lane_txs
                        .get_or_create(&crate::metrics::LaneLabels {
                            chain_id: chain_id.to_string(),
                            state,
                        })
                        .set(n);
                }
            }
            if let Ok((n, _)) = e.store.alerts(0) {
                self.metrics.reconciliation_alerts.set(n);
            }
            for l in e.lane_health() {
                let labels = crate::metrics::ChainLabels {
                    chain_id: l["chain_id"].to_string(),
                };
                self.metrics
                    .lane_halted
                    .get_or_create(&labels)
                    .set(i64::from(!l["halted"].is_null()));
                let rows = l["failing_rows"].as_array().map_or(0, Vec::len);
                self.metrics
                    .lane_failing_rows
                    .get_or_create(&labels)
                    .set(i64::try_from(rows).unwrap_or(i64::MAX));
            }
            self.metrics.payout_chain_failing.clear();
            for c in &e.payout_chains {
                let failing = e.payouts.chain_errors().iter().any(|(id, ..)| id == c);
                self.metrics
                    .payout_chain_failing
                    .get_or_create(&crate::metrics::ChainLabels {
                        chain_id: c.to_string(),
                    })
                    .set(i64::from(failing));
            }
            if let Ok(counts) = e.store.transfer_counts() {
                self.metrics.transfers.clear();
                for (state, n) in counts {
                    self.metrics
                        .transfers
                        .get_or_create(&crate::metrics::StateLabels { state })
                        .set(n);
                }
            }
        }
        self.metrics.encode()
    }

    /// `route_quote`: validates, searches, renders.
    /// Each route to a chain under a notional limit says whether the
    /// governor would delay it now (`"governor": {"delayed", "until_ms",
    /// "reason"}`).
    pub fn route_quote(&self, params: QuoteParams) -> Result<QuoteResult, ErrorObjectOwned> {
        if let Some(why) = self.route_paused(&params.from, &params.to) {
            return Ok(QuoteResult {
                routes: Vec::new(),
                excluded: Vec::new(),
                paused: Some(why),
            });
        }
        let cur = self.model.current();
        let graph = &cur.graph;
        let req = QuoteRequest::resolve(graph, &params, self.default_max_hops, crate::now_ms())
            .map_err(|e| errors::from_core(&e))?;
        let t0 = Instant::now();
        let q = quote(graph, &req);
        self.metrics
            .quote_latency
            .get_or_create(&ModeLabels {
                mode: req.mode.as_str().to_owned(),
            })
            .observe(t0.elapsed().as_secs_f64());
        self.metrics.quote_routes.observe(q.routes.len() as f64);
        let view = q.view(graph);
        let mut out = QuoteResult {
            routes: view
                .routes
                .into_iter()
                .map(|route| QuotedRoute {
                    route,
                    governor: None,
                })
                .collect(),
            excluded: view.excluded,
            paused: None,
        };
        if let Some(engine) = &self.engine {
            let t = graph.topology();
            for (r, quoted) in q.routes.iter().zip(&mut out.routes) {
                let Some(&last) = r.bridges.last() else {
                    continue;
                };
                let asset = t.asset(t.bridge(last).to);
                let chain_id = t.chain(asset.chain).bridge_domain();
                let usd = switchyard_core::Amount::from_raw(r.amount_out(), asset.decimals)
                    .usd_value(asset.usd_price)
                    .unwrap_or_default();
                quoted.governor = match engine.payouts.governor_check(chain_id, usd) {
                    Ok(Some(switchyard_relayer::governor::Decision::Admit)) => Some(GovernorNote {
                        delayed: false,
                        until_ms: None,
                        wait_s: None,
                        reason: None,
                    }),
                    Ok(Some(switchyard_relayer::governor::Decision::Wait { until_ms, why })) => {
                        // A wait with an end is part of the ETA, on the
                        // last leg (where the payout is made).
                        let wait_s = until_ms.map(|u| u.saturating_sub(req.now_ms).div_ceil(1000));
                        if let Some(w) = wait_s {
                            let r = &mut quoted.route;
                            r.eta_s = r.eta_s.saturating_add(w);
                            if let Some(leg) = r.legs.last_mut() {
                                leg.eta_s = leg.eta_s.saturating_add(w);
                                leg.notes.push(format!("governor: {why} (+{w} s)"));
                            }
                        }
                        Some(GovernorNote {
                            delayed: true,
                            until_ms: Some(until_ms),
                            wait_s,
                            reason: Some(why),
                        })
                    }
                    _ => None,
                };
            }
        }
        Ok(out)
    }
}

/// Binds `addr` and starts serving; returns the bound address and the
/// handle that stops the server.
pub async fn start(
    addr: SocketAddr,
    state: Arc<AppState>,
    max_request_bytes: u32,
    max_connections: u32,
    allowed_origins: Vec<String>,
) -> eyre::Result<(SocketAddr, ServerHandle)> {
    let http = tower::ServiceBuilder::new().layer(http::OpsLayer::new(
        Arc::clone(&state),
        http::Edge {
            allowed_origins,
            max_request_bytes,
        },
    ));
    let config = ServerConfig::builder()
        .max_request_body_size(max_request_bytes)
        .max_response_body_size(MAX_RESPONSE_BYTES)
        .max_connections(max_connections)
        .build();
    let gate: Arc<dyn switchyard_api::Gate> = Arc::clone(&state) as _;
    let keeper = Gatekeeper::new(
        gate,
        &switchyard_api::methods(),
        MAX_RESPONSE_BYTES as usize,
    );
    let rpc = RpcServiceBuilder::new().layer_fn(move |service| keeper.layer(service));
    let server = Server::builder()
        .set_config(config)
        .set_http_middleware(http)
        .set_rpc_middleware(rpc)
        .build(addr)
        .await?;
    let bound = server.local_addr()?;
    let handle = server.start(handler::rpc_module(state)?);
    Ok((bound, handle))
}
