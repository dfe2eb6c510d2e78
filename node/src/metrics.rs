//! Prometheus metrics, served as text at `GET /metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of an RPC call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    /// Method name.
    pub method: String,
    /// `ok` or the error code.
    pub outcome: String,
}

/// Labels of a quote.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModeLabels {
    /// Quote mode.
    pub mode: String,
}

/// Labels of a payout state.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    /// State name.
    pub state: String,
}

/// Labels of lane transactions.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LaneLabels {
    /// EVM chain id.
    pub chain_id: String,
    /// Transaction state.
    pub state: String,
}

/// Labels of per-chain health gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChainLabels {
    /// EVM chain id.
    pub chain_id: String,
}

/// Labels of the supervisor's gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabels {
    /// Task name (`lane:devnet-a`, `payout-batcher`, ...).
    pub task: String,
}

fn latency_histogram() -> Histogram {
    // 10 µs .. ~0.3 s
    Histogram::new(exponential_buckets(0.000_01, 2.0, 16))
}

/// All metrics of the daemon.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// RPC calls by method and outcome.
    pub rpc_calls: Family<RpcLabels, Counter>,
    /// Quote computation time by mode, seconds.
    pub quote_latency: Family<ModeLabels, Histogram, fn() -> Histogram>,
    /// Routes returned per quote.
    pub quote_routes: Histogram,
    /// Version of the published network model.
    pub model_version: Gauge,
    /// Payout items by state (read from the store at each scrape).
    pub payouts: Family<StateLabels, Gauge>,
    /// Lane transactions by chain and state.
    pub lane_txs: Family<LaneLabels, Gauge>,
    /// Transfers by state.
    pub transfers: Family<StateLabels, Gauge>,
    /// Differences reconciliation found between the store and the chains.
    pub reconciliation_alerts: Gauge,
    /// 1 while a lane is halted (foreign sends from its key).
    pub lane_halted: Family<ChainLabels, Gauge>,
    /// Open lane rows whose last step failed.
    pub lane_failing_rows: Family<ChainLabels, Gauge>,
    /// 1 while a chain's payout step fails.
    pub payout_chain_failing: Family<ChainLabels, Gauge>,
    /// 1 while a supervised task runs (0: restarting, failed, stopped).
    pub task_up: Family<TaskLabels, Gauge>,
    /// Restarts of a supervised task since start.
    pub task_restarts: Family<TaskLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("switchyard");
        let rpc_calls = Family::<RpcLabels, Counter>::default();
        let quote_latency =
            Family::<ModeLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram as fn() -> Histogram,
            );
        let quote_routes = Histogram::new([0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0]);
        let model_version = Gauge::default();
        registry.register(
            "rpc_calls",
            "JSON-RPC calls by method and outcome",
            rpc_calls.clone(),
        );
        registry.register(
            "quote_latency_seconds",
            "Route search time by mode",
            quote_latency.clone(),
        );
        registry.register(
            "quote_routes",
            "Routes returned per quote",
            quote_routes.clone(),
        );
        registry.register(
            "model_version",
            "Version of the published network model",
            model_version.clone(),
        );
        let payouts = Family::<StateLabels, Gauge>::default();
        let lane_txs = Family::<LaneLabels, Gauge>::default();
        let transfers = Family::<StateLabels, Gauge>::default();
        registry.register(
            "payouts",
            "Payout items by state; queued+routed+held+batched is the queue",
            payouts.clone(),
        );
        registry.register(
            "lane_transactions",
            "Relayer lane transactions by chain id and state",
            lane_txs.clone(),
        );
        registry.register("transfers", "Transfers by state", transfers.clone());
        let reconciliation_alerts = Gauge::default();
        registry.register(
            "reconciliation_alerts",
            "Differences found between the store and the chains (alerts on record)",
            reconciliation_alerts.clone(),
        );
        let lane_halted = Family::<ChainLabels, Gauge>::default();
        registry.register(
            "lane_halted",
            "1 while the lane is halted: another process sends with its key",
            lane_halted.clone(),
        );
        let lane_failing_rows = Family::<ChainLabels, Gauge>::default();
        registry.register(
            "lane_failing_rows",
            "Open lane transactions whose last step failed (retried every tick)",
            lane_failing_rows.clone(),
        );
        let payout_chain_failing = Family::<ChainLabels, Gauge>::default();
        registry.register(
            "payout_chain_failing",
            "1 while a chain's payout step fails (its items wait; other chains go on)",
            payout_chain_failing.clone(),
        );
        let task_up = Family::<TaskLabels, Gauge>::default();
        registry.register(
            "task_up",
            "1 while a supervised task runs; 0 while it restarts after a failure",
            task_up.clone(),
        );
        let task_restarts = Family::<TaskLabels, Gauge>::default();
        registry.register(
            "task_restarts",
            "Restarts of a supervised task after a panic or an error, since start",
            task_restarts.clone(),
        );
        Self {
            registry,
            rpc_calls,
            quote_latency,
            quote_routes,
            model_version,
            payouts,
            lane_txs,
            transfers,
            reconciliation_alerts,
            lane_halted,
            lane_failing_rows,
            payout_chain_failing,
            task_up,
            task_restarts,
        }
    }

    /// Counts one RPC call.
    pub fn count_call(&self, method: &str, outcome: &str) {
        self.rpc_calls
            .get_or_create(&RpcLabels {
                method: method.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
