//! The RPC endpoints of one EVM chain, with failover.
//!
//! A chain may list several endpoints (`rpc_urls`). Every endpoint keeps
//! its own health: the last head it reported, consecutive failures, the
//! last error, and a back-off after a failure. From that:
//!
//! - **Reads** go to the best endpoint first (up, not lagging, highest
//!   head) and fail over to the next when an endpoint errors, times out
//!   (every call is bounded by [`RPC_TIMEOUT`]) or is rate limited. A node's
//!   *answer* (a revert, "no receipt") is not a failure and is not retried
//!   elsewhere: only failures to answer are.
//! - **Heads** are asked of every endpoint at once; the highest answer is
//!   the chain's head, and an endpoint more than [`MAX_LAG`] blocks behind
//!   it (a frozen node falls behind as soon as the others move on) is
//!   *lagging*: reads skip it while a better one answers.
//! - **Chain id**: before an endpoint's first head counts, it must answer
//!   `eth_chainId` with the chain's id; one serving another chain is never
//!   used again (`wrong_chain`).
//! - **Broadcasts** go to every endpoint that is up; one acceptance is
//!   enough. A refusal from one node does not hide another's acceptance.
//!
//! So the readings that decide a re-nonce or a final (heads, finalized
//! heads, nonces at a block, receipts) come from the endpoint with the
//! highest head whenever it answers; a lagging node can only make those
//! decisions later, never wrongly earlier.
//!
//! URLs are never printed: [`Endpoints::views`] and every error carry the
//! redacted form (`switchyard_core::redact`), since provider URLs hold API
//! keys in their paths and query strings.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use serde::Serialize;
use switchyard_core::chain::{ChainError, ChainResult};
use switchyard_core::redact::{redact_in, redact_url};

/// Longest wait for one JSON-RPC answer over HTTP.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(5);

/// Blocks an endpoint may trail the best head before reads avoid it.
pub const MAX_LAG: u64 = 3;

/// After the first answer to a head fan-out, how long the others get.
const HEAD_GRACE: Duration = Duration::from_millis(300);

/// Longest back-off of a failing endpoint.
const MAX_BACKOFF_MS: u64 = 30_000;

#[derive(Clone, Debug, Default)]
struct Health {
    head: Option<u64>,
    failures: u32,
    down_until_ms: u64,
    last_error: Option<String>,
    /// It answered `eth_chainId` with the chain's id.
    verified: bool,
    /// It serves another chain: never used.
    wrong_chain: bool,
}

#[derive(Debug)]
struct Endpoint {
    url: String,
    shown: String,
    provider: DynProvider,
    health: Mutex<Health>,
}

impl Endpoint {
    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn succeeded(&self) {
        let mut h = self.health();
        h.failures = 0;
        h.down_until_ms = 0;
    }

    fn failed(&self, e: &ChainError) {
        let mut h = self.health();
        h.failures = h.failures.saturating_add(1);
        let backoff = 500u64
            .saturating_mul(1 << h.failures.saturating_sub(1).min(10))
            .min(MAX_BACKOFF_MS);
        h.down_until_ms = switchyard_core::now_ms().saturating_add(backoff);
        h.last_error = Some(e.to_string());
    }

    fn saw_head(&self, head: u64) {
        self.health().head = Some(head);
    }

    /// Checks once that the endpoint serves `chain_id`.
    async fn verify(&self, chain_id: Option<u64>) -> ChainResult<()> {
        let Some(want) = chain_id else {
            return Ok(());
        };
        if self.health().verified {
            return Ok(());
        }
        let got = self
            .provider
            .get_chain_id()
            .await
            .map_err(|e| scrub(super::adapter::classify(e), &self.url))?;
        let mut h = self.health();
        if got == want {
            h.verified = true;
            Ok(())
        } else {
            h.wrong_chain = true;
            let e = ChainError::Malformed(format!(
                "{} serves chain id {got}, not {want}: never used",
                self.shown
            ));
            h.last_error = Some(e.to_string());
            tracing::error!(endpoint = %self.shown, got, want, "endpoint serves another chain");
            Err(e)
        }
    }
}

