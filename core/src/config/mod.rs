//! The daemon's configuration: typed, validated, layered.
//!
//! Order of precedence: the TOML file, then `SWITCHYARD_*` environment
//! variables, then command-line flags (applied by the binary). Relative
//! paths in the file are resolved against the file's directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod budget;
mod console;
mod signing;

pub use budget::MerchantBudgetConfig;
pub use console::ConsoleConfig;
pub use signing::{CosignerConfig, SigningConfig};

use crate::error::{Error, Result};

/// Highest hop budget a request may ask for.
pub const MAX_HOPS_LIMIT: u8 = 8;

/// `switchyard serve` configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonConfig {
    /// Path of the topology file.
    pub topology: PathBuf,
    /// RPC server settings.
    #[serde(default)]
    pub server: ServerConfig,
    /// Router settings.
    #[serde(default)]
    pub router: RouterConfig,
    /// Network model settings.
    #[serde(default)]
    pub model: ModelConfig,
    /// Relayer settings; without this section the daemon quotes but does
    /// not execute.
    #[serde(default)]
    pub relayer: Option<RelayerConfig>,
    /// API keys and roles; without this section every caller of the port
    /// (loopback by default) acts as an administrator.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// The operators' console (a web page on its own port); without this
    /// section it is not served.
    #[serde(default)]
    pub console: Option<ConsoleConfig>,
}

/// API key authentication. Keys live in the relayer's store, hashed.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Requests per second of a key created without its own rate.
    #[serde(default = "default_rate_per_s")]
    pub default_rate_per_s: u32,
}

fn default_rate_per_s() -> u32 {
    50
}

/// Relayer settings. Keys never live here: the lane (fee) key comes from
/// `SWITCHYARD_RELAYER_KEY`; messages are signed by the co-signers of
/// `[relayer.signing]` (or, without it, for development only, by one local
/// key from `SWITCHYARD_SIGNER_KEY`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayerConfig {
    /// The SQLite store (relative to the config file).
    pub store: PathBuf,
    /// Time between two steps of each lane and of the transfer executor.
    #[serde(default = "default_poll_ms")]
    pub poll_ms: u64,
    /// How long a signed release stays valid, seconds.
    #[serde(default = "default_release_ttl_s")]
    pub release_ttl_s: u64,
    /// A release that cannot execute yet (the destination escrow is short)
    /// waits and retries; after this long it also raises an alert.
    #[serde(default = "default_release_alert_ms")]
    pub release_alert_ms: u64,
    /// After this long waiting to be released, a deposit is refunded to
    /// its depositor on its own (its release cancelled on chain first).
    /// 0: only when an operator asks (`transfer_refund`).
    #[serde(default)]
    pub refund_after_ms: u64,
    /// Pricing and replacement.
    #[serde(default)]
    pub fees: crate::fees::FeePolicy,
    /// Payout batching.
    #[serde(default)]
    pub batch: BatchConfig,
    /// Time between two reconciliations of the store with the chains.
    #[serde(default = "default_reconcile_every_ms")]
    pub reconcile_every_ms: u64,
    /// Default funding source (`chain:ASSET`) of payouts: when a chain's
    /// PayoutBatcher float is short, a transfer from here tops it up.
    #[serde(default)]
    pub treasury: Option<String>,
    /// Notional limits per chain (optional).
    #[serde(default)]
    pub governor: Vec<GovernorConfig>,
    /// USD budgets per merchant, checked at intake (optional).
    #[serde(default)]
    pub merchant_budget: Vec<MerchantBudgetConfig>,
    /// Payouts at or above these USD values wait for operator approval
    /// (optional).
    #[serde(default)]
    pub approvals: Option<ApprovalsConfig>,
    /// Where payout events are POSTed, signed (optional).
    #[serde(default)]
    pub webhook: Option<WebhookConfig>,
    /// The co-signers (optional; without them one local key signs).
    #[serde(default)]
    pub signing: Option<SigningConfig>,
    /// Deny list file (`<chain> <address>` lines, relative to the config
    /// file), checked at intake and reloaded when it changes (optional).
    #[serde(default)]
    pub deny_list: Option<PathBuf>,
    /// A payout to an address this daemon never paid on that chain waits
    /// this long after intake (0: not at all).
    #[serde(default)]
    pub first_payout_delay_ms: u64,
}

/// One chain's notional limit.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovernorConfig {
    /// Chain id (`devnet-b`).
    pub chain: String,
    /// USD admitted per window at most (decimal string).
    pub budget_usd: String,
    /// Window length (default 24 h).
    #[serde(default = "default_window")]
    pub window_ms: u64,
    /// From this USD value a single payout waits `large_delay_ms`.
    pub large_usd: String,
    /// The large-payout delay (default 1 h).
    #[serde(default = "default_large_delay")]
    pub large_delay_ms: u64,
}

