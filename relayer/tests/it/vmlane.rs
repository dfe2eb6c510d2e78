//! The generic lane against an in-memory chain that can drop transactions,
//! expire fences, reorg blocks away and lose the process at any step: no
//! intent ever executes twice, and every one ends final once the chain lets
//! it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use switchyard_core::address::ChainKind;
use switchyard_core::chain::vm::{AttemptStatus, Fence, SignedAttempt, VmFuture, VmLane};
use switchyard_core::chain::{BlockRef, ChainError, FeeLevels, Simulation, TxId};
use switchyard_relayer::vmlane::{GenericLane, VmStage};
use switchyard_relayer::{IntentState, Store};

/// A chain of blocks with a mempool. A transaction names its fence (a
/// "blockhash" with a height bound) and its payload; it executes at most
/// once per payload because the fake says so only if the lane is right:
/// `executions` counts how often each payload ran.
#[derive(Default)]
pub(crate) struct Chain {
    pub(crate) height: u64,
    /// Block number -> hash (changes on reorg).
    blocks: HashMap<u64, [u8; 32]>,
    /// Pooled transactions: id -> (raw, valid_until).
    pool: HashMap<Vec<u8>, (Vec<u8>, u64)>,
    /// Included: id -> (block number, payload).
    pub(crate) included: HashMap<Vec<u8>, (u64, Vec<u8>)>,
    /// How many times each payload executed on the canonical chain.
    executions: HashMap<Vec<u8>, u32>,
    /// Broadcasts are lost while set.
    drop_all: bool,
    /// The network is unreachable while set.
    down: bool,
    /// A broadcast reaches the network but its answer is lost (the caller
    /// sees an error) while set.
    lost_ack: bool,
    pub(crate) finality_depth: u64,
    fence_seq: u64,
    reorgs: u64,
    /// `status` reports the block hash it saw at inclusion, whatever the
    /// chain holds now (a node on a stale fork) while set.
    stale_status: bool,
    /// Inclusion-time hashes (for `stale_status`).
    seen: HashMap<u64, [u8; 32]>,
    /// Every fence handed out is the same one (one blockhash per slot:
    /// two signings in one slot share it) while set.
    same_fence: bool,
    /// The next this many inclusions execute and fail (move nothing).
    pub(crate) fail_next: u32,
    /// Included attempts that failed.
    pub(crate) failed: HashSet<Vec<u8>>,
    /// Payouts (a payload of JSON `PayoutLine`s) credited per recipient by
    /// inclusions that succeeded.
    pub(crate) credited: HashMap<String, u128>,
    /// How often each recipient was credited.
    pub(crate) credits: HashMap<String, u32>,
    /// The payout float a payouts test reads.
    pub(crate) float: u128,
    /// Recipients that cannot be paid (a frozen account): a payload naming
    /// one fails simulation.
    pub(crate) unpayable: HashSet<String>,
    /// Debits of the float by someone else (block, tx id, amount, to).
    pub(crate) foreign: Vec<(u64, Vec<u8>, u128, String)>,
}

impl Chain {
    fn hash(&self, n: u64) -> [u8; 32] {
        let mut h = [0u8; 32];
        h[..8].copy_from_slice(&n.to_be_bytes());
        h[8..16].copy_from_slice(&self.reorgs.to_be_bytes());
        h
    }

    /// Mines one block with everything pooled and valid.
    pub(crate) fn mine(&mut self) {
        self.height += 1;
        let h = self.hash(self.height);
        self.blocks.insert(self.height, h);
        let pool: Vec<_> = self.pool.drain().collect();
        for (id, (raw, valid_until)) in pool {
            if self.height > valid_until {
                continue;
            }
            let payload = raw[16..].to_vec();
            *self.executions.entry(payload.clone()).or_default() += 1;
            if self.fail_next > 0 {
                self.fail_next -= 1;
                self.failed.insert(id.clone());
            } else if let Ok(lines) =
                serde_json::from_slice::<Vec<switchyard_core::chain::vm::PayoutLine>>(&payload)
            {
                for l in lines {
                    self.float = self.float.saturating_sub(l.amount);
                    *self.credited.entry(l.recipient.clone()).or_default() += l.amount;
                    *self.credits.entry(l.recipient).or_default() += 1;
                }
            }
            self.seen.insert(self.height, h);
            self.included.insert(id, (self.height, payload));
        }
    }

