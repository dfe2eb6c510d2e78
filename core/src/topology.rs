//! The topology: which chains, assets and bridges exist, in the TOML format
//! that tools outside the project also generate.
//!
//! Parsing is two-step: serde reads the file into `*Spec` structs (unknown
//! fields are refused), then [`Topology::from_spec`] validates every value
//! and cross reference and builds dense indexes. A [`Topology`] that exists
//! is valid: every bridge names known assets, every address matches its
//! chain's kind, every fee and cap is an integer in base units.

use std::collections::HashMap;
use std::path::Path;

use alloy_primitives::U256;
use serde::{Deserialize, Serialize};

use crate::address::{Address, ChainKind};
use crate::amount::{Amount, MAX_DECIMALS, UsdE8};
use crate::error::{Error, Result};
use crate::finality::Finality;
use crate::ids::{AssetKey, BridgeId, ChainId, Symbol};

/// Longest ETA a bridge may declare (30 days), to keep sums far from overflow.
pub const MAX_ETA_S: u64 = 30 * 24 * 3600;

/// A topology file as written: `[[chain]]`, `[[asset]]`, `[[bridge]]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologySpec {
    /// Chains.
    #[serde(default)]
    pub chain: Vec<ChainSpec>,
    /// Assets.
    #[serde(default)]
    pub asset: Vec<AssetSpec>,
    /// Bridges (and same-chain swaps), one direction each.
    #[serde(default)]
    pub bridge: Vec<BridgeSpec>,
}

/// One `[[chain]]` entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainSpec {
    /// Short name, lowercase (`ethereum`).
    pub id: String,
    /// VM family.
    pub kind: ChainKind,
    /// Numeric chain id (EVM and Tron).
    #[serde(default)]
    pub chain_id: Option<u64>,
    /// Finality rule.
    pub finality: Finality,
    /// Average block time in milliseconds.
    pub block_time_ms: u64,
    /// Price of the native gas token in USD.
    pub native_usd_price: f64,
    /// JSON-RPC endpoint of the chain, for the probes and relayer (optional).
    #[serde(default)]
    pub rpc_url: Option<String>,
    /// Several endpoints of the chain: reads fail over between them and
    /// broadcasts go to each (instead of `rpc_url`).
    #[serde(default)]
    pub rpc_urls: Vec<String>,
    /// Stricter finality for larger amounts: `[{ min_usd = "10000",
    /// finality = { blocks = 6 } }]`. The tier with the highest `min_usd`
    /// at or below a transfer's USD value applies; below every tier, the
    /// chain's `finality`.
    #[serde(default)]
    pub confirmations: Vec<TierSpec>,
    /// Switchyard's contracts deployed on this chain.
    #[serde(default)]
    pub contracts: ContractsSpec,
}

/// One amount tier of a chain's finality.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierSpec {
    /// Lowest USD value the tier covers.
    pub min_usd: String,
    /// Finality rule from that value up.
    pub finality: Finality,
}

/// Addresses of Switchyard's contracts on one chain.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractsSpec {
    /// `EscrowBridge` (bridges with `protocol = "escrow"` or `"vault"` leave
    /// and arrive here); on Solana, the bridge vault: a token account owned
    /// by an SPL Token multisig of the bridge signer set (`protocol =
    /// "vault"`).
    #[serde(default)]
    pub escrow: Option<String>,
    /// `PayoutBatcher`.
    #[serde(default)]
    pub payout_batcher: Option<String>,
    /// `Treasury`: the relayer's funds on this chain, released only into
    /// escrow deposits the signer set signs.
    #[serde(default)]
    pub treasury: Option<String>,
}

/// One `[[asset]]` entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetSpec {
    /// Chain id the asset lives on.
    pub chain: String,
    /// Symbol (`USDT`).
    pub symbol: String,
    /// Token decimals.
    pub decimals: u8,
    /// Token contract / mint / jetton master address.
    pub address: String,
    /// USD price of one whole token.
    #[serde(default = "one")]
    pub usd_price: f64,
}

fn one() -> f64 {
    1.0
}