fn default_window() -> u64 {
    86_400_000
}
fn default_large_delay() -> u64 {
    3_600_000
}

impl GovernorConfig {
    /// (budget, large), parsed.
    pub fn amounts(&self, i: usize) -> Result<(crate::UsdE8, crate::UsdE8)> {
        let f = |n: &str| format!("relayer.governor[{i}].{n}");
        let budget = crate::UsdE8::parse(&f("budget_usd"), &self.budget_usd)?;
        let large = crate::UsdE8::parse(&f("large_usd"), &self.large_usd)?;
        if self.window_ms == 0 {
            return Err(Error::invalid(f("window_ms"), "must be positive"));
        }
        Ok((budget, large))
    }
}

/// Tiered approval of large payouts.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalsConfig {
    /// From this USD value one operator must approve (decimal string): an
    /// item, or a merchant's items to one recipient within `window_ms`.
    pub single_usd: String,
    /// From this USD value two distinct operators must approve.
    pub dual_usd: String,
    /// The window the aggregates are counted over (default 24 h).
    #[serde(default = "default_window")]
    pub window_ms: u64,
    /// A merchant's total within the window from which each further item
    /// waits for one operator (optional).
    #[serde(default)]
    pub merchant_single_usd: Option<String>,
    /// ... and from which two (optional).
    #[serde(default)]
    pub merchant_dual_usd: Option<String>,
    /// An operator's `transfer_submit` from the relayer's own funds from
    /// this USD value waits for a second operator (optional).
    #[serde(default)]
    pub transfer_dual_usd: Option<String>,
}

/// [`ApprovalsConfig`], parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApprovalThresholds {
    /// One approval from here.
    pub single: crate::UsdE8,
    /// Two from here.
    pub dual: crate::UsdE8,
    /// Aggregate window.
    pub window_ms: u64,
    /// Merchant totals.
    pub merchant_single: Option<crate::UsdE8>,
    /// Merchant totals.
    pub merchant_dual: Option<crate::UsdE8>,
    /// Treasury transfers.
    pub transfer_dual: Option<crate::UsdE8>,
}

impl ApprovalsConfig {
    /// The thresholds, parsed: (single, dual).
    pub fn thresholds(&self) -> Result<(crate::UsdE8, crate::UsdE8)> {
        let t = self.parse()?;
        Ok((t.single, t.dual))
    }

    /// Every threshold, parsed, naming the field on error.
    pub fn parse(&self) -> Result<ApprovalThresholds> {
        let usd = |f: &str, v: &str| crate::UsdE8::parse(&format!("relayer.approvals.{f}"), v);
        let opt = |f: &str, v: &Option<String>| v.as_deref().map(|v| usd(f, v)).transpose();
        let single = usd("single_usd", &self.single_usd)?;
        let dual = usd("dual_usd", &self.dual_usd)?;
        if dual < single {
            return Err(Error::invalid(
                "relayer.approvals.dual_usd",
                "must be at least single_usd",
            ));
        }
        if self.window_ms == 0 {
            return Err(Error::invalid(
                "relayer.approvals.window_ms",
                "must be greater than zero",
            ));
        }
        let merchant_single = opt("merchant_single_usd", &self.merchant_single_usd)?;
        let merchant_dual = opt("merchant_dual_usd", &self.merchant_dual_usd)?;
        if let (Some(s), Some(d)) = (merchant_single, merchant_dual)
            && d < s
        {
            return Err(Error::invalid(
                "relayer.approvals.merchant_dual_usd",
                "must be at least merchant_single_usd",
            ));
        }
        Ok(ApprovalThresholds {
            single,
            dual,
            window_ms: self.window_ms,
            merchant_single,
            merchant_dual,
            transfer_dual: opt("transfer_dual_usd", &self.transfer_dual_usd)?,
        })
    }
}

/// A webhook endpoint. The HMAC secret is read from the environment
/// variable `secret_env` names, never from the file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// `http://` or `https://` URL.
    pub url: String,
    /// Environment variable holding the secret.
    #[serde(default = "default_secret_env")]
    pub secret_env: String,
    /// Attempts per delivery before it is marked dead.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Per-attempt timeout.
    #[serde(default = "default_webhook_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_secret_env() -> String {
    "SWITCHYARD_WEBHOOK_SECRET".into()
}
fn default_max_attempts() -> u32 {
    8
}
fn default_webhook_timeout_ms() -> u64 {
    5_000
}

