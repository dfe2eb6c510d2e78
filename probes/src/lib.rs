//! The live network model as a process shares it.
//!
//! [`ModelHandle`] holds the current [`NetworkSnapshot`] together with the
//! routing [`Graph`] compiled from it, behind an [`ArcSwap`]. Readers call
//! [`ModelHandle::current`]: one atomic load, never a lock, so a quote never
//! waits on a writer. Writers (probes, breakers, operators) go through
//! [`ModelHandle::update`], which copies the snapshot, applies the change,
//! compiles a new graph and swaps it in. Writers are serialised by a mutex
//! so that two concurrent updates cannot lose each other's change; readers
//! never touch that mutex.
//!
//! [`probe`] holds the periodic readers that feed it.

pub mod breaker;
pub mod probe;

use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use switchyard_core::model::{BridgeReading, ChainReading, NetworkSnapshot};
use switchyard_core::topology::{BridgeIx, ChainIx};
use switchyard_router::Graph;

/// One published state of the model. The graph was compiled from exactly
/// this snapshot.
#[derive(Debug)]
pub struct Published {
    /// The snapshot.
    pub snapshot: Arc<NetworkSnapshot>,
    /// Its routing graph.
    pub graph: Arc<Graph>,
}

/// Shared handle to the live network model.
#[derive(Debug)]
pub struct ModelHandle {
    current: ArcSwap<Published>,
    writer: Mutex<()>,
}

impl ModelHandle {
    /// Starts from `snapshot`.
    pub fn new(snapshot: NetworkSnapshot) -> Self {
        Self {
            current: ArcSwap::from_pointee(publish(snapshot)),
            writer: Mutex::new(()),
        }
    }

    /// The current published state. Lock-free; the returned `Arc` stays
    /// valid (and unchanged) however many updates follow.
    pub fn current(&self) -> Arc<Published> {
        self.current.load_full()
    }

    /// Applies `change` to a copy of the current snapshot and publishes the
    /// result with the next version number. Returns the new version.
    pub fn update(&self, change: impl FnOnce(&mut NetworkSnapshot)) -> u64 {
        // A panic in another writer leaves no half-made state behind (the
        // swap is the last step), so a poisoned lock is safe to reuse.
        let _guard = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut next = NetworkSnapshot::clone(&self.current.load().snapshot);
        change(&mut next);
        next.version = next.version.saturating_add(1);
        let version = next.version;
        self.current.store(Arc::new(publish(next)));
        version
    }

    /// Records a probe reading of a bridge, merged field by field into
    /// the previous one (a liquidity probe does not erase a latency probe).
    pub fn record_bridge(&self, bridge: BridgeIx, reading: BridgeReading) -> u64 {
        self.update(|s| {
            if let Some(b) = s.bridges.get_mut(bridge.ix()) {
                match &mut b.reading {
                    Some(old) => old.merge(reading),
                    None => b.reading = Some(reading),
                }
            }
        })
    }

    /// Records a probe reading of a chain.
    pub fn record_chain(&self, chain: ChainIx, reading: ChainReading) -> u64 {
        self.update(|s| {
            if let Some(c) = s.chains.get_mut(chain.ix()) {
                c.reading = Some(reading);
            }
        })
    }
}

fn publish(snapshot: NetworkSnapshot) -> Published {
    let snapshot = Arc::new(snapshot);
    let graph = Arc::new(Graph::compile(Arc::clone(&snapshot)));
    Published { snapshot, graph }
}

#[cfg(test)]
mod tests {
    use std::thread;

    use switchyard_core::topology::Topology;

    use super::*;

    const T: &str = r#"
[[chain]]
id = "a"
kind = "evm"
chain_id = 1
finality = { blocks = 1 }
block_time_ms = 1000
native_usd_price = 1.0
[[asset]]
chain = "a"
symbol = "USDT"
decimals = 6
address = "0x0000000000000000000000000000000000000001"
[[asset]]
chain = "a"
symbol = "USDC"
decimals = 6
address = "0x0000000000000000000000000000000000000002"
[[bridge]]
id = "swap"
protocol = "amm"
from = "a:USDT"
to = "a:USDC"
fee_fixed = "0"
fee_bps = 4
eta_s = 12
success_p = 0.999
min = "0"
max_usd = "1000000"
liquidity_usd = "1000000"
"#;

    fn handle() -> ModelHandle {
        ModelHandle::new(NetworkSnapshot::offline(Arc::new(
            Topology::from_toml(T).unwrap(),
        )))
    }

    #[test]
    fn a_reader_keeps_its_snapshot_while_writers_publish() {
        let h = handle();
        let before = h.current();
        h.record_bridge(
            BridgeIx(0),
            BridgeReading {
                observed_at_ms: 5,
                eta_s: Some(3),
                ..Default::default()
            },
        );
        assert_eq!(before.graph.edge(BridgeIx(0)).eta_s, 12);
        let after = h.current();
        assert_eq!(after.snapshot.version, 1);
        assert_eq!(after.graph.edge(BridgeIx(0)).eta_s, 3);
    }

    #[test]
    fn concurrent_writers_lose_no_update() {
        let h = Arc::new(handle());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let h = Arc::clone(&h);
                thread::spawn(move || {
                    for _ in 0..50 {
                        h.update(|s| {
                            let r = s.chains[0].reading.get_or_insert_with(Default::default);
                            r.head += 1;
                        });
                        // Readers interleave freely.
                        assert!(h.current().snapshot.version > 0);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let cur = h.current();
        assert_eq!(cur.snapshot.version, 400);
        assert_eq!(cur.snapshot.chains[0].reading.as_ref().unwrap().head, 400);
    }
}