    /// Replaces the newest `depth` blocks: what they held is gone (a node
    /// that saw it no longer has it); only a new broadcast brings it back,
    /// while its fence is valid.
    fn reorg(&mut self, depth: u64) {
        let from = self.height.saturating_sub(depth) + 1;
        self.reorgs += 1;
        let gone: Vec<_> = self
            .included
            .iter()
            .filter(|(_, (n, _))| *n >= from)
            .map(|(id, (_, p))| (id.clone(), p.clone()))
            .collect();
        for (id, payload) in gone {
            self.included.remove(&id);
            if let Some(c) = self.executions.get_mut(&payload) {
                *c -= 1;
            }
        }
        for n in from..=self.height {
            let h = self.hash(n);
            self.blocks.insert(n, h);
        }
    }
}

/// Run once at the next `fresh_fence`: something else happening while the
/// lane is between deciding to sign and signing.
type Meanwhile = Arc<Mutex<Option<Box<dyn FnOnce() + Send>>>>;

#[derive(Clone, Default)]
pub(crate) struct Fake(Arc<Mutex<Chain>>, Meanwhile);

impl Fake {
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Chain) -> T) -> T {
        f(&mut self.0.lock().unwrap())
    }
}

fn down() -> ChainError {
    ChainError::Transport("unreachable".into())
}

impl VmLane for Fake {
    fn kind(&self) -> ChainKind {
        ChainKind::Solana
    }

    fn sender(&self) -> String {
        "fake-sender".into()
    }

    fn fresh_fence(&self) -> VmFuture<'_, Fence> {
        let meanwhile = self.1.lock().unwrap().take();
        if let Some(f) = meanwhile {
            f();
        }
        let r = self.with(|c| {
            if c.down {
                return Err(down());
            }
            if !c.same_fence || c.fence_seq == 0 {
                c.fence_seq += 1;
            }
            Ok(Fence {
                value: c.fence_seq.to_be_bytes().to_vec(),
                valid_until: Some(c.height + 5),
            })
        });
        Box::pin(async move { r })
    }

    fn simulate<'a>(&'a self, payload: &'a [u8]) -> VmFuture<'a, Simulation> {
        let r = self.with(|c| {
            if c.down {
                return Err(down());
            }
            let text = String::from_utf8_lossy(payload);
            match c.unpayable.iter().find(|u| text.contains(u.as_str())) {
                Some(u) => Err(ChainError::WouldRevert(format!("{u} cannot receive"))),
                None => Ok(Simulation { units: 1 }),
            }
        });
        Box::pin(async move { r })
    }

    fn fees(&self) -> VmFuture<'_, FeeLevels> {
        Box::pin(async {
            Ok(FeeLevels {
                base: alloy::primitives::U256::from(5_000u64),
                priority: alloy::primitives::U256::from(1u64),
            })
        })
    }

    fn sign<'a>(
        &'a self,
        payload: &'a [u8],
        fence: &'a Fence,
        _fees: &'a FeeLevels,
    ) -> VmFuture<'a, SignedAttempt> {
        // raw = fence (8 bytes) ++ its bound (8 bytes) ++ payload; id = raw.
        let mut raw = fence.value.clone();
        raw.extend_from_slice(&fence.valid_until.unwrap_or(u64::MAX).to_be_bytes());
        raw.extend_from_slice(payload);
        Box::pin(async move {
            Ok(SignedAttempt {
                id: TxId(raw.clone()),
                raw,
                max_cost: 5_000,
            })
        })
    }

    fn broadcast<'a>(&'a self, raw: &'a [u8]) -> VmFuture<'a, ()> {
        let r = self.with(|c| {
            if c.down {
                return Err(down());
            }
            if c.drop_all || c.included.contains_key(raw) {
                return Ok(());
            }
            let valid_until = u64::from_be_bytes(raw[8..16].try_into().unwrap());
            if c.height < valid_until {
                c.pool.insert(raw.to_vec(), (raw.to_vec(), valid_until));
            }
            if c.lost_ack {
                return Err(ChainError::Transport("connection reset after send".into()));
            }
            Ok(())
        });
        Box::pin(async move { r })
    }

    fn status<'a>(&'a self, id: &'a TxId, fence: &'a Fence) -> VmFuture<'a, AttemptStatus> {
        let r = self.with(|c| {
            if c.down {
                return Err(down());
            }
            if let Some((n, _)) = c.included.get(&id.0) {
                let n = *n;
                return Ok(AttemptStatus::Included {
                    block: BlockRef {
                        number: n,
                        hash: if c.stale_status {
                            c.seen[&n]
                        } else {
                            c.blocks[&n]
                        },
                        timestamp_s: 0,
                    },
                    success: !c.failed.contains(&id.0),
                    finalized: c.height >= n + c.finality_depth,
                });
            }
            let finalized = c.height.saturating_sub(c.finality_depth);
            match fence.valid_until {
                Some(v) if finalized > v => {
                    Ok(AttemptStatus::Dead(format!("finalized {finalized} > {v}")))
                }
                _ => Ok(AttemptStatus::Live),
            }
        });
        Box::pin(async move { r })
    }

    fn block_at(&self, number: u64) -> VmFuture<'_, Option<BlockRef>> {
        let r = self.with(|c| {
            if c.down {
                return Err(down());
            }
            Ok(c.blocks.get(&number).map(|h| BlockRef {
                number,
                hash: *h,
                timestamp_s: 0,
            }))
        });
        Box::pin(async move { r })
    }
}

