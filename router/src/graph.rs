//! The routing graph compiled from one [`NetworkSnapshot`]: assets are
//! nodes, bridges are directed edges in a compressed adjacency array.
//!
//! Compiling costs O(bridges) and happens once per published snapshot; a
//! quote then reads only flat arrays. The graph keeps the snapshot alive
//! (`Arc`), so names in results always match the numbers used.

use std::sync::Arc;

use switchyard_core::Finality;
use switchyard_core::health::{Basis, Observed};
use switchyard_core::model::{ChainReading, NetworkSnapshot, Unusable};
use switchyard_core::topology::{AssetIx, BridgeIx, Chain, ChainIx, Topology};
use switchyard_core::{U256, UsdE8};

use crate::leg::LegParams;

/// One edge with everything a quote needs, live readings applied.
#[derive(Clone, Debug)]
pub struct Edge {
    /// Source node.
    pub from: u32,
    /// Destination node.
    pub to: u32,
    /// Fee formula parameters.
    pub leg: LegParams,
    /// Leg ETA at the source chain's base finality, seconds: the prior
    /// moved by observations.
    pub eta_s: u64,
    /// Leg success probability: the prior moved by observations.
    pub success_p: f64,
    /// Largest single transfer.
    pub max_usd: UsdE8,
    /// Destination liquidity.
    pub liquidity_usd: UsdE8,
    /// Pause or open breaker.
    pub blocked: Option<(Unusable, String)>,
    /// When the oldest reading behind this edge goes stale (unix ms).
    pub stale_from_ms: u64,
    /// Which reading that is.
    pub stale_subject: String,
}

/// What an edge's estimates rest on, for quotes to show; kept apart from
/// [`Edge`] so that the search's hot data stays small.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EdgeHealth {
    /// The ETA before observations.
    pub prior_eta_s: u64,
    /// The success probability before observations.
    pub prior_success_p: f64,
    /// What was observed, if anything.
    pub observed: Option<Observed>,
    /// What the edge's `eta_s` rests on.
    pub eta_basis: Basis,
    /// What the edge's `success_p` rests on.
    pub success_basis: Basis,
}

/// The extra wait of one amount tier of a chain's finality, beyond the
/// chain's base rule, as estimated when the graph was compiled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TierWait {
    /// Lowest USD value of the tier.
    pub min_usd: UsdE8,
    /// The tier's rule.
    pub rule: Finality,
    /// Blocks it waits beyond the base rule.
    pub extra_blocks: u64,
    /// The same in seconds (block time, rounded up).
    pub extra_s: u64,
    /// The rule waits for something no reading measured (a block tag the
    /// base rule does not wait for, a stronger commitment): `extra_blocks`
    /// counts its depth only.
    pub tag_lag_unknown: bool,
}

/// The tiers of `chain` with their waits beyond its base rule; the base
/// rule's lag comes from the chain's latest reading.
fn tier_waits(chain: &Chain, reading: Option<&ChainReading>) -> Vec<TierWait> {
    let lag = reading.and_then(|r| r.finalized.map(|f| r.head.saturating_sub(f)));
    chain
        .confirmations
        .iter()
        .map(|&(min_usd, rule)| {
            let (extra_blocks, unknown) = chain.extra_wait_blocks(rule, lag);
            TierWait {
                min_usd,
                rule,
                extra_blocks,
                extra_s: extra_blocks
                    .saturating_mul(chain.block_time_ms)
                    .div_ceil(1000),
                tag_lag_unknown: unknown,
            }
        })
        .collect()
}