/// One `[[bridge]]` entry: a directed leg from one asset to another.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeSpec {
    /// Unique id.
    pub id: String,
    /// Protocol name (`cctp`, `stargate`, ...).
    pub protocol: String,
    /// Source asset, `chain:SYMBOL`.
    pub from: String,
    /// Destination asset, `chain:SYMBOL`.
    pub to: String,
    /// Fixed fee, decimal, in the from-asset.
    pub fee_fixed: String,
    /// Proportional fee in basis points.
    pub fee_bps: u32,
    /// Expected time for the whole leg, source finality included, seconds.
    pub eta_s: u64,
    /// Prior probability that the leg completes.
    pub success_p: f64,
    /// Minimum input, decimal, in the from-asset.
    pub min: String,
    /// Largest single transfer in USD, decimal.
    pub max_usd: String,
    /// Liquidity available on the destination side in USD, decimal.
    pub liquidity_usd: String,
}

macro_rules! index_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);

        impl $name {
            /// As a `usize` for slice indexing.
            pub fn ix(self) -> usize {
                self.0 as usize
            }
        }
    };
}

index_newtype!(
    /// Dense index of a chain in a [`Topology`].
    ChainIx
);
index_newtype!(
    /// Dense index of an asset (a routing node) in a [`Topology`].
    AssetIx
);
index_newtype!(
    /// Dense index of a bridge (a routing edge) in a [`Topology`].
    BridgeIx
);

/// A validated chain.
#[derive(Clone, Debug)]
pub struct Chain {
    /// Short name.
    pub id: ChainId,
    /// VM family.
    pub kind: ChainKind,
    /// Numeric chain id (EVM and Tron).
    pub chain_id: Option<u64>,
    /// Finality rule.
    pub finality: Finality,
    /// Average block time.
    pub block_time_ms: u64,
    /// Native token price.
    pub native_usd_price: UsdE8,
    /// JSON-RPC endpoints, in the order given (empty: quote only).
    pub rpc_urls: Vec<String>,
    /// Amount tiers, ascending by `min_usd`.
    pub confirmations: Vec<(UsdE8, Finality)>,
    /// `EscrowBridge` address.
    pub escrow: Option<Address>,
    /// `PayoutBatcher` address.
    pub payout_batcher: Option<Address>,
    /// `Treasury` address.
    pub treasury: Option<Address>,
}

impl Chain {
    /// The number bridges know this chain by (deposits name it as their
    /// destination, releases as their source): the EVM chain id, or for a
    /// chain without one (Solana) a number derived from its topology name
    /// with bit 62 set: above every EVM chain id (EIP-2294 bounds them below
    /// 2^53), and still an `i64` (TOML, SQLite).
    pub fn bridge_domain(&self) -> u64 {
        match self.chain_id {
            Some(id) => id,
            None => derived_bridge_domain(&self.id.to_string()),
        }
    }

    /// The finality rule for a transfer worth `usd`.
    pub fn finality_for(&self, usd: UsdE8) -> Finality {
        self.tier_for(usd).map_or(self.finality, |(_, f)| f)
    }

    /// What waiting under `rule` adds to this chain's base rule: blocks
    /// past inclusion beyond the base's, and whether the count leaves out
    /// a wait it cannot know. The rule is joined with the base rule first
    /// (the relayer waits for both). `base_lag` is how far the base rule's
    /// final block trails the head (a probe's reading): it is the lag of
    /// the base's tag, so it counts for a rule waiting on the same tag
    /// only; a stricter tag's lag, or a stronger commitment's, is unknown.
    /// A block of depth `d` waits `d - 1` blocks past inclusion; a tag
    /// `lag` blocks.
    pub fn extra_wait_blocks(&self, rule: Finality, base_lag: Option<u64>) -> (u64, bool) {
        let base = self.finality;
        let eff = rule.stricter(base);
        let wait = |r: Finality, lag: Option<u64>| {
            let depth = u64::from(r.blocks()).saturating_sub(1);
            match (r.tag(), lag) {
                (Some(_), Some(l)) => depth.max(l),
                _ => depth,
            }
        };
        let base_lag = base.tag().and(base_lag);
        let same_tag = eff.tag() == base.tag();
        let lag = if same_tag { base_lag } else { None };
        let stronger_commitment = matches!(
            (eff, base),
            (Finality::Commitment { commitment: a }, Finality::Commitment { commitment: b }) if a > b
        );
        let unknown = (eff.tag().is_some() && lag.is_none()) || stronger_commitment;
        (wait(eff, lag).saturating_sub(wait(base, base_lag)), unknown)
    }