/// One endpoint as `/health` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EndpointView {
    /// Redacted URL.
    pub url: String,
    /// `ok`, `lagging`, `down` or `wrong_chain`.
    pub state: &'static str,
    /// Last head it reported.
    pub head: Option<u64>,
    /// Blocks behind the best head.
    pub lag: Option<u64>,
    /// Failures in a row.
    pub failures: u32,
    /// Its last failure (redacted).
    pub last_error: Option<String>,
}

/// The endpoints of one chain; shared by every adapter of that chain (the
/// lane, the probes), so they all learn from each other's calls.
#[derive(Debug)]
pub struct Endpoints {
    list: Vec<Endpoint>,
    chain_id: Option<u64>,
}

fn http_provider(url: &str) -> ChainResult<DynProvider> {
    let parsed = url
        .parse()
        .map_err(|_| ChainError::Malformed(format!("not a URL: {}", redact_url(url))))?;
    // Every call is bounded: a node that stops answering (frozen, not
    // gone) fails the call instead of hanging the lane or the probe.
    let client = alloy::transports::http::reqwest::Client::builder()
        .timeout(RPC_TIMEOUT)
        .connect_timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| ChainError::Transport(redact_in(&e.to_string(), url)))?;
    let http = alloy::transports::http::Http::with_client(client, parsed);
    let rpc = alloy::rpc::client::RpcClient::new(http, false);
    Ok(ProviderBuilder::new()
        .disable_recommended_fillers()
        .connect_client(rpc)
        .erased())
}

/// The same error with `url` scrubbed from its text.
fn scrub(e: ChainError, url: &str) -> ChainError {
    let r = |m: String| redact_in(&m, url);
    match e {
        ChainError::Transport(m) => ChainError::Transport(r(m)),
        ChainError::RateLimited(m) => ChainError::RateLimited(r(m)),
        ChainError::Rpc { code, message } => ChainError::Rpc {
            code,
            message: r(message),
        },
        ChainError::Malformed(m) => ChainError::Malformed(r(m)),
        ChainError::WouldRevert(m) => ChainError::WouldRevert(r(m)),
        ChainError::Underpriced(m) => ChainError::Underpriced(r(m)),
        ChainError::FenceUsed(m) => ChainError::FenceUsed(r(m)),
    }
}

impl Endpoints {
    /// Endpoints over HTTP only (no connection is made yet), for the chain
    /// with EVM id `chain_id` (checked against each endpoint's
    /// `eth_chainId` before its first head counts; `None`: unchecked).
    pub fn http(urls: &[String], chain_id: Option<u64>) -> ChainResult<Arc<Self>> {
        let mut list = Vec::with_capacity(urls.len());
        for u in urls {
            list.push(Endpoint {
                url: u.clone(),
                shown: redact_url(u),
                provider: http_provider(u)?,
                health: Mutex::default(),
            });
        }
        Self::from_list(list, chain_id)
    }

    /// Endpoints by scheme: HTTP(S), or WebSocket (`ws://`, `wss://`: one
    /// connection each, which alloy re-establishes after a drop). A
    /// WebSocket endpoint that cannot be reached now is left out with a
    /// warning while another endpoint remains.
    pub async fn connect(urls: &[String], chain_id: Option<u64>) -> ChainResult<Arc<Self>> {
        let mut list = Vec::with_capacity(urls.len());
        let mut last = None;
        for u in urls {
            let provider = if u.starts_with("ws://") || u.starts_with("wss://") {
                match ProviderBuilder::new()
                    .disable_recommended_fillers()
                    .connect_ws(alloy::providers::WsConnect::new(u.as_str()))
                    .await
                {
                    Ok(p) => p.erased(),
                    Err(e) => {
                        let e = scrub(super::adapter::classify(e), u);
                        tracing::warn!(url = %redact_url(u), error = %e, "endpoint unreachable; left out");
                        last = Some(e);
                        continue;
                    }
                }
            } else {
                http_provider(u)?
            };
            list.push(Endpoint {
                url: u.clone(),
                shown: redact_url(u),
                provider,
                health: Mutex::default(),
            });
        }
        if list.is_empty()
            && let Some(e) = last
        {
            return Err(e);
        }
        Self::from_list(list, chain_id)
    }

    fn from_list(list: Vec<Endpoint>, chain_id: Option<u64>) -> ChainResult<Arc<Self>> {
        if list.is_empty() {
            return Err(ChainError::Malformed("no RPC endpoint".into()));
        }
        Ok(Arc::new(Self { list, chain_id }))
    }