fn default_reconcile_every_ms() -> u64 {
    5_000
}

fn default_release_alert_ms() -> u64 {
    600_000
}

/// Payout batching: a batch per (chain, token) is flushed when it has
/// `max_items` items or its oldest item has waited `max_age_ms`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Most items per batch (one transaction).
    #[serde(default = "default_max_items")]
    pub max_items: usize,
    /// Longest wait of an item for its batch.
    #[serde(default = "default_max_age_ms")]
    pub max_age_ms: u64,
    /// Validity of a signed batch, seconds.
    #[serde(default = "default_release_ttl_s")]
    pub ttl_s: u64,
}

fn default_max_items() -> usize {
    200
}
fn default_max_age_ms() -> u64 {
    2_000
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            max_items: default_max_items(),
            max_age_ms: default_max_age_ms(),
            ttl_s: default_release_ttl_s(),
        }
    }
}

fn default_poll_ms() -> u64 {
    250
}
fn default_release_ttl_s() -> u64 {
    3600
}

/// RPC server settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Listen address (`HOST:PORT`, the host an IP or a name such as
    /// `localhost`); loopback by default.
    #[serde(default = "default_listen", deserialize_with = "listen_of")]
    pub listen: SocketAddr,
    /// Largest request body accepted, bytes.
    #[serde(default = "default_max_request_bytes")]
    pub max_request_bytes: u32,
    /// Most concurrent connections.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// Browser origins (`https://console.example`) whose pages may call the
    /// API; a request carrying any other `Origin` header is refused.
    /// Empty (the default): no browser page may.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
}

/// Parses a listen address `HOST:PORT`; a host name is resolved and its
/// first address used (`localhost:0` is the loopback with a free port).
pub fn parse_listen(field: &str, s: &str) -> Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    if let Ok(a) = s.parse() {
        return Ok(a);
    }
    s.to_socket_addrs()
        .map_err(|e| {
            Error::invalid(
                field,
                format!("{s:?} is not HOST:PORT with a known host: {e}"),
            )
        })?
        .next()
        .ok_or_else(|| Error::invalid(field, format!("{s:?} resolves to no address")))
}

fn listen_of<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<SocketAddr, D::Error> {
    let s = String::deserialize(d)?;
    parse_listen("server.listen", &s).map_err(serde::de::Error::custom)
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8711))
}
fn default_max_request_bytes() -> u32 {
    1 << 20
}
fn default_max_connections() -> u32 {
    1024
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            max_request_bytes: default_max_request_bytes(),
            max_connections: default_max_connections(),
            allowed_origins: Vec::new(),
        }
    }
}

/// Router settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterConfig {
    /// Hop budget when a request names none.
    #[serde(default = "default_max_hops")]
    pub default_max_hops: u8,
}

fn default_max_hops() -> u8 {
    4
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            default_max_hops: default_max_hops(),
        }
    }
}

/// Circuit breaker thresholds (per chain and per bridge).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerPolicy {
    /// Sliding window of the failure rate.
    #[serde(default = "d_window")]
    pub window_ms: u64,
    /// Calls in the window before the rate counts.
    #[serde(default = "d_min_calls")]
    pub min_calls: u32,
    /// Failure rate that trips, permille.
    #[serde(default = "d_rate")]
    pub failure_permille: u32,
    /// Consecutive failures that trip.
    #[serde(default = "d_consecutive")]
    pub consecutive_failures: u32,
    /// Time open before trying half-open.
    #[serde(default = "d_cool")]
    pub cool_down_ms: u64,
    /// Successful probe calls that close a half-open breaker.
    #[serde(default = "d_probes")]
    pub half_open_probes: u32,
}

fn d_window() -> u64 {
    60_000
}
fn d_min_calls() -> u32 {
    10
}
fn d_rate() -> u32 {
    500
}
fn d_consecutive() -> u32 {
    3
}
fn d_cool() -> u64 {
    10_000
}
fn d_probes() -> u32 {
    2
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self {
            window_ms: d_window(),
            min_calls: d_min_calls(),
            failure_permille: d_rate(),
            consecutive_failures: d_consecutive(),
            cool_down_ms: d_cool(),
            half_open_probes: d_probes(),
        }
    }
}