/// A compiled, immutable routing graph.
#[derive(Clone, Debug)]
pub struct Graph {
    snapshot: Arc<NetworkSnapshot>,
    /// Decimals per node.
    pub(crate) decimals: Vec<u8>,
    /// Chain of each node.
    pub(crate) node_chain: Vec<ChainIx>,
    /// `out_edges[out_start[n]..out_start[n + 1]]` are the edges leaving `n`.
    pub(crate) out_start: Vec<u32>,
    pub(crate) out_edges: Vec<u32>,
    /// Destination node of `out_edges[k]`, kept beside it so the hot loop
    /// can reject an edge without loading its parameters.
    pub(crate) out_to: Vec<u32>,
    pub(crate) edges: Vec<Edge>,
    /// Reverse adjacency: `in_edges[in_start[n]..in_start[n + 1]]` enter `n`.
    pub(crate) in_start: Vec<u32>,
    pub(crate) in_edges: Vec<u32>,
    /// Hop distances over all edges (usable or not), row per destination:
    /// `hops[to * n + from]`; `u8::MAX` means unreachable (or further than
    /// 254). Only a lower bound for routing, which is all pruning needs.
    /// Empty for graphs above [`HOP_MATRIX_MAX_NODES`]; rows are then
    /// computed per query.
    pub(crate) hops: Vec<u8>,
    /// Edges leaving each chain (from any of its assets), by chain index.
    pub(crate) chain_out: Vec<Vec<u32>>,
    /// Edges entering each chain, by chain index.
    pub(crate) chain_in: Vec<Vec<u32>>,
    /// Amount tiers of each chain's finality, ascending, by chain index.
    pub(crate) tiers: Vec<Vec<TierWait>>,
    /// Priors and observations behind each edge's estimates.
    pub(crate) health: Vec<EdgeHealth>,
}

/// Largest graph for which the all-pairs hop matrix is kept (16 MiB).
pub const HOP_MATRIX_MAX_NODES: usize = 4096;

/// Unreachable in [`Graph::hops_to`] rows.
pub(crate) const FAR: u8 = u8::MAX;