    /// How many endpoints there are.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Always false: a chain has at least one endpoint.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    fn best_head(&self) -> Option<u64> {
        self.list
            .iter()
            .filter_map(|e| {
                let h = e.health();
                (!h.wrong_chain).then_some(h.head).flatten()
            })
            .max()
    }

    /// Indexes in the order reads try them: up before down, not lagging
    /// before lagging, higher head first, then the order given. An
    /// endpoint serving another chain is never tried.
    fn order(&self) -> Vec<usize> {
        let now = switchyard_core::now_ms();
        let best = self.best_head();
        let mut keyed: Vec<(bool, bool, std::cmp::Reverse<u64>, usize)> = self
            .list
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.health().wrong_chain)
            .map(|(i, e)| {
                let h = e.health();
                let down = h.down_until_ms > now;
                let head = h.head.unwrap_or(0);
                let lagging = best.is_some_and(|b| b.saturating_sub(head) > MAX_LAG);
                (down, lagging, std::cmp::Reverse(head), i)
            })
            .collect();
        keyed.sort();
        keyed.into_iter().map(|(.., i)| i).collect()
    }

    /// Runs `f` against the best endpoint, failing over to the next on a
    /// failure to answer (transport, timeout, rate limit, a node behind).
    pub(crate) async fn read<T, F, Fut>(&self, f: F) -> ChainResult<T>
    where
        F: Fn(DynProvider) -> Fut,
        Fut: Future<Output = ChainResult<T>>,
    {
        let mut last = None;
        for i in self.order() {
            let ep = &self.list[i];
            // Never read from a node not shown to serve this chain.
            if let Err(e) = ep.verify(self.chain_id).await {
                if e.is_retryable() {
                    ep.failed(&e);
                }
                last = Some(e);
                continue;
            }
            match f(ep.provider.clone()).await {
                Ok(v) => {
                    ep.succeeded();
                    return Ok(v);
                }
                Err(e) => {
                    let e = scrub(e, &ep.url);
                    if !e.is_retryable() {
                        ep.succeeded();
                        return Err(e);
                    }
                    tracing::debug!(endpoint = %ep.shown, error = %e, "endpoint failed; trying the next");
                    ep.failed(&e);
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| ChainError::Transport("no RPC endpoint".into())))
    }

    /// Asks every endpoint that is up (all of them, if none is) for its
    /// head at once, records each answer, and returns the highest. Waits
    /// for every answer, or for [`HEAD_GRACE`] after the first; slower
    /// endpoints still record theirs when they answer.
    pub(crate) async fn head<T, F, Fut>(self: &Arc<Self>, f: F) -> ChainResult<T>
    where
        T: Send + 'static,
        F: Fn(DynProvider) -> Fut,
        Fut: Future<Output = ChainResult<(u64, T)>> + Send + 'static,
    {
        if self.list.len() == 1 {
            let ep = &self.list[0];
            if let Err(e) = ep.verify(self.chain_id).await {
                if e.is_retryable() {
                    ep.failed(&e);
                }
                return Err(e);
            }
            return match f(ep.provider.clone()).await {
                Ok((n, v)) => {
                    ep.succeeded();
                    ep.saw_head(n);
                    Ok(v)
                }
                Err(e) => {
                    let e = scrub(e, &ep.url);
                    if e.is_retryable() {
                        ep.failed(&e);
                    }
                    Err(e)
                }
            };
        }
        let now = switchyard_core::now_ms();
        let usable: Vec<usize> = (0..self.list.len())
            .filter(|&i| !self.list[i].health().wrong_chain)
            .collect();
        let up: Vec<usize> = usable
            .iter()
            .copied()
            .filter(|&i| self.list[i].health().down_until_ms <= now)
            .collect();
        let ask = if up.is_empty() { usable } else { up };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for i in &ask {
            let fut = f(self.list[*i].provider.clone());
            let me = Arc::clone(self);
            let tx = tx.clone();
            let i = *i;
            tokio::spawn(async move {
                let ep = &me.list[i];
                let r = match ep.verify(me.chain_id).await {
                    Ok(()) => fut.await,
                    Err(e) => Err(e),
                };
                let r = match r {
                    Ok((n, v)) => {
                        ep.succeeded();
                        ep.saw_head(n);
                        Ok((n, v))
                    }
                    Err(e) => {
                        let e = scrub(e, &ep.url);
                        if e.is_retryable() {
                            ep.failed(&e);
                        }
                        Err(e)
                    }
                };
                let _ = tx.send(r);
            });
        }
        drop(tx);
        let mut best: Option<(u64, T)> = None;
        let mut last = None;
        let mut answered = 0;
        let mut deadline: Option<tokio::time::Instant> = None;
        while answered < ask.len() {
            let next = match deadline {
                Some(d) => match tokio::time::timeout_at(d, rx.recv()).await {
                    Ok(r) => r,
                    Err(_) => break,
                },
                None => rx.recv().await,
            };
            let Some(r) = next else { break };
            answered += 1;
            match r {
                Ok((n, v)) => {
                    if best.as_ref().is_none_or(|(b, _)| n > *b) {
                        best = Some((n, v));
                    }
                    deadline.get_or_insert_with(|| tokio::time::Instant::now() + HEAD_GRACE);
                }
                Err(e) => last = Some(e),
            }
        }
        match best {
            Some((_, v)) => Ok(v),
            None => Err(last.unwrap_or_else(|| ChainError::Transport("no RPC endpoint".into()))),
        }
    }

    /// Sends raw transaction bytes to every endpoint that is up (all, if
    /// none is). Accepted by one is accepted; otherwise the most telling
    /// refusal (fence used, underpriced, another node error, then a
    /// transport failure).
    pub(crate) async fn broadcast(&self, raw: &[u8]) -> ChainResult<()> {
        let now = switchyard_core::now_ms();
        let usable: Vec<&Endpoint> = self
            .list
            .iter()
            .filter(|e| !e.health().wrong_chain)
            .collect();
        let mut targets: Vec<&Endpoint> = usable
            .iter()
            .copied()
            .filter(|e| e.health().down_until_ms <= now)
            .collect();
        if targets.is_empty() {
            targets = usable;
        }
        let chain_id = self.chain_id;
        let sends = targets.iter().map(|ep| async move {
            // Never broadcast to a node not shown to serve this chain.
            ep.verify(chain_id).await?;
            let r = match ep.provider.send_raw_transaction(raw).await {
                Ok(_) => Ok(()),
                Err(e) => match super::adapter::classify(e) {
                    ChainError::Rpc { message, .. } if super::adapter::already_known(&message) => {
                        Ok(())
                    }
                    other => Err(scrub(other, &ep.url)),
                },
            };
            match &r {
                Ok(()) => ep.succeeded(),
                Err(e) if e.is_retryable() => ep.failed(e),
                Err(_) => ep.succeeded(),
            }
            r
        });
        let results = futures::future::join_all(sends).await;
        let rank = |e: &ChainError| match e {
            ChainError::FenceUsed(_) => 0,
            ChainError::Underpriced(_) => 1,
            ChainError::Transport(_) | ChainError::RateLimited(_) => 3,
            _ => 2,
        };
        let mut worst: Option<ChainError> = None;
        for r in results {
            match r {
                Ok(()) => return Ok(()),
                Err(e) => {
                    if worst.as_ref().is_none_or(|w| rank(&e) < rank(w)) {
                        worst = Some(e);
                    }
                }
            }
        }
        Err(worst.unwrap_or_else(|| ChainError::Transport("no RPC endpoint".into())))
    }

    /// Each endpoint's state, for `/health`.
    pub fn views(&self) -> Vec<EndpointView> {
        let now = switchyard_core::now_ms();
        let best = self.best_head();
        self.list
            .iter()
            .map(|e| {
                let h = e.health().clone();
                let lag = match (best, h.head) {
                    (Some(b), Some(x)) => Some(b.saturating_sub(x)),
                    _ => None,
                };
                let state = if h.wrong_chain {
                    "wrong_chain"
                } else if h.down_until_ms > now {
                    "down"
                } else if lag.is_some_and(|l| l > MAX_LAG) {
                    "lagging"
                } else {
                    "ok"
                };
                EndpointView {
                    url: e.shown.clone(),
                    state,
                    head: h.head,
                    lag,
                    failures: h.failures,
                    last_error: h.last_error,
                }
            })
            .collect()
    }
}