pub(crate) fn store() -> (Arc<Store>, tempdir::Dir) {
    let dir = tempdir::Dir::new();
    let store = Arc::new(Store::open(&dir.path().join("s.db")).unwrap());
    (store, dir)
}

pub(crate) mod tempdir {
    /// A directory removed on drop.
    pub struct Dir(std::path::PathBuf);
    impl Dir {
        pub fn new() -> Self {
            let p = std::env::temp_dir().join(format!(
                "vmlane-{}-{}",
                std::process::id(),
                rand_suffix()
            ));
            std::fs::create_dir_all(&p).unwrap();
            Self(p)
        }
        pub fn path(&self) -> &std::path::Path {
            &self.0
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    fn rand_suffix() -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        N.fetch_add(1, Ordering::Relaxed)
            ^ (std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64)
    }
}

fn lane(store: &Arc<Store>, fake: &Fake) -> GenericLane {
    GenericLane::new(store.clone(), "fake", Arc::new(fake.clone())).with_rebroadcast_ms(0)
}

async fn tick_until_final(lane: &GenericLane, fake: &Fake, key: &str, ticks: usize) -> IntentState {
    for _ in 0..ticks {
        let _ = lane.tick().await.unwrap();
        fake.with(|c| c.mine());
        if lane.get(key).unwrap().unwrap().state == IntentState::Final {
            break;
        }
    }
    lane.get(key).unwrap().unwrap().state
}

pub(crate) fn chain(depth: u64) -> Fake {
    let f = Fake::default();
    f.with(|c| {
        c.finality_depth = depth;
        c.mine();
    });
    f
}

#[tokio::test]
async fn an_intent_is_signed_stored_sent_and_final_once() {
    let (store, _d) = store();
    let fake = chain(3);
    let lane = lane(&store, &fake);
    lane.reserve("batch-1", b"pay alice 5").unwrap();
    // The same key with the same payload is the same intent; another payload is refused.
    lane.reserve("batch-1", b"pay alice 5").unwrap();
    assert!(lane.reserve("batch-1", b"pay alice 6").is_err());
    assert_eq!(
        tick_until_final(&lane, &fake, "batch-1", 20).await,
        IntentState::Final
    );
    let i = lane.get("batch-1").unwrap().unwrap();
    assert!(i.succeeded());
    assert_eq!(lane.attempts(i.id).unwrap().len(), 1);
    assert_eq!(fake.with(|c| c.executions[&b"pay alice 5".to_vec()]), 1);
}

#[tokio::test]
async fn a_dropped_attempt_is_resigned_under_a_new_fence_only_once_it_is_proven_dead() {
    let (store, _d) = store();
    let fake = chain(2);
    let lane = lane(&store, &fake);
    lane.reserve("b", b"pay bob 7").unwrap();
    fake.with(|c| c.drop_all = true);
    let mut resigned_at = None;
    for n in 0..40 {
        let r = lane.tick().await.unwrap();
        let i = lane.get("b").unwrap().unwrap();
        let attempts = lane.attempts(i.id).unwrap();
        // Never two attempts alive at once.
        let alive = attempts
            .iter()
            .filter(|a| a.state != switchyard_relayer::AttemptState::Dead)
            .count();
        assert!(alive <= 1, "tick {n}: {alive} attempts alive");
        if r.resigned > 0 {
            assert!(
                resigned_at.is_none(),
                "re-signed twice while the network drops everything: tick {n}"
            );
            resigned_at = Some(n);
            // The first attempt's proof is on file.
            assert!(
                attempts[0]
                    .dead_proof
                    .as_deref()
                    .unwrap()
                    .contains("finalized")
            );
            fake.with(|c| c.drop_all = false);
        }
        fake.with(|c| c.mine());
        if i.state == IntentState::Final {
            break;
        }
    }
    let n = resigned_at.expect("the dropped attempt was never proven dead");
    // Dead needs: bound (height + 5) passed at finalized depth 2: at least 7 blocks.
    assert!(n >= 6, "re-signed after only {n} blocks");
    assert_eq!(
        tick_until_final(&lane, &fake, "b", 20).await,
        IntentState::Final
    );
    let i = lane.get("b").unwrap().unwrap();
    assert_eq!(lane.attempts(i.id).unwrap().len(), 2);
    assert_eq!(fake.with(|c| c.executions[&b"pay bob 7".to_vec()]), 1);
}

#[tokio::test]
async fn a_crash_after_signing_sends_the_stored_bytes_and_nothing_else() {
    let (store, _d) = store();
    let fake = chain(2);
    // The process "dies" right after storing the attempt: the network
    // never sees it (broadcast fails), and the lane object is dropped.
    {
        let crash = fake.clone();
        let lane = lane(&store, &fake).with_hook(Arc::new(move |stage, _| {
            if stage == VmStage::Signed {
                crash.with(|c| c.down = true);
            }
        }));
        lane.reserve("c", b"pay carol 9").unwrap();
        let r = lane.tick().await.unwrap();
        assert_eq!((r.signed, r.errors), (1, 1));
    }
    fake.with(|c| c.down = false);
    let lane = lane(&store, &fake);
    let i = lane.get("c").unwrap().unwrap();
    assert_eq!(i.state, IntentState::Signed);
    let before = lane.attempts(i.id).unwrap();
    assert_eq!(
        tick_until_final(&lane, &fake, "c", 20).await,
        IntentState::Final
    );
    let after = lane.attempts(i.id).unwrap();
    assert_eq!(after.len(), 1, "a restart signed again");
    assert_eq!(after[0].raw, before[0].raw);
    assert_eq!(fake.with(|c| c.executions[&b"pay carol 9".to_vec()]), 1);
}

#[tokio::test]
async fn an_attempt_whose_block_is_reorged_away_is_watched_again_and_final_once() {
    let (store, _d) = store();
    let fake = chain(4);
    let lane = lane(&store, &fake);
    lane.reserve("d", b"pay dave 3").unwrap();
    lane.tick().await.unwrap();
    fake.with(|c| c.mine());
    lane.tick().await.unwrap();
    assert_eq!(lane.get("d").unwrap().unwrap().state, IntentState::Included);
    // The block goes; the transaction is not in the new one.
    fake.with(|c| c.reorg(1));
    let r = lane.tick().await.unwrap();
    assert_eq!(r.forked, 1);
    assert_eq!(lane.get("d").unwrap().unwrap().state, IntentState::Sent);
    assert_eq!(
        tick_until_final(&lane, &fake, "d", 20).await,
        IntentState::Final
    );
    assert_eq!(fake.with(|c| c.executions[&b"pay dave 3".to_vec()]), 1);
    let i = lane.get("d").unwrap().unwrap();
    assert_eq!(
        lane.attempts(i.id).unwrap().len(),
        1,
        "a reorg within the fence's life needs no new attempt"
    );
}

#[tokio::test]
async fn an_intent_is_withdrawn_only_while_nothing_of_it_can_execute() {
    let (store, _d) = store();
    let fake = chain(2);
    let lane = lane(&store, &fake);
    lane.reserve("e", b"pay erin 1").unwrap();
    assert!(lane.withdraw("e", "merchant cancelled").unwrap());
    assert_eq!(lane.get("e").unwrap().unwrap().state, IntentState::Dead);
    lane.reserve("f", b"pay frank 1").unwrap();
    fake.with(|c| c.drop_all = true);
    lane.tick().await.unwrap();
    assert!(
        !lane.withdraw("f", "too late").unwrap(),
        "withdrawn while its attempt may still land"
    );
}

#[tokio::test]
async fn an_intent_withdrawn_while_its_attempt_is_being_signed_is_never_sent() {
    let (store, _d) = store();
    let fake = chain(2);
    let l = lane(&store, &fake);
    l.reserve("w", b"pay wendy 4").unwrap();
    // The merchant's cancellation lands while the lane fetches a fence.
    let other = lane(&store, &fake);
    *fake.1.lock().unwrap() = Some(Box::new(move || {
        assert!(other.withdraw("w", "merchant cancelled").unwrap());
    }));
    for _ in 0..10 {
        l.tick().await.unwrap();
        fake.with(|c| c.mine());
    }
    let i = l.get("w").unwrap().unwrap();
    assert_eq!(i.state, IntentState::Dead, "{i:?}");
    assert!(
        l.attempts(i.id).unwrap().is_empty(),
        "an attempt was stored after the withdrawal"
    );
    assert_eq!(
        fake.with(|c| c.executions.get(b"pay wendy 4".as_slice()).copied()),
        None
    );
}

#[tokio::test]
async fn two_intents_with_the_same_payload_in_one_slot_are_both_paid_each_once() {
    let (store, _d) = store();
    let fake = chain(2);
    let l = lane(&store, &fake);
    // Two equal payouts (same recipient, same amount): equal payloads.
    l.reserve("p1", b"pay paul 5").unwrap();
    l.reserve("p2", b"pay paul 5").unwrap();
    fake.with(|c| c.same_fence = true);
    // One slot: both would sign the very same bytes. The second waits.
    let r = l.tick().await.unwrap();
    assert_eq!((r.signed, r.errors), (1, 1));
    fake.with(|c| c.same_fence = false);
    for k in ["p1", "p2"] {
        assert_eq!(tick_until_final(&l, &fake, k, 20).await, IntentState::Final);
    }
    // Two intents, two executions: one each.
    assert_eq!(fake.with(|c| c.executions[&b"pay paul 5".to_vec()]), 2);
    let ids: HashSet<Vec<u8>> = ["p1", "p2"]
        .iter()
        .flat_map(|k| {
            let i = l.get(k).unwrap().unwrap();
            l.attempts(i.id).unwrap().into_iter().map(|a| a.tx_id)
        })
        .collect();
    assert_eq!(ids.len(), 2);
}

#[tokio::test]
async fn a_block_no_longer_canonical_at_its_height_is_not_taken_as_final() {
    let (store, _d) = store();
    let fake = chain(2);
    let l = lane(&store, &fake);
    l.reserve("q", b"pay quinn 2").unwrap();
    l.tick().await.unwrap();
    fake.with(|c| c.mine());
    l.tick().await.unwrap();
    let i = l.get("q").unwrap().unwrap();
    let (n, _) = i.block.unwrap();
    // The status source still reports the old block, but the canonical
    // block at that height is another one (a node serving a stale fork).
    fake.with(|c| {
        c.mine();
        c.mine();
        c.mine();
        c.blocks.insert(n, [9u8; 32]);
        c.stale_status = true;
    });
    for _ in 0..5 {
        l.tick().await.unwrap();
    }
    assert_eq!(l.get("q").unwrap().unwrap().state, IntentState::Included);
}

#[derive(Clone, Debug)]
enum Event {
    Tick,
    Mine,
    Drop(bool),
    Down(bool),
    LostAck(bool),
    Reorg(u64),
    Restart,
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        4 => Just(Event::Tick),
        4 => Just(Event::Mine),
        1 => any::<bool>().prop_map(Event::Drop),
        1 => any::<bool>().prop_map(Event::Down),
        1 => any::<bool>().prop_map(Event::LostAck),
        1 => (1u64..4).prop_map(Event::Reorg),
        1 => Just(Event::Restart),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever the network does, no payload executes twice on the canonical
    /// chain, and once it behaves every intent ends final.
    #[test]
    fn no_intent_executes_twice_and_every_one_ends_final(events in proptest::collection::vec(event(), 1..80)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (store, _d) = store();
            // Reorgs stay shallower than finality, as on a real chain.
            let fake = chain(4);
            let mut l = lane(&store, &fake);
            let keys: Vec<String> = (0..3).map(|i| format!("k{i}")).collect();
            for k in &keys {
                l.reserve(k, format!("payload {k}").as_bytes()).unwrap();
            }
            for e in events {
                match e {
                    Event::Tick => { l.tick().await.unwrap(); }
                    Event::Mine => fake.with(|c| c.mine()),
                    Event::Drop(d) => fake.with(|c| c.drop_all = d),
                    Event::Down(d) => fake.with(|c| c.down = d),
                    Event::LostAck(d) => fake.with(|c| c.lost_ack = d),
                    Event::Reorg(n) => fake.with(|c| c.reorg(n)),
                    Event::Restart => l = lane(&store, &fake),
                }
                for (p, n) in fake.with(|c| c.executions.clone()) {
                    prop_assert!(n <= 1, "{:?} executed {} times", String::from_utf8_lossy(&p), n);
                }
            }
            fake.with(|c| { c.drop_all = false; c.down = false; c.lost_ack = false; });
            for _ in 0..60 {
                l.tick().await.unwrap();
                fake.with(|c| c.mine());
            }
            let executed: HashSet<Vec<u8>> = fake.with(|c| c.executions.iter().filter(|(_, n)| **n == 1).map(|(p, _)| p.clone()).collect());
            for k in &keys {
                let i = l.get(k).unwrap().unwrap();
                prop_assert_eq!(i.state, IntentState::Final, "{} ended {:?}", k, i.state);
                let payload = format!("payload {k}");
                prop_assert!(executed.contains(payload.as_bytes()), "{} never executed", k);
            }
            for (p, n) in fake.with(|c| c.executions.clone()) {
                prop_assert!(n <= 1, "{:?} executed {} times", String::from_utf8_lossy(&p), n);
            }
            Ok(())
        })?;
    }
}

#[test]
fn open_intents_of_an_earlier_sender_are_reported_for_the_start_check() {
    let (store, dir) = store();
    let lane = GenericLane::new(Arc::clone(&store), "fake", Arc::new(chain(2)));
    lane.reserve("a", b"one").unwrap();
    lane.reserve("b", b"two").unwrap();
    assert!(lane.others_open().unwrap().is_empty(), "its own intents");
    // The key changed while both were open: they belong to "old-key" now,
    // and this lane does not drive them.
    let conn = rusqlite::Connection::open(dir.path().join("s.db")).unwrap();
    conn.execute("UPDATE vm_intent SET sender = 'old-key'", [])
        .unwrap();
    assert_eq!(lane.others_open().unwrap(), [("old-key".to_owned(), 2)]);
    assert!(lane.open_intents().unwrap().is_empty());
    // Once final (or proven dead), they no longer count.
    conn.execute("UPDATE vm_intent SET state = 'final'", [])
        .unwrap();
    assert!(lane.others_open().unwrap().is_empty());
}