fn csr(n: usize, edges: &[Edge], key: impl Fn(&Edge) -> u32) -> (Vec<u32>, Vec<u32>) {
    let mut start = vec![0u32; n + 1];
    for e in edges {
        start[key(e) as usize + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut list = vec![0u32; edges.len()];
    for (i, e) in edges.iter().enumerate() {
        let slot = &mut fill[key(e) as usize];
        list[*slot as usize] = i as u32;
        *slot += 1;
    }
    (start, list)
}

impl Graph {
    /// Compiles `snapshot` into a graph.
    pub fn compile(snapshot: Arc<NetworkSnapshot>) -> Self {
        let t = &snapshot.topology;
        let n = t.assets().len();
        let decimals: Vec<u8> = t.assets().iter().map(|a| a.decimals).collect();
        let node_chain: Vec<ChainIx> = t.assets().iter().map(|a| a.chain).collect();
        let mut health = Vec::with_capacity(t.bridges().len());
        let edges: Vec<Edge> = (0..t.bridges().len())
            .map(|i| {
                let ix = BridgeIx(i as u32);
                let b = t.bridge(ix);
                let e = snapshot.effective(ix);
                health.push(EdgeHealth {
                    prior_eta_s: e.prior_eta_s,
                    prior_success_p: e.prior_success_p,
                    observed: e.observed,
                    eta_basis: e.eta_basis,
                    success_basis: e.success_basis,
                });
                Edge {
                    from: b.from.0,
                    to: b.to.0,
                    leg: LegParams {
                        fixed: e.fee_fixed,
                        min: e.min,
                        bps: e.fee_bps,
                        from_dec: decimals[b.from.ix()],
                        to_dec: decimals[b.to.ix()],
                    },
                    eta_s: e.eta_s,
                    success_p: e.success_p,
                    max_usd: e.max_usd,
                    liquidity_usd: e.liquidity_usd,
                    blocked: e.blocked,
                    stale_from_ms: e.stale_from_ms,
                    stale_subject: e.stale_subject,
                }
            })
            .collect();
        let (out_start, out_edges) = csr(n, &edges, |e| e.from);
        let (in_start, in_edges) = csr(n, &edges, |e| e.to);
        let mut chain_out = vec![Vec::new(); t.chains().len()];
        let mut chain_in = vec![Vec::new(); t.chains().len()];
        for (i, e) in edges.iter().enumerate() {
            let (fc, tc): (ChainIx, ChainIx) =
                (node_chain[e.from as usize], node_chain[e.to as usize]);
            chain_out[fc.ix()].push(i as u32);
            chain_in[tc.ix()].push(i as u32);
        }
        let out_to = out_edges.iter().map(|&e| edges[e as usize].to).collect();
        let tiers = t
            .chains()
            .iter()
            .zip(&snapshot.chains)
            .map(|(c, live)| tier_waits(c, live.reading.as_ref()))
            .collect();
        let mut g = Self {
            snapshot,
            decimals,
            node_chain,
            out_start,
            out_edges,
            out_to,
            edges,
            in_start,
            in_edges,
            hops: Vec::new(),
            chain_out,
            chain_in,
            tiers,
            health,
        };
        if n <= HOP_MATRIX_MAX_NODES {
            let mut hops = Vec::with_capacity(n * n);
            for to in 0..n as u32 {
                hops.extend(g.reverse_bfs(to));
            }
            g.hops = hops;
        }
        g
    }

    /// Hops from every node to `to` over all edges; [`FAR`] if unreachable.
    fn reverse_bfs(&self, to: u32) -> Vec<u8> {
        let n = self.node_count();
        let mut d = vec![FAR; n];
        let mut queue = Vec::with_capacity(n);
        d[to as usize] = 0;
        queue.push(to);
        let mut head = 0;
        while head < queue.len() {
            let v = queue[head];
            head += 1;
            let dv = d[v as usize];
            if dv >= FAR - 1 {
                continue;
            }
            let s = self.in_start[v as usize] as usize;
            let e = self.in_start[v as usize + 1] as usize;
            for &ei in &self.in_edges[s..e] {
                let u = self.edges[ei as usize].from as usize;
                if d[u] == FAR {
                    d[u] = dv + 1;
                    queue.push(u as u32);
                }
            }
        }
        d
    }

    /// Row of hop distances to `to`: `row[from]`.
    pub(crate) fn hops_to(&self, to: u32) -> std::borrow::Cow<'_, [u8]> {
        let n = self.node_count();
        if self.hops.len() == n * n {
            let s = to as usize * n;
            std::borrow::Cow::Borrowed(&self.hops[s..s + n])
        } else {
            std::borrow::Cow::Owned(self.reverse_bfs(to))
        }
    }

    /// The snapshot this graph was compiled from.
    pub fn snapshot(&self) -> &Arc<NetworkSnapshot> {
        &self.snapshot
    }

    /// The topology behind the snapshot.
    pub fn topology(&self) -> &Topology {
        &self.snapshot.topology
    }

    /// Edges leaving node `n`, and their destination nodes.
    pub(crate) fn out(&self, n: u32) -> (&[u32], &[u32]) {
        let s = self.out_start[n as usize] as usize;
        let e = self.out_start[n as usize + 1] as usize;
        (&self.out_edges[s..e], &self.out_to[s..e])
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.decimals.len()
    }

    /// Number of edges.
    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// Edge parameters by bridge index.
    pub fn edge(&self, ix: BridgeIx) -> &Edge {
        &self.edges[ix.ix()]
    }

    /// The priors and observations behind bridge `ix`'s estimates.
    pub fn health(&self, ix: BridgeIx) -> &EdgeHealth {
        &self.health[ix.ix()]
    }

    /// The finality tier of `chain` that a transfer worth `usd` waits for,
    /// if it is above the chain's base rule.
    pub fn tier_wait(&self, chain: ChainIx, usd: UsdE8) -> Option<&TierWait> {
        self.tiers
            .get(chain.ix())?
            .iter()
            .rev()
            .find(|t| usd >= t.min_usd)
    }

    /// Extra seconds edge `e` waits for the finality tiers of a transfer
    /// worth `usd`: its source chain's before the release, its
    /// destination chain's after it.
    pub(crate) fn leg_tier_s(&self, e: &Edge, usd: Option<UsdE8>) -> u64 {
        [e.from, e.to]
            .iter()
            .map(|&n| {
                usd.and_then(|u| self.tier_wait(self.node_chain[n as usize], u))
                    .map_or(0, |t| t.extra_s)
            })
            .sum()
    }

    /// Extra seconds of finality per node (its chain's tier) for a
    /// transfer worth `usd`, written into `out`; whether any is above 0
    /// (when none is, `out` is left as it was and must not be read).
    pub(crate) fn tier_extra_into(&self, usd: Option<UsdE8>, out: &mut Vec<u64>) -> bool {
        let Some(usd) = usd else { return false };
        let per_chain = |c: ChainIx| {
            self.tiers[c.ix()]
                .iter()
                .rev()
                .find(|t| usd >= t.min_usd)
                .map_or(0, |t| t.extra_s)
        };
        let any = (0..self.tiers.len()).any(|c| per_chain(ChainIx(c as u32)) > 0);
        if any {
            out.clear();
            out.extend(self.node_chain.iter().map(|&c| per_chain(c)));
        }
        any
    }

    /// Chain of node `n`.
    pub fn chain_of(&self, n: AssetIx) -> ChainIx {
        self.node_chain[n.ix()]
    }

    /// Decimals of node `a`.
    pub fn decimals(&self, a: AssetIx) -> u8 {
        self.decimals[a.ix()]
    }

    /// Why edge `e` cannot be used at `now_ms` for a transfer worth
    /// `request_usd`, if it cannot. Allocation-free; see
    /// [`Graph::static_exclusion`] for the sentence.
    #[inline]
    pub(crate) fn static_reason(
        &self,
        e: usize,
        now_ms: u64,
        request_usd: UsdE8,
    ) -> Option<Reason> {
        let edge = &self.edges[e];
        if let Some((u, _)) = &edge.blocked {
            Some(Reason::from(*u))
        } else if now_ms >= edge.stale_from_ms {
            Some(Reason::StaleReading)
        } else if request_usd > edge.max_usd {
            Some(Reason::OverMax)
        } else if request_usd > edge.liquidity_usd {
            Some(Reason::OverLiquidity)
        } else {
            None
        }
    }

    /// [`Graph::static_reason`] with a sentence for a person.
    pub(crate) fn static_exclusion(
        &self,
        e: usize,
        now_ms: u64,
        request_usd: UsdE8,
    ) -> Option<(Reason, String)> {
        let edge = &self.edges[e];
        if let Some((u, detail)) = &edge.blocked {
            return Some((Reason::from(*u), detail.clone()));
        }
        if now_ms >= edge.stale_from_ms {
            return Some((
                Reason::StaleReading,
                format!(
                    "{} reading is {} ms past its limit",
                    edge.stale_subject,
                    now_ms - edge.stale_from_ms
                ),
            ));
        }
        if request_usd > edge.max_usd {
            return Some((
                Reason::OverMax,
                format!(
                    "request worth ${request_usd} exceeds the bridge maximum ${}",
                    edge.max_usd
                ),
            ));
        }
        if request_usd > edge.liquidity_usd {
            return Some((
                Reason::OverLiquidity,
                format!(
                    "request worth ${request_usd} exceeds liquidity ${}",
                    edge.liquidity_usd
                ),
            ));
        }
        None
    }

    /// USD value of `amount` base units of node `a`; `None` on overflow.
    pub fn usd_value(&self, a: AssetIx, amount: U256) -> Option<UsdE8> {
        let asset = self.topology().asset(a);
        switchyard_core::Amount::from_raw(amount, asset.decimals).usd_value(asset.usd_price)
    }
}

pub use crate::quote::Reason;

impl From<Unusable> for Reason {
    fn from(u: Unusable) -> Self {
        match u {
            Unusable::Paused => Reason::Paused,
            Unusable::BreakerOpen => Reason::BreakerOpen,
            Unusable::StaleReading => Reason::StaleReading,
        }
    }
}
