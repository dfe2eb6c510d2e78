//! The JSON-RPC 2.0 API (jsonrpsee), HTTP and WebSocket on one port.
//!
//! Methods: `route_quote`, `transfer_submit`, `transfer_status`,
//! `payout_submit`, `payout_status`, `payout_list`, `payout_cancel`,
//! `rpc.discover`. Plain endpoints: `GET /health`,
//! `GET /metrics`. Params may be given by name (`{"from": ...}`), as a
//! one-element array holding that object, or by position (`["po_…"]`),
//! see [`params`]. Errors carry stable codes, see
//! [`errors`].

pub mod auth;
pub mod errors;
pub mod http;
pub mod openrpc;
pub mod ops;
pub mod params;
pub mod payout;
pub mod transfer;

pub use params::decode_params;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use jsonrpsee::server::{RpcModule, Server, ServerConfig, ServerHandle};
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::{Value, json};
use switchyard_probes::ModelHandle;
use switchyard_relayer::Role;
use switchyard_router::{QuoteParams, QuoteRequest, quote};

use crate::metrics::{Metrics, ModeLabels};

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
}

impl AppState {
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
            .collect();
        let degraded = lanes.iter().any(|l| !l["halted"].is_null()) || !failing.is_empty();
        json!({
            "status": if alert_count > 0 { "alert" } else if degraded { "degraded" } else { "ok" },
            "lanes": lanes,
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
    pub fn route_quote(&self, params: QuoteParams) -> Result<Value, ErrorObjectOwned> {
        if let Some(why) = self.route_paused(&params.from, &params.to) {
            return Ok(json!({ "routes": [], "excluded": [], "paused": why }));
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
        let mut v =
            serde_json::to_value(q.view(graph)).map_err(|e| errors::internal(&e.to_string()))?;
        if let Some(engine) = &self.engine {
            let t = graph.topology();
            for (i, r) in q.routes.iter().enumerate() {
                let Some(&last) = r.bridges.last() else {
                    continue;
                };
                let asset = t.asset(t.bridge(last).to);
                let Some(chain_id) = t.chain(asset.chain).chain_id else {
                    continue;
                };
                let usd = switchyard_core::Amount::from_raw(r.amount_out(), asset.decimals)
                    .usd_value(asset.usd_price)
                    .unwrap_or_default();
                let note = match engine.payouts.governor_check(chain_id, usd) {
                    Ok(Some(switchyard_relayer::governor::Decision::Admit)) => {
                        json!({ "delayed": false })
                    }
                    Ok(Some(switchyard_relayer::governor::Decision::Wait { until_ms, why })) => {
                        json!({ "delayed": true, "until_ms": until_ms, "reason": why })
                    }
                    _ => continue,
                };
                v["routes"][i]["governor"] = note;
            }
        }
        Ok(v)
    }
}

fn outcome<T>(r: &Result<T, ErrorObjectOwned>) -> String {
    match r {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.code().to_string(),
    }
}

/// Builds the RPC module with every method.
pub fn rpc_module(state: Arc<AppState>) -> RpcModule<AppState> {
    let mut m = RpcModule::from_arc(state);
    // Names are static and distinct, so registration cannot clash; a
    // clash would show as a missing method in every API test.
    let _ = m.register_method("route_quote", |params, state, ext| {
        let r = state
            .authorize(ext, Role::Wallet, "route_quote")
            .and_then(|_| decode_params::<QuoteParams>(&params).and_then(|p| state.route_quote(p)));
        state.metrics.count_call("route_quote", &outcome(&r));
        r
    });
    let _ = m.register_blocking_method("transfer_submit", |params, state, ext| {
        let r = state
            .authorize(&ext, Role::Operator, "transfer_submit")
            .and_then(|_| {
                decode_params::<transfer::TransferParams>(&params)
                    .and_then(|p| state.transfer_submit(p))
            });
        state.metrics.count_call("transfer_submit", &outcome(&r));
        r
    });
    let _ = m.register_method("transfer_status", |params, state, ext| {
        let r = state
            .authorize(ext, Role::Operator, "transfer_status")
            .and_then(|_| {
                decode_params::<transfer::StatusParams>(&params)
                    .and_then(|p| state.transfer_status(p))
            });
        state.metrics.count_call("transfer_status", &outcome(&r));
        r
    });
    // Intake writes to the store (an fsync): off the async workers.
    let _ = m.register_blocking_method("payout_submit", |params, state, ext| {
        let r = state
            .authorize(&ext, Role::Merchant, "payout_submit")
            .and_then(|caller| {
                decode_params::<payout::SubmitParams>(&params)
                    .and_then(|p| state.payout_submit(&caller, p))
            });
        state.metrics.count_call("payout_submit", &outcome(&r));
        r
    });
    let _ = m.register_method("payout_status", |params, state, ext| {
        let r = state
            .authorize(ext, Role::Merchant, "payout_status")
            .and_then(|caller| {
                decode_params::<payout::IdParams>(&params)
                    .and_then(|p| state.payout_status(&caller, p))
            });
        state.metrics.count_call("payout_status", &outcome(&r));
        r
    });
    let _ = m.register_method("payout_list", |params, state, ext| {
        let r = state
            .authorize(ext, Role::Merchant, "payout_list")
            .and_then(|caller| {
                decode_params::<payout::ListParams>(&params)
                    .and_then(|p| state.payout_list(&caller, p))
            });
        state.metrics.count_call("payout_list", &outcome(&r));
        r
    });
    let _ = m.register_method("payout_cancel", |params, state, ext| {
        let r = state
            .authorize(ext, Role::Merchant, "payout_cancel")
            .and_then(|caller| {
                decode_params::<payout::IdParams>(&params)
                    .and_then(|p| state.payout_cancel(&caller, p))
            });
        state.metrics.count_call("payout_cancel", &outcome(&r));
        r
    });
    let _ = m.register_method("payout_deliveries", |params, state, ext| {
        let r = state
            .authorize(ext, Role::Merchant, "payout_deliveries")
            .and_then(|caller| {
                decode_params::<payout::IdParams>(&params)
                    .and_then(|p| state.payout_deliveries(&caller, p))
            });
        state.metrics.count_call("payout_deliveries", &outcome(&r));
        r
    });
    let _ = m.register_subscription(
        "payout_subscribe",
        "payout_event",
        "payout_unsubscribe",
        |params, pending, state, ext| async move {
            let filter = match state
                .authorize(&ext, Role::Merchant, "payout_subscribe")
                .and_then(|caller| {
                    decode_params::<payout::SubscribeParams>(&params).map(|mut p| {
                        if caller.role == Role::Merchant {
                            p.owner = Some(caller.name);
                        }
                        p
                    })
                })
                .and_then(|p| state.payouts_subscribable().map(|rx| (p, rx)))
            {
                Ok(ok) => ok,
                Err(e) => {
                    pending.reject(e).await;
                    return;
                }
            };
            let (p, mut rx) = filter;
            let Ok(sink) = pending.accept().await else {
                return;
            };
            state.metrics.count_call("payout_subscribe", "ok");
            loop {
                tokio::select! {
                    () = sink.closed() => break,
                    ev = rx.recv() => match ev {
                        Ok(ev) => {
                            if !p.matches(&ev) {
                                continue;
                            }
                            let Ok(raw) = serde_json::value::to_raw_value(&ev) else { continue };
                            if sink.send(raw).await.is_err() {
                                break;
                            }
                        }
                        // A slow subscriber that fell behind is told so and
                        // dropped; payout_list has the full picture.
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                    },
                }
            }
        },
    );
    let _ = m.register_blocking_method("ops_pause", |params, state, ext| {
        let r = state
            .authorize(&ext, Role::Operator, "ops_pause")
            .and_then(|caller| {
                decode_params::<ops::PauseParams>(&params).and_then(|p| state.ops_pause(&caller, p))
            });
        state.metrics.count_call("ops_pause", &outcome(&r));
        r
    });
    let _ = m.register_blocking_method("ops_resume", |params, state, ext| {
        let r = state
            .authorize(&ext, Role::Operator, "ops_resume")
            .and_then(|caller| {
                decode_params::<ops::PauseParams>(&params)
                    .and_then(|p| state.ops_resume(&caller, p))
            });
        state.metrics.count_call("ops_resume", &outcome(&r));
        r
    });
    let _ = m.register_method("ops_status", |_, state, ext| {
        let r = state
            .authorize(ext, Role::Operator, "ops_status")
            .and_then(|_| state.ops_status());
        state.metrics.count_call("ops_status", &outcome(&r));
        r
    });
    let _ = m.register_method("ops_audit", |params, state, ext| {
        let r = state
            .authorize(ext, Role::Operator, "ops_audit")
            .and_then(|_| {
                decode_params::<ops::AuditParams>(&params).and_then(|p| state.ops_audit(p))
            });
        state.metrics.count_call("ops_audit", &outcome(&r));
        r
    });
    let _ = m.register_blocking_method("ops_approve", |params, state, ext| {
        let r = state
            .authorize(&ext, Role::Operator, "ops_approve")
            .and_then(|caller| {
                decode_params::<ops::ApproveParams>(&params)
                    .and_then(|p| state.ops_approve(&caller, p))
            });
        state.metrics.count_call("ops_approve", &outcome(&r));
        r
    });
    let _ = m.register_blocking_method("ops_reject", |params, state, ext| {
        let r = state
            .authorize(&ext, Role::Operator, "ops_reject")
            .and_then(|caller| {
                decode_params::<ops::RejectParams>(&params)
                    .and_then(|p| state.ops_reject(&caller, p))
            });
        state.metrics.count_call("ops_reject", &outcome(&r));
        r
    });
    let _ = m.register_blocking_method("transfer_refund", |params, state, ext| {
        let r = state
            .authorize(&ext, Role::Operator, "transfer_refund")
            .and_then(|caller| {
                decode_params::<ops::RefundParams>(&params)
                    .and_then(|p| state.transfer_refund(&caller, p))
            });
        state.metrics.count_call("transfer_refund", &outcome(&r));
        r
    });
    let _ = m.register_blocking_method("ops_batch_cancel", |params, state, ext| {
        let r = state
            .authorize(&ext, Role::Operator, "ops_batch_cancel")
            .and_then(|caller| {
                decode_params::<ops::BatchCancelParams>(&params)
                    .and_then(|p| state.ops_batch_cancel(&caller, p))
            });
        state.metrics.count_call("ops_batch_cancel", &outcome(&r));
        r
    });
    let _ = m.register_blocking_method("ops_lane_resume", |params, state, ext| {
        let r = state
            .authorize(&ext, Role::Operator, "ops_lane_resume")
            .and_then(|caller| {
                decode_params::<ops::LaneResumeParams>(&params)
                    .and_then(|p| state.ops_lane_resume(&caller, p))
            });
        state.metrics.count_call("ops_lane_resume", &outcome(&r));
        r
    });
    let _ = m.register_blocking_method("keys_create", |params, state, ext| {
        let r = state
            .authorize(&ext, Role::Admin, "keys_create")
            .and_then(|caller| {
                decode_params::<ops::KeyCreateParams>(&params)
                    .and_then(|p| state.keys_create(&caller, p))
            });
        state.metrics.count_call("keys_create", &outcome(&r));
        r
    });
    let _ = m.register_blocking_method("keys_revoke", |params, state, ext| {
        let r = state
            .authorize(&ext, Role::Admin, "keys_revoke")
            .and_then(|caller| {
                decode_params::<ops::KeyRevokeParams>(&params)
                    .and_then(|p| state.keys_revoke(&caller, p))
            });
        state.metrics.count_call("keys_revoke", &outcome(&r));
        r
    });
    let _ = m.register_method("keys_list", |_, state, ext| {
        let r = state
            .authorize(ext, Role::Admin, "keys_list")
            .and_then(|_| state.keys_list());
        state.metrics.count_call("keys_list", &outcome(&r));
        r
    });
    let _ = m.register_method("rpc.discover", |_, state, _| {
        state.metrics.count_call("rpc.discover", "ok");
        openrpc::document()
    });
    m
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
        .max_response_body_size(16 << 20)
        .max_connections(max_connections)
        .build();
    let server = Server::builder()
        .set_config(config)
        .set_http_middleware(http)
        .build(addr)
        .await?;
    let bound = server.local_addr()?;
    let handle = server.start(rpc_module(state));
    Ok((bound, handle))
}