    /// The amount tier a transfer worth `usd` falls in (its `min_usd` and
    /// rule), or `None` below every tier.
    pub fn tier_for(&self, usd: UsdE8) -> Option<(UsdE8, Finality)> {
        self.confirmations
            .iter()
            .rev()
            .find(|(min, _)| usd >= *min)
            .copied()
    }
}

/// A validated asset: a node of the routing graph.
#[derive(Clone, Debug)]
pub struct Asset {
    /// `chain:SYMBOL`.
    pub key: AssetKey,
    /// Its chain.
    pub chain: ChainIx,
    /// Token decimals.
    pub decimals: u8,
    /// Token contract address.
    pub address: Address,
    /// USD price of one whole token.
    pub usd_price: UsdE8,
}

/// A validated bridge: a directed edge of the routing graph.
#[derive(Clone, Debug)]
pub struct Bridge {
    /// Unique id.
    pub id: BridgeId,
    /// Protocol name.
    pub protocol: String,
    /// Source asset.
    pub from: AssetIx,
    /// Destination asset.
    pub to: AssetIx,
    /// Fixed fee in from-asset base units.
    pub fee_fixed: U256,
    /// Proportional fee, basis points, below 10 000.
    pub fee_bps: u16,
    /// Expected seconds for the leg.
    pub eta_s: u64,
    /// Prior success probability in (0, 1].
    pub success_p: f64,
    /// Minimum input in from-asset base units.
    pub min: U256,
    /// Largest single transfer.
    pub max_usd: UsdE8,
    /// Destination liquidity.
    pub liquidity_usd: UsdE8,
}

/// A validated topology with dense indexes.
#[derive(Clone, Debug)]
pub struct Topology {
    chains: Vec<Chain>,
    assets: Vec<Asset>,
    bridges: Vec<Bridge>,
    chain_by_id: HashMap<ChainId, ChainIx>,
    asset_by_key: HashMap<AssetKey, AssetIx>,
    bridge_by_id: HashMap<BridgeId, BridgeIx>,
}