/// Network model settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// A probe reading older than this takes its bridge out of routing.
    #[serde(default = "default_stale_after_ms")]
    pub stale_after_ms: u64,
    /// Time between probe readings of each chain with an `rpc_url`.
    #[serde(default = "default_probe_every_ms")]
    pub probe_every_ms: u64,
    /// Circuit breakers.
    #[serde(default)]
    pub breaker: BreakerPolicy,
    /// A head that has not moved for this long trips its chain's breaker
    /// (0: ten block times, at least 10 s).
    #[serde(default)]
    pub frozen_head_ms: u64,
    /// How executed hops move the bridges' success and ETA estimates.
    #[serde(default)]
    pub health: crate::health::HealthPolicy,
}

fn default_probe_every_ms() -> u64 {
    5_000
}

fn default_stale_after_ms() -> u64 {
    60_000
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            stale_after_ms: default_stale_after_ms(),
            probe_every_ms: default_probe_every_ms(),
            breaker: BreakerPolicy::default(),
            frozen_head_ms: 0,
            health: crate::health::HealthPolicy::default(),
        }
    }
}

impl DaemonConfig {
    /// A config for `topology` with every other setting at its default.
    pub fn for_topology(topology: PathBuf) -> Self {
        Self {
            topology,
            server: ServerConfig::default(),
            router: RouterConfig::default(),
            model: ModelConfig::default(),
            relayer: None,
            auth: None,
            console: None,
        }
    }

