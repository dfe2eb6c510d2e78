//! Payouts on a chain of the generic lane (the in-memory chain of
//! `vmlane`): batched as many per transaction as the adapter says fit, each
//! item settled from the chain's outcome, a float that holds items it
//! cannot cover, and a batch that executed and failed planned again with
//! every item paid once.

use std::collections::HashMap;
use std::sync::Arc;

use alloy::primitives::{U256, keccak256};
use switchyard_core::UsdE8;
use switchyard_core::chain::TxId;
use switchyard_core::chain::vm::{FloatDebit, LineOutcome, PayoutLine, VmFuture, VmPayouts};
use switchyard_core::finality::Finality;
use switchyard_relayer::vmlane::GenericLane;
use switchyard_relayer::{NewPayout, Payouts, Store, VmPayoutChain};

use crate::payouts::payouts_over;
use crate::vmlane::{Fake, chain, store};

/// Lines per transaction on the fake chain.
const FIT: usize = 3;

/// The fake chain as a payout chain: `FIT` lines per transaction, the
/// payload is the lines as JSON, the float what the test sets.
impl VmPayouts for Fake {
    fn fit<'a>(&'a self, lines: &'a [PayoutLine]) -> VmFuture<'a, usize> {
        // As the Solana adapter: a line that can never be paid ends the
        // batch before it; alone, it is the error.
        let bad = self.with(|c| c.unpayable.clone());
        Box::pin(async move {
            match lines.iter().position(|l| bad.contains(&l.recipient)) {
                Some(0) => Err(switchyard_core::chain::ChainError::WouldRevert(format!(
                    "{} cannot receive",
                    lines[0].recipient
                ))),
                Some(k) => Ok(k.min(FIT)),
                None => Ok(lines.len().min(FIT)),
            }
        })
    }
    fn payout_payload<'a>(&'a self, lines: &'a [PayoutLine]) -> VmFuture<'a, Vec<u8>> {
        Box::pin(async move { Ok(serde_json::to_vec(lines).unwrap()) })
    }
    fn outcomes<'a>(
        &'a self,
        _id: &'a TxId,
        lines: &'a [PayoutLine],
    ) -> VmFuture<'a, Vec<LineOutcome>> {
        Box::pin(async move { Ok(vec![LineOutcome::Paid; lines.len()]) })
    }
    fn float(&self) -> VmFuture<'_, u128> {
        let f = self.with(|c| c.float);
        Box::pin(async move { Ok(f) })
    }
    fn float_debits(&self, after: u64) -> VmFuture<'_, (Vec<FloatDebit>, u64)> {
        // Final blocks after `after`: the payouts that succeeded in them,
        // and the float spent by someone else.
        let out = self.with(|c| {
            let upto = c.height.saturating_sub(c.finality_depth);
            let mut d: Vec<FloatDebit> = Vec::new();
            for (id, (block, payload)) in &c.included {
                if *block <= after || *block > upto || c.failed.contains(id) {
                    continue;
                }
                let Ok(lines) = serde_json::from_slice::<Vec<PayoutLine>>(payload) else {
                    continue;
                };
                d.push(FloatDebit {
                    tx: TxId(id.clone()),
                    block: *block,
                    amount: lines.iter().map(|l| l.amount).sum(),
                    to: lines
                        .iter()
                        .map(|l| (l.recipient.clone(), l.amount))
                        .collect(),
                });
            }
            for (block, id, amount, to) in &c.foreign {
                if *block > after && *block <= upto {
                    d.push(FloatDebit {
                        tx: TxId(id.clone()),
                        block: *block,
                        amount: *amount,
                        to: vec![(to.clone(), *amount)],
                    });
                }
            }
            d.sort_by_key(|x| x.block);
            (d, upto.max(after))
        });
        Box::pin(async move { Ok(out) })
    }
    fn check_recipients<'a>(
        &'a self,
        recipients: &'a [String],
    ) -> VmFuture<'a, Vec<Result<(), String>>> {
        Box::pin(async move { Ok(vec![Ok(()); recipients.len()]) })
    }
}