impl Topology {
    /// Reads and validates a topology file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Load {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::from_toml(&text).map_err(|e| match e {
            Error::Load { reason, .. } => Error::Load {
                path: path.display().to_string(),
                reason,
            },
            other => other,
        })
    }

    /// Parses and validates topology TOML text.
    pub fn from_toml(text: &str) -> Result<Self> {
        let spec: TopologySpec = toml::from_str(text).map_err(|e| Error::Load {
            path: "<topology>".into(),
            reason: e.to_string(),
        })?;
        Self::from_spec(&spec)
    }

    /// Validates a parsed spec.
    pub fn from_spec(spec: &TopologySpec) -> Result<Self> {
        let mut t = Topology {
            chains: Vec::with_capacity(spec.chain.len()),
            assets: Vec::with_capacity(spec.asset.len()),
            bridges: Vec::with_capacity(spec.bridge.len()),
            chain_by_id: HashMap::new(),
            asset_by_key: HashMap::new(),
            bridge_by_id: HashMap::new(),
        };
        let mut numeric_ids: HashMap<u64, String> = HashMap::new();
        for (i, c) in spec.chain.iter().enumerate() {
            let f = |name: &str| format!("chain[{i}].{name}");
            let id = ChainId::new(&c.id).map_err(|e| e.within(&format!("chain[{i}]")))?;
            if t.chain_by_id.contains_key(&id) {
                return Err(Error::invalid(f("id"), format!("duplicate chain id {id}")));
            }
            match (c.kind, c.chain_id) {
                (ChainKind::Evm | ChainKind::Tron, None) => {
                    return Err(Error::invalid(
                        f("chain_id"),
                        format!("required for a {} chain", c.kind),
                    ));
                }
                (_, Some(n)) => {
                    if let Some(prev) = numeric_ids.insert(n, c.id.clone()) {
                        return Err(Error::invalid(
                            f("chain_id"),
                            format!("{n} is already used by chain {prev}"),
                        ));
                    }
                }
                _ => {}
            }
            if c.block_time_ms == 0 || c.block_time_ms > 3_600_000 {
                return Err(Error::invalid(
                    f("block_time_ms"),
                    "must be between 1 and 3600000",
                ));
            }
            let native_usd_price = UsdE8::from_price(&f("native_usd_price"), c.native_usd_price)?;
            let mut confirmations = Vec::with_capacity(c.confirmations.len());
            for (k, tier) in c.confirmations.iter().enumerate() {
                let min = UsdE8::parse(&f(&format!("confirmations[{k}].min_usd")), &tier.min_usd)?;
                if confirmations.last().is_some_and(|(prev, _)| *prev >= min) {
                    return Err(Error::invalid(
                        f(&format!("confirmations[{k}].min_usd")),
                        "tiers must be in ascending order of min_usd",
                    ));
                }
                confirmations.push((min, tier.finality));
            }
            let rpc_urls: Vec<String> = match (&c.rpc_url, c.rpc_urls.is_empty()) {
                (Some(_), false) => {
                    return Err(Error::invalid(
                        f("rpc_urls"),
                        "give rpc_url or rpc_urls, not both",
                    ));
                }
                (Some(u), true) => vec![u.clone()],
                (None, _) => c.rpc_urls.clone(),
            };
            for (k, u) in rpc_urls.iter().enumerate() {
                let field = if c.rpc_url.is_some() {
                    f("rpc_url")
                } else {
                    f(&format!("rpc_urls[{k}]"))
                };
                let scheme_ok = ["http://", "https://", "ws://", "wss://"]
                    .iter()
                    .any(|s| u.starts_with(s) && u.len() > s.len());
                if !scheme_ok {
                    return Err(Error::invalid(
                        field,
                        format!(
                            "{} is not an http(s):// or ws(s):// URL",
                            crate::redact::redact_url(u)
                        ),
                    ));
                }
                if rpc_urls[..k].contains(u) {
                    return Err(Error::invalid(field, "listed twice"));
                }
            }
            let contract = |name: &str, v: &Option<String>| {
                v.as_deref()
                    .map(|a| Address::parse(c.kind, &f(&format!("contracts.{name}")), a))
                    .transpose()
            };
            let escrow = contract("escrow", &c.contracts.escrow)?;
            let payout_batcher = contract("payout_batcher", &c.contracts.payout_batcher)?;
            let treasury = contract("treasury", &c.contracts.treasury)?;
            let ix = ChainIx(t.chains.len() as u32);
            t.chain_by_id.insert(id.clone(), ix);
            t.chains.push(Chain {
                id,
                kind: c.kind,
                chain_id: c.chain_id,
                finality: c.finality,
                block_time_ms: c.block_time_ms,
                native_usd_price,
                rpc_urls,
                confirmations,
                escrow,
                payout_batcher,
                treasury,
            });
        }
        for (i, a) in spec.asset.iter().enumerate() {
            let f = |name: &str| format!("asset[{i}].{name}");
            let chain_id = ChainId::new(&a.chain).map_err(|e| e.within(&format!("asset[{i}]")))?;
            let chain = *t
                .chain_by_id
                .get(&chain_id)
                .ok_or_else(|| Error::unknown(f("chain"), &a.chain))?;
            let symbol = Symbol::new(&a.symbol).map_err(|e| e.within(&format!("asset[{i}]")))?;
            let key = AssetKey {
                chain: chain_id,
                symbol,
            };
            if t.asset_by_key.contains_key(&key) {
                return Err(Error::invalid(
                    f("symbol"),
                    format!("duplicate asset {key}"),
                ));
            }
            if a.decimals > MAX_DECIMALS {
                return Err(Error::invalid(
                    f("decimals"),
                    format!("at most {MAX_DECIMALS}"),
                ));
            }
            let kind = t.chains[chain.ix()].kind;
            let address = Address::parse(kind, &f("address"), &a.address)?;
            let usd_price = UsdE8::from_price(&f("usd_price"), a.usd_price)?;
            if usd_price.0.is_zero() {
                return Err(Error::invalid(f("usd_price"), "must be positive"));
            }
            let ix = AssetIx(t.assets.len() as u32);
            t.asset_by_key.insert(key.clone(), ix);
            t.assets.push(Asset {
                key,
                chain,
                decimals: a.decimals,
                address,
                usd_price,
            });
        }
        for (i, b) in spec.bridge.iter().enumerate() {
            let bridge = t.validate_bridge(i, b)?;
            if t.bridge_by_id.contains_key(&bridge.id) {
                return Err(Error::invalid(
                    format!("bridge[{i}].id"),
                    format!("duplicate bridge id {}", bridge.id),
                ));
            }
            let ix = BridgeIx(t.bridges.len() as u32);
            t.bridge_by_id.insert(bridge.id.clone(), ix);
            t.bridges.push(bridge);
        }
        Ok(t)
    }

    fn validate_bridge(&self, i: usize, b: &BridgeSpec) -> Result<Bridge> {
        let f = |name: &str| format!("bridge[{i}].{name}");
        let id = BridgeId::new(&b.id).map_err(|e| e.within(&format!("bridge[{i}]")))?;
        if b.protocol.is_empty() {
            return Err(Error::invalid(f("protocol"), "must not be empty"));
        }
        let from = self.asset_ix_of(&f("from"), &b.from)?;
        let to = self.asset_ix_of(&f("to"), &b.to)?;
        if from == to {
            return Err(Error::invalid(
                f("to"),
                "a bridge must lead to another asset",
            ));
        }
        let from_dec = self.assets[from.ix()].decimals;
        let fee_fixed = Amount::parse_decimal(&f("fee_fixed"), &b.fee_fixed, from_dec)?.raw;
        let min = Amount::parse_decimal(&f("min"), &b.min, from_dec)?.raw;
        let fee_bps = u16::try_from(b.fee_bps)
            .ok()
            .filter(|bps| *bps < 10_000)
            .ok_or_else(|| Error::invalid(f("fee_bps"), "must be below 10000"))?;
        if b.eta_s > MAX_ETA_S {
            return Err(Error::invalid(
                f("eta_s"),
                format!("at most {MAX_ETA_S} seconds"),
            ));
        }
        if !(b.success_p > 0.0 && b.success_p <= 1.0) {
            return Err(Error::invalid(f("success_p"), "must be in (0, 1]"));
        }
        Ok(Bridge {
            id,
            protocol: b.protocol.clone(),
            from,
            to,
            fee_fixed,
            fee_bps,
            eta_s: b.eta_s,
            success_p: b.success_p,
            min,
            max_usd: UsdE8::parse(&f("max_usd"), &b.max_usd)?,
            liquidity_usd: UsdE8::parse(&f("liquidity_usd"), &b.liquidity_usd)?,
        })
    }

    fn asset_ix_of(&self, field: &str, text: &str) -> Result<AssetIx> {
        let key = AssetKey::parse(field, text)?;
        self.asset_ix(&key)
            .ok_or_else(|| Error::unknown(field, text))
    }

    /// All chains, indexed by [`ChainIx`].
    pub fn chains(&self) -> &[Chain] {
        &self.chains
    }

    /// All assets, indexed by [`AssetIx`].
    pub fn assets(&self) -> &[Asset] {
        &self.assets
    }

    /// All bridges, indexed by [`BridgeIx`].
    pub fn bridges(&self) -> &[Bridge] {
        &self.bridges
    }

    /// A chain by index.
    pub fn chain(&self, ix: ChainIx) -> &Chain {
        &self.chains[ix.ix()]
    }

    /// An asset by index.
    pub fn asset(&self, ix: AssetIx) -> &Asset {
        &self.assets[ix.ix()]
    }

    /// A bridge by index.
    pub fn bridge(&self, ix: BridgeIx) -> &Bridge {
        &self.bridges[ix.ix()]
    }

    /// Looks a chain up by name.
    pub fn chain_ix(&self, id: &ChainId) -> Option<ChainIx> {
        self.chain_by_id.get(id).copied()
    }

    /// Looks an asset up by `chain:SYMBOL`.
    pub fn asset_ix(&self, key: &AssetKey) -> Option<AssetIx> {
        self.asset_by_key.get(key).copied()
    }

    /// Looks a bridge up by id.
    pub fn bridge_ix(&self, id: &BridgeId) -> Option<BridgeIx> {
        self.bridge_by_id.get(id).copied()
    }

    /// Resolves user input `chain:SYMBOL` to an asset, with an error that
    /// says whether the chain or the asset is unknown.
    ///
    /// A name that matches nothing (a typo, or the wrong case) is refused
    /// as unknown `FIELD.chain` or `FIELD.asset`, with the closest known
    /// `CHAIN:ASSET` names as suggestions; text that is not `CHAIN:ASSET`
    /// at all is invalid.
    pub fn resolve_asset(&self, field: &str, text: &str) -> Result<AssetIx> {
        let parts = text
            .split_once(':')
            .filter(|(c, s)| !c.is_empty() && !s.is_empty() && !text.contains(char::is_whitespace));
        let Some((chain, symbol)) = parts else {
            return Err(Error::invalid(
                field,
                format!("expected CHAIN:ASSET (e.g. ethereum:USDT), got {text:?}"),
            ));
        };
        let found = self
            .assets
            .iter()
            .position(|a| a.key.chain.as_str() == chain && a.key.symbol.as_str() == symbol);
        if let Some(ix) = found {
            return Ok(AssetIx(ix as u32));
        }
        let near = nearest(
            self.assets.iter().map(|a| {
                let score = 0.6 * name_score(chain, a.key.chain.as_str())
                    + 0.4 * name_score(symbol, a.key.symbol.as_str());
                (score, a.key.to_string())
            }),
            |k| k.eq_ignore_ascii_case(text),
        );
        if self.chains.iter().any(|c| c.id.as_str() == chain) {
            Err(Error::unknown_near(format!("{field}.asset"), symbol, near))
        } else {
            Err(Error::unknown_near(format!("{field}.chain"), chain, near))
        }
    }

    /// Resolves a chain id; an unknown one is refused naming `field`, with
    /// the closest known chain ids as suggestions.
    pub fn resolve_chain(&self, field: &str, text: &str) -> Result<ChainIx> {
        if let Some(ix) = self.chains.iter().position(|c| c.id.as_str() == text) {
            return Ok(ChainIx(ix as u32));
        }
        let near = nearest(
            self.chains
                .iter()
                .map(|c| (name_score(text, c.id.as_str()), c.id.to_string())),
            |k| k.eq_ignore_ascii_case(text),
        );
        Err(Error::unknown_near(field, text, near))
    }
}

