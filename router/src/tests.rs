//! Router tests: hand-made graphs for each behaviour, and property tests
//! against brute-force enumeration of every simple path on random graphs.

mod brute;
mod cases;
mod health;
mod props;

use std::sync::Arc;

use switchyard_core::Address;
use switchyard_core::address::ChainKind;
use switchyard_core::finality::Finality;
use switchyard_core::model::NetworkSnapshot;
use switchyard_core::topology::{AssetSpec, BridgeSpec, ChainSpec, Topology, TopologySpec};

use crate::Graph;
use crate::quote::{QuoteParams, QuoteRequest};

/// Builds test topologies without writing TOML by hand.
#[derive(Default)]
pub struct Net {
    spec: TopologySpec,
}

/// A bridge for [`Net::bridge`]: amounts are human decimal strings.
pub struct B<'a> {
    pub id: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub fixed: &'a str,
    pub bps: u32,
    pub eta: u64,
    pub p: f64,
    pub min: &'a str,
    pub max_usd: &'a str,
    pub liq: &'a str,
}

impl Default for B<'_> {
    fn default() -> Self {
        Self {
            id: "",
            from: "",
            to: "",
            fixed: "0",
            bps: 0,
            eta: 60,
            p: 1.0,
            min: "0",
            max_usd: "1000000000",
            liq: "1000000000",
        }
    }
}

impl Net {
    pub fn chain(mut self, id: &str) -> Self {
        let n = self.spec.chain.len() as u64 + 1;
        self.spec.chain.push(ChainSpec {
            id: id.into(),
            kind: ChainKind::Evm,
            chain_id: Some(n),
            finality: Finality::Blocks { blocks: 1 },
            block_time_ms: 1000,
            native_usd_price: 1.0,
            rpc_url: None,
            rpc_urls: Vec::new(),
            confirmations: Vec::new(),
            contracts: Default::default(),
        });
        self
    }

    /// Sets `chain`'s base finality rule.
    pub fn finality(mut self, chain: &str, rule: Finality) -> Self {
        if let Some(c) = self.spec.chain.iter_mut().find(|c| c.id == chain) {
            c.finality = rule;
        }
        self
    }

    /// Gives `chain` an amount tier of any rule from `min_usd`.
    pub fn tier_rule(mut self, chain: &str, min_usd: &str, rule: Finality) -> Self {
        if let Some(c) = self.spec.chain.iter_mut().find(|c| c.id == chain) {
            c.confirmations.push(switchyard_core::topology::TierSpec {
                min_usd: min_usd.into(),
                finality: rule,
            });
        }
        self
    }

    /// Gives `chain` (base rule: 1 block of 1 s) an amount tier: from
    /// `min_usd`, `blocks` confirmations.
    pub fn tier(mut self, chain: &str, min_usd: &str, blocks: u32) -> Self {
        if let Some(c) = self.spec.chain.iter_mut().find(|c| c.id == chain) {
            c.confirmations.push(switchyard_core::topology::TierSpec {
                min_usd: min_usd.into(),
                finality: Finality::Blocks { blocks },
            });
        }
        self
    }

    pub fn asset(mut self, chain: &str, symbol: &str, decimals: u8) -> Self {
        let n = self.spec.asset.len() as u64 + 1;
        let addr = Address::parse(ChainKind::Evm, "a", &format!("0x{n:040x}")).unwrap();
        self.spec.asset.push(AssetSpec {
            chain: chain.into(),
            symbol: symbol.into(),
            decimals,
            address: addr.to_string(),
            usd_price: 1.0,
        });
        self
    }

    pub fn bridge(mut self, b: B<'_>) -> Self {
        self.spec.bridge.push(BridgeSpec {
            id: b.id.into(),
            protocol: "test".into(),
            from: b.from.into(),
            to: b.to.into(),
            fee_fixed: b.fixed.into(),
            fee_bps: b.bps,
            eta_s: b.eta,
            success_p: b.p,
            min: b.min.into(),
            max_usd: b.max_usd.into(),
            liquidity_usd: b.liq.into(),
        });
        self
    }

    pub fn snapshot(&self) -> NetworkSnapshot {
        NetworkSnapshot::offline(Arc::new(Topology::from_spec(&self.spec).unwrap()))
    }

    pub fn graph(&self) -> Graph {
        Graph::compile(Arc::new(self.snapshot()))
    }
}

pub fn params(from: &str, to: &str, amount: &str, mode: &str) -> QuoteParams {
    QuoteParams {
        from: from.into(),
        to: to.into(),
        amount: amount.into(),
        mode: Some(mode.into()),
        ..Default::default()
    }
}

pub fn request(g: &Graph, p: &QuoteParams) -> QuoteRequest {
    QuoteRequest::resolve(g, p, 4, 1_000).unwrap()
}