struct Rig {
    dir: crate::vmlane::tempdir::Dir,
    _store: Arc<Store>,
    fake: Fake,
    lane: GenericLane,
    payouts: Payouts,
}

fn rig(float: u128) -> Rig {
    let (store, dir) = store();
    let fake = chain(2);
    fake.with(|c| c.float = float);
    let adapter = Arc::new(fake.clone());
    let lane = GenericLane::new(Arc::clone(&store), "fake", adapter.clone()).with_rebroadcast_ms(0);
    let payouts = payouts_over(&store, &[]).with_vm_chains(HashMap::from([(
        "fake".to_owned(),
        VmPayoutChain {
            lane: lane.clone(),
            adapter,
            token: "MINT".into(),
        },
    )]));
    Rig {
        dir,
        _store: store,
        fake,
        lane,
        payouts,
    }
}

/// Stores `items` as one request of `acme`; their ids.
fn submit(r: &Rig, items: &[NewPayout]) -> Vec<String> {
    r.payouts
        .submit("acme", "k", keccak256("k"), items)
        .unwrap()
        .ids
}

impl Rig {
    /// The store's file, read directly.
    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.dir.path().join("s.db")).unwrap()
    }
}

fn item(i: u64, amount: u64) -> NewPayout {
    NewPayout {
        asset: "fake:TUSD".into(),
        chain: "fake".into(),
        chain_id: 0,
        token: "MINT".into(),
        recipient: format!("wallet-{i}"),
        amount: U256::from(amount),
        finality: Finality::Blocks { blocks: 2 },
        memo: Some(format!("invoice {i}")),
        source: None,
        mode: "cheapest".into(),
        approvals: 0,
        usd: UsdE8(U256::from(amount)),
    }
}

/// Steps payouts and the lane, mining a block each time, until every one
/// of `ids` is in `state` (at most `steps`); returns the states.
async fn run(r: &Rig, ids: &[String], state: &str, steps: usize) -> Vec<String> {
    let mut states = Vec::new();
    for _ in 0..steps {
        r.payouts.step().await.unwrap();
        r.lane.tick().await.unwrap();
        r.fake.with(|c| c.mine());
        states = ids
            .iter()
            .map(|id| r.payouts.get(id).unwrap().unwrap().state)
            .collect();
        if states.iter().all(|s| s == state) {
            break;
        }
    }
    states
}