/// How close a given name is to a known one, in [0, 1], ignoring case: 1
/// when equal, 0.95 when the given one starts the known one (`arb` for
/// `arbitrum`), else Jaro-Winkler similarity (which weighs a shared
/// start).
fn name_score(given: &str, known: &str) -> f64 {
    let (g, k) = (given.to_lowercase(), known.to_lowercase());
    if g == k {
        1.0
    } else if g.chars().count() >= 2 && k.starts_with(&g) {
        0.95
    } else {
        strsim::jaro_winkler(&g, &k)
    }
}

/// The suggestions among scored names: the one equal ignoring case alone
/// if there is one, else up to three scoring at least 0.75 and within 0.08
/// of the best, best first.
fn nearest(
    scored: impl Iterator<Item = (f64, String)>,
    same: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut v: Vec<(f64, String)> = scored.filter(|(s, _)| *s >= 0.75).collect();
    if let Some((_, k)) = v.iter().find(|(_, k)| same(k)) {
        return vec![k.clone()];
    }
    v.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let best = v.first().map_or(0.0, |(s, _)| *s);
    v.into_iter()
        .take_while(|(s, _)| *s >= best - 0.08)
        .take(3)
        .map(|(_, k)| k)
        .collect()
}

/// The bridge domain of a chain without an EIP-155 id named `id` in the
/// topology (see [`Chain::bridge_domain`]).
pub fn derived_bridge_domain(id: &str) -> u64 {
    let h = alloy_primitives::keccak256(format!("switchyard/bridge-domain/{id}"));
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[..8]);
    (u64::from_be_bytes(b) >> 2) | (1 << 62)
}

#[cfg(test)]
mod tests;
