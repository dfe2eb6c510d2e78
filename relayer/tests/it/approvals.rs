//! Approval tiers at intake count what splitting would hide: a merchant's
//! items to one recipient within the window, and its total, decide the
//! tier as much as the item's own value.

use std::sync::Arc;

use alloy::primitives::{Address, U256, keccak256};
use switchyard_core::UsdE8;
use switchyard_relayer::payout::ApprovalTiers;
use switchyard_relayer::{NewPayout, Payouts, Store};

use crate::common::*;
use crate::payouts::{payout_to, payouts_over};

fn usd(n: u64) -> UsdE8 {
    UsdE8(U256::from(n) * U256::from(100_000_000u64))
}

fn to(who: &str, usd: u64) -> NewPayout {
    let r = Address::from_word(keccak256(format!("approvals/{who}")));
    payout_to(1, Address::repeat_byte(0x11), r, usd, usd)
}

/// Approvals the item needs (0 when it needs none).
fn needed(p: &Payouts, id: &str) -> i64 {
    match p.approve(id, "probe-operator").unwrap() {
        Ok(a) => a.needed,
        Err(why) => {
            assert!(why.contains("needs no approval"), "{why}");
            0
        }
    }
}

fn tiered(name: &str, total_single: Option<UsdE8>) -> Payouts {
    let store = Arc::new(Store::open(&db(name)).unwrap());
    payouts_over(&store, &[]).with_approval_tiers(Some(ApprovalTiers {
        single: usd(100),
        dual: usd(500),
        window_ms: 3_600_000,
        total_single,
        total_dual: None,
    }))
}

#[test]
fn splitting_a_large_payout_into_small_items_hits_the_same_tier() {
    let p = tiered("approvals-split", None);
    // One 600 USD item: two operators.
    let one = p
        .submit("acme", "one", keccak256("one"), &[to("r1", 600)])
        .unwrap();
    assert_eq!(needed(&p, &one.ids[0]), 2);

    // The same 600 USD as twelve 50 USD items to one recipient, in one
    // request: the items that take the aggregate past 100 need one, past
    // 500 two.
    let items: Vec<NewPayout> = (0..12).map(|_| to("r2", 50)).collect();
    let split = p
        .submit("acme", "split", keccak256("split"), &items)
        .unwrap();
    let tiers: Vec<i64> = split.ids.iter().map(|id| needed(&p, id)).collect();
    assert_eq!(tiers, vec![0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2]);

    // Across requests too.
    let a = p
        .submit("acme", "a", keccak256("a"), &[to("r3", 90)])
        .unwrap();
    let b = p
        .submit("acme", "b", keccak256("b"), &[to("r3", 90)])
        .unwrap();
    assert_eq!((needed(&p, &a.ids[0]), needed(&p, &b.ids[0])), (0, 1));

    // Another merchant's payouts to the same recipient are its own.
    let other = p
        .submit("globex", "c", keccak256("c"), &[to("r3", 90)])
        .unwrap();
    assert_eq!(needed(&p, &other.ids[0]), 0);

    // A cancelled item stops counting.
    let c = p
        .submit("acme", "d", keccak256("d"), &[to("r4", 90)])
        .unwrap();
    assert_eq!(p.cancel(&c.ids[0]).unwrap(), Some(true));
    let e = p
        .submit("acme", "e", keccak256("e"), &[to("r4", 90)])
        .unwrap();
    assert_eq!(needed(&p, &e.ids[0]), 0);
}

#[test]
fn a_merchants_total_in_the_window_raises_the_tier_of_what_follows() {
    let p = tiered("approvals-total", Some(usd(1_000)));
    // Twenty recipients of 60 USD each: none alone needs an approval, but
    // past 1,000 USD in the window each further item needs one.
    let items: Vec<NewPayout> = (0..20).map(|i| to(&format!("t{i}"), 60)).collect();
    let s = p.submit("acme", "many", keccak256("many"), &items).unwrap();
    let tiers: Vec<i64> = s.ids.iter().map(|id| needed(&p, id)).collect();
    let first_tiered = tiers.iter().position(|t| *t == 1).unwrap();
    assert_eq!(first_tiered, 16, "{tiers:?}"); // 17 x 60 = 1,020
    assert!(tiers[..16].iter().all(|t| *t == 0) && tiers[16..].iter().all(|t| *t == 1));
}