#[tokio::test]
async fn generic_lane_payouts_are_batched_by_fit_and_each_settled_once() {
    let r = rig(1_000_000);
    let items: Vec<NewPayout> = (0..7).map(|i| item(i, 100 + i)).collect();
    let ids = submit(&r, &items);
    let states = run(&r, &ids, "final", 60).await;
    assert!(states.iter().all(|s| s == "final"), "{states:?}");
    let mut txs = std::collections::BTreeSet::new();
    for id in &ids {
        let v = r.payouts.get(id).unwrap().unwrap();
        txs.insert(v.tx.clone().expect("a final item names its transaction"));
        assert!(v.block.is_some());
    }
    assert_eq!(
        txs.len(),
        7usize.div_ceil(FIT),
        "one transaction per {FIT} items"
    );
    r.fake.with(|c| {
        for i in 0..7u64 {
            let w = format!("wallet-{i}");
            assert_eq!(c.credits.get(&w), Some(&1), "{w} paid once");
            assert_eq!(c.credited[&w], u128::from(100 + i));
        }
    });
    let batches: i64 = r
        .db()
        .query_row(
            "SELECT COUNT(*) FROM payout_batch WHERE chain = 'fake' AND state = 'final'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(batches, 3);
}

#[tokio::test]
async fn items_the_float_cannot_cover_wait_and_are_paid_once_it_can() {
    let r = rig(250);
    let items: Vec<NewPayout> = (0..3).map(|i| item(i, 100)).collect();
    let ids = submit(&r, &items);
    // 250 covers two of the three.
    let first = run(&r, &ids[..2], "final", 60).await;
    assert!(first.iter().all(|s| s == "final"), "{first:?}");
    let held = r.payouts.get(&ids[2]).unwrap().unwrap();
    assert_eq!(held.state, "held", "{held:?}");
    assert!(held.reason.unwrap().contains("float"));
    r.fake.with(|c| c.float = 1_000);
    let states = run(&r, &ids, "final", 60).await;
    assert!(states.iter().all(|s| s == "final"), "{states:?}");
    r.fake.with(|c| {
        for i in 0..3 {
            assert_eq!(c.credits.get(&format!("wallet-{i}")), Some(&1));
        }
    });
}

#[tokio::test]
async fn a_batch_that_executed_and_failed_is_planned_again_and_each_item_paid_once() {
    let r = rig(1_000_000);
    r.fake.with(|c| c.fail_next = 1);
    let items: Vec<NewPayout> = (0..3).map(|i| item(i, 10)).collect();
    let ids = submit(&r, &items);
    let states = run(&r, &ids, "final", 80).await;
    assert!(states.iter().all(|s| s == "final"), "{states:?}");
    let (void, fin): (i64, i64) = r
        .db()
        .query_row(
            "SELECT SUM(state = 'void'), SUM(state = 'final') FROM payout_batch WHERE chain = 'fake'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (void, fin),
        (1, 1),
        "the failed batch is void, a new one paid"
    );
    r.fake.with(|c| {
        for i in 0..3 {
            assert_eq!(c.credits.get(&format!("wallet-{i}")), Some(&1));
        }
    });
}

/// The state and reason of payout `id`.
fn state(r: &Rig, id: &str) -> (String, String) {
    let v = r.payouts.get(id).unwrap().unwrap();
    (v.state, v.reason.unwrap_or_default())
}

#[tokio::test]
async fn a_recipient_that_can_never_be_paid_waits_for_an_operator_and_the_rest_are_paid() {
    let r = rig(1_000_000);
    r.fake.with(|c| {
        c.unpayable.insert("wallet-0".into());
    });
    let items: Vec<NewPayout> = (0..3).map(|i| item(i, 10)).collect();
    let ids = submit(&r, &items);
    let states = run(&r, &ids[1..], "final", 60).await;
    assert!(states.iter().all(|s| s == "final"), "{states:?}");
    // Still held after more steps, not routed again and again.
    run(&r, &ids[1..], "never", 5).await;
    let (s, why) = state(&r, &ids[0]);
    assert_eq!(s, "held", "{why}");
    assert!(
        why.contains("cannot receive") && why.contains("operator"),
        "{why}"
    );
    r.fake.with(|c| assert_eq!(c.credits.get("wallet-0"), None));
}

#[tokio::test]
async fn a_batch_the_chain_refuses_after_planning_is_withdrawn_and_planned_again() {
    let r = rig(1_000_000);
    let r = Rig {
        payouts: r.payouts.clone().with_replan_after_ms(0),
        ..r
    };
    let items: Vec<NewPayout> = (0..3).map(|i| item(i, 10)).collect();
    let ids = submit(&r, &items);
    // Planned and reserved with all three; then wallet-1's account freezes.
    r.payouts.step().await.unwrap();
    assert_eq!(state(&r, &ids[1]).0, "batched");
    r.fake.with(|c| {
        c.unpayable.insert("wallet-1".into());
    });
    let paid = [ids[0].clone(), ids[2].clone()];
    let states = run(&r, &paid, "final", 80).await;
    assert!(states.iter().all(|s| s == "final"), "{states:?}");
    let (s, why) = state(&r, &ids[1]);
    assert_eq!(s, "held", "{why}");
    r.fake.with(|c| {
        assert_eq!(c.credits.get("wallet-0"), Some(&1));
        assert_eq!(c.credits.get("wallet-2"), Some(&1));
        assert_eq!(c.credits.get("wallet-1"), None);
    });
}

#[tokio::test]
async fn an_operator_cannot_give_up_a_generic_lane_batch_it_cannot_cancel() {
    let r = rig(1_000_000);
    let ids = submit(&r, &[item(0, 10)]);
    r.payouts.step().await.unwrap();
    let batch = r.payouts.get(&ids[0]).unwrap().unwrap().batch_id.unwrap();
    assert!(!r.payouts.give_up_batch(&batch, "olivia", "stuck").unwrap());
    let states = run(&r, &ids, "final", 60).await;
    assert_eq!(states, ["final"]);
}

#[tokio::test]
async fn the_governor_limits_a_generic_lane_chain_under_its_bridge_domain() {
    let mut r = rig(1_000_000);
    // 250 (in UsdE8) per minute on "fake": two items of 100 fit, the third
    // waits in the chain's queue.
    let domain = switchyard_core::topology::derived_bridge_domain("fake");
    r.payouts = r.payouts.with_governor(HashMap::from([(
        domain,
        switchyard_relayer::governor::Limit {
            budget: UsdE8(U256::from(250u64)),
            window_ms: 60_000,
            large: UsdE8(U256::MAX),
            large_delay_ms: 0,
        },
    )]));
    let items: Vec<NewPayout> = (0..3).map(|i| item(i, 100)).collect();
    let ids = submit(&r, &items);
    let paid = run(&r, &ids[..2], "final", 60).await;
    assert!(paid.iter().all(|s| s == "final"), "{paid:?}");
    let (s, why) = state(&r, &ids[2]);
    assert_eq!(s, "held", "{why}");
    assert!(why.starts_with("governor:"), "{why}");
    r.fake
        .with(|c| assert_eq!(c.credits.get("wallet-2"), None, "not paid"));
    let status = r.payouts.governor_status().unwrap();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].0, domain);
    assert_eq!(status[0].2, U256::from(200u64), "the two admitted items");
    // The quote's check sees the same window: 100 more waits.
    assert!(matches!(
        r.payouts
            .governor_check(domain, UsdE8(U256::from(100u64)))
            .unwrap(),
        Some(switchyard_relayer::governor::Decision::Wait { .. })
    ));
}