    /// Reads the file, resolves relative paths, applies environment
    /// overrides from `env` (pass `std::env::vars()`), and validates.
    pub fn load(path: &Path, env: impl IntoIterator<Item = (String, String)>) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Load {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let mut cfg: Self = toml::from_str(&text).map_err(|e| Error::Load {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        if cfg.topology.is_relative()
            && let Some(dir) = path.parent()
        {
            cfg.topology = dir.join(&cfg.topology);
        }
        if let (Some(r), Some(dir)) = (cfg.relayer.as_mut(), path.parent()) {
            if r.store.is_relative() {
                r.store = dir.join(&r.store);
            }
            if let Some(d) = r.deny_list.as_mut()
                && d.is_relative()
            {
                *d = dir.join(&*d);
            }
        }
        cfg.apply_env(env)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Applies `SWITCHYARD_LISTEN`, `SWITCHYARD_CONSOLE_LISTEN`, `SWITCHYARD_TOPOLOGY`,
    /// `SWITCHYARD_STORE` and `SWITCHYARD_STALE_AFTER_MS`.
    pub fn apply_env(&mut self, env: impl IntoIterator<Item = (String, String)>) -> Result<()> {
        for (k, v) in env {
            match k.as_str() {
                "SWITCHYARD_LISTEN" => {
                    self.server.listen = parse_listen("SWITCHYARD_LISTEN", &v)?;
                }
                "SWITCHYARD_CONSOLE_LISTEN" => {
                    let listen = parse_listen("SWITCHYARD_CONSOLE_LISTEN", &v)?;
                    match self.console.as_mut() {
                        Some(c) => c.listen = listen,
                        None => {
                            self.console = Some(ConsoleConfig {
                                listen,
                                api_url: None,
                            });
                        }
                    }
                }
                "SWITCHYARD_TOPOLOGY" => self.topology = PathBuf::from(v),
                "SWITCHYARD_STORE" => match self.relayer.as_mut() {
                    Some(r) => r.store = PathBuf::from(v),
                    None => {
                        return Err(Error::invalid(
                            "SWITCHYARD_STORE",
                            "set, but the config has no [relayer] section",
                        ));
                    }
                },
                "SWITCHYARD_STALE_AFTER_MS" => {
                    self.model.stale_after_ms = v.parse().map_err(|_| {
                        Error::invalid(
                            "SWITCHYARD_STALE_AFTER_MS",
                            format!("{v:?} is not an integer"),
                        )
                    })?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Checks ranges that serde cannot express.
    pub fn validate(&self) -> Result<()> {
        if self.router.default_max_hops == 0 || self.router.default_max_hops > MAX_HOPS_LIMIT {
            return Err(Error::invalid(
                "router.default_max_hops",
                format!("must be between 1 and {MAX_HOPS_LIMIT}"),
            ));
        }
        if self.server.max_request_bytes < 1024 {
            return Err(Error::invalid(
                "server.max_request_bytes",
                "must be at least 1024",
            ));
        }
        self.model.health.validate("model.health")?;
        if self.model.stale_after_ms == 0 {
            return Err(Error::invalid("model.stale_after_ms", "must be positive"));
        }
        if let Some(r) = &self.relayer {
            r.fees.validate().map_err(|e| match e {
                crate::fees::PolicyError::Field { field, why } => {
                    Error::invalid(format!("relayer.fees.{field}"), why)
                }
            })?;
            if let Some(a) = &r.approvals {
                a.thresholds()?;
            }
            if let Some(s) = &r.signing {
                s.validate()?;
            }
            for (i, m) in r.merchant_budget.iter().enumerate() {
                m.amounts(i)?;
                if r.merchant_budget[..i]
                    .iter()
                    .any(|o| o.merchant == m.merchant)
                {
                    return Err(Error::invalid(
                        format!("relayer.merchant_budget[{i}].merchant"),
                        format!("{:?} has a budget already", m.merchant),
                    ));
                }
            }
            for (i, g) in r.governor.iter().enumerate() {
                g.amounts(i)?;
            }
            if let Some(w) = &r.webhook {
                if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                    return Err(Error::invalid(
                        "relayer.webhook.url",
                        "must be an http:// or https:// URL",
                    ));
                }
                if w.max_attempts == 0 || w.max_attempts > 50 {
                    return Err(Error::invalid(
                        "relayer.webhook.max_attempts",
                        "must be between 1 and 50",
                    ));
                }
            }
            if r.reconcile_every_ms < 100 {
                return Err(Error::invalid(
                    "relayer.reconcile_every_ms",
                    "must be at least 100",
                ));
            }
            if r.poll_ms < 10 {
                return Err(Error::invalid("relayer.poll_ms", "must be at least 10"));
            }
            if r.batch.max_items == 0 || r.batch.max_items > 2_000 {
                return Err(Error::invalid(
                    "relayer.batch.max_items",
                    "must be between 1 and 2000",
                ));
            }
            if r.batch.ttl_s < 60 {
                return Err(Error::invalid("relayer.batch.ttl_s", "must be at least 60"));
            }
            if r.release_ttl_s < 60 {
                return Err(Error::invalid(
                    "relayer.release_ttl_s",
                    "must be at least 60",
                ));
            }
        }
        if self.auth.is_none() && !self.server.listen.ip().is_loopback() {
            return Err(Error::invalid(
                "server.listen",
                format!(
                    "{} is not a loopback address: without an [auth] section every caller is trusted as the administrator; add [auth] (API keys) or listen on 127.0.0.1",
                    self.server.listen
                ),
            ));
        }
        if let Some(c) = &self.console {
            c.validate(self.auth.is_some())?;
        }
        for (i, o) in self.server.allowed_origins.iter().enumerate() {
            if !(o.starts_with("http://") || o.starts_with("https://")) || o.ends_with('/') {
                return Err(Error::invalid(
                    format!("server.allowed_origins[{i}]"),
                    "an origin is scheme://host[:port], no path",
                ));
            }
        }
        if self.auth.is_some() && self.relayer.is_none() {
            return Err(Error::invalid(
                "auth",
                "API keys live in the relayer's store: add a [relayer] section",
            ));
        }
        let b = &self.model.breaker;
        if b.consecutive_failures == 0 || b.half_open_probes == 0 || b.failure_permille > 1000 {
            return Err(Error::invalid(
                "model.breaker",
                "consecutive_failures and half_open_probes at least 1, failure_permille at most 1000",
            ));
        }
        if self.model.probe_every_ms < 50 {
            return Err(Error::invalid(
                "model.probe_every_ms",
                "must be at least 50",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment_then_validation() {
        let dir = std::env::temp_dir().join(format!("sy-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("switchyard.toml");
        std::fs::write(
            &path,
            "topology = \"topo.toml\"\n[router]\ndefault_max_hops = 3\n",
        )
        .unwrap();
        let env = vec![(
            "SWITCHYARD_LISTEN".to_string(),
            "127.0.0.1:9999".to_string(),
        )];
        let cfg = DaemonConfig::load(&path, env).unwrap();
        assert_eq!(cfg.topology, dir.join("topo.toml"));
        assert_eq!(cfg.router.default_max_hops, 3);
        assert_eq!(cfg.server.listen.port(), 9999);

        let bad = vec![("SWITCHYARD_LISTEN".to_string(), "nowhere".to_string())];
        assert_eq!(
            DaemonConfig::load(&path, bad).unwrap_err().field(),
            Some("SWITCHYARD_LISTEN")
        );

        std::fs::write(&path, "topology = \"t\"\n[router]\ndefault_max_hops = 0\n").unwrap();
        let e = DaemonConfig::load(&path, Vec::new()).unwrap_err();
        assert_eq!(e.field(), Some("router.default_max_hops"));

        std::fs::write(&path, "topology = \"t\"\nlisten = \"x\"\n").unwrap();
        assert!(
            DaemonConfig::load(&path, Vec::new())
                .unwrap_err()
                .to_string()
                .contains("listen")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