#[tokio::test]
async fn reconciliation_alerts_once_on_a_float_debit_that_is_not_the_relayers() {
    let r = rig(1_000_000);
    let items: Vec<NewPayout> = (0..4).map(|i| item(i, 100)).collect();
    let ids = submit(&r, &items);
    let states = run(&r, &ids, "final", 60).await;
    assert!(states.iter().all(|s| s == "final"), "{states:?}");
    // Our own batches, final: nothing to say.
    assert_eq!(r.payouts.reconcile().await.unwrap(), 0);
    // Someone else spends the float (a leaked key), in a block that then
    // becomes final.
    r.fake.with(|c| {
        let at = c.height + 1;
        c.foreign.push((at, vec![0xee; 64], 777, "thief".into()));
        for _ in 0..4 {
            c.mine();
        }
    });
    assert_eq!(r.payouts.reconcile().await.unwrap(), 1, "one new alert");
    // Recorded once: the cursor moved past it, and a replay of the same
    // round adds nothing.
    assert_eq!(r.payouts.reconcile().await.unwrap(), 0);
    r.db().execute("DELETE FROM reconcile_cursor", []).unwrap();
    assert_eq!(r.payouts.reconcile().await.unwrap(), 0, "deduplicated");
    let (kind, detail): (String, String) = r
        .db()
        .query_row("SELECT kind, detail FROM alert", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .unwrap();
    assert_eq!(kind, "unknown_payout");
    assert!(detail.contains("777 to thief"), "{detail}");
}
