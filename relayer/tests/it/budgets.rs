//! Merchant budgets at intake, on the store alone: a request over the
//! window's budget or over the largest item is refused whole, replays of
//! admitted requests are answered, rejected items stop counting, and
//! merchants submitting at once never exceed the budget.

use std::collections::HashMap;
use std::sync::Arc;

use alloy::primitives::{Address, U256, keccak256};
use switchyard_core::UsdE8;
use switchyard_relayer::payout::{MerchantBudget, OverBudget};
use switchyard_relayer::{NewPayout, Payouts, Store};

use crate::common::*;
use crate::payouts::{payout_to, payouts_over};

fn priced(to: u64, usd: u64) -> NewPayout {
    let recipient = Address::from_word(keccak256(format!("budget/{to}")));
    payout_to(1, Address::repeat_byte(0x11), recipient, usd, usd)
}

fn usd(n: u64) -> UsdE8 {
    UsdE8(U256::from(n) * U256::from(100_000_000u64))
}

/// Payouts over no chain (intake only) with one budget, for `acme`.
fn budgeted(name: &str, budget: MerchantBudget) -> (Arc<Store>, Payouts) {
    let store = Arc::new(Store::open(&db(name)).unwrap());
    let payouts =
        payouts_over(&store, &[]).with_budgets(HashMap::from([("acme".to_owned(), budget)]));
    (store, payouts)
}

#[test]
fn a_merchants_budget_is_decided_at_intake_and_a_refused_request_stores_nothing() {
    let (store, payouts) = budgeted(
        "merchant-budget",
        MerchantBudget {
            budget: usd(100),
            window_ms: 3_600_000,
            max_item: Some(usd(60)),
        },
    );
    let hash = |n: u8| alloy::primitives::B256::repeat_byte(n);
    let first = payouts
        .submit("acme", "a", hash(1), &[priced(1, 40), priced(2, 50)])
        .unwrap();
    assert!(first.created);

    // 90 used: 20 more does not fit, and nothing of the request is kept.
    let over = payouts
        .submit("acme", "b", hash(2), &[priced(3, 5), priced(4, 15)])
        .unwrap_err();
    match over {
        switchyard_relayer::Error::OverBudget(OverBudget::Window {
            used,
            requested,
            budget,
            ..
        }) => assert_eq!((used, requested, budget), (usd(90), usd(20), usd(100))),
        other => panic!("{other:?}"),
    }
    assert_eq!(payouts.list(Some("acme"), None, 0, 100).unwrap().len(), 2);
    // The same key later is a new request, not a replay of a refusal.
    assert!(
        payouts
            .submit("acme", "b", hash(2), &[priced(3, 5)])
            .unwrap()
            .created
    );

    // One item over the largest item is refused, naming it.
    let big = payouts
        .submit("acme", "c", hash(3), &[priced(5, 1), priced(6, 61)])
        .unwrap_err();
    assert!(
        matches!(
            big,
            switchyard_relayer::Error::OverBudget(OverBudget::Item { index: 1, .. })
        ),
        "{big:?}"
    );

    // An item no budget can count (its USD value does not fit) is refused.
    let mut free = priced(9, 0);
    free.usd = UsdE8(U256::MAX);
    assert!(matches!(
        payouts.submit("acme", "f", hash(6), &[free]).unwrap_err(),
        switchyard_relayer::Error::OverBudget(OverBudget::Unpriced { index: 0 })
    ));

    // A replay of an admitted request returns its ids, full budget or not.
    let again = payouts
        .submit("acme", "a", hash(1), &[priced(1, 40), priced(2, 50)])
        .unwrap();
    assert_eq!((again.created, &again.ids), (false, &first.ids));

    // A rejected item no longer counts; other merchants have no budget.
    payouts
        .reject(&first.ids[1], "olivia", "wrong recipient")
        .unwrap()
        .unwrap();
    assert!(
        payouts
            .submit("acme", "d", hash(4), &[priced(7, 50)])
            .unwrap()
            .created
    );
    assert_eq!(
        store.merchant_used("acme", 0).unwrap(),
        (3, usd(95).0),
        "40 + 5 + 50"
    );
    assert!(
        payouts
            .submit("globex", "e", hash(5), &[priced(8, 10_000)])
            .unwrap()
            .created
    );
}

#[test]
fn merchants_submitting_at_once_never_exceed_their_budget() {
    let (store, payouts) = budgeted(
        "merchant-budget-race",
        MerchantBudget {
            budget: usd(250),
            window_ms: 3_600_000,
            max_item: None,
        },
    );
    let payouts = Arc::new(payouts);
    let admitted: usize = std::thread::scope(|s| {
        let hands: Vec<_> = (0..8u64)
            .map(|t| {
                let p = Arc::clone(&payouts);
                s.spawn(move || {
                    (0..10u64)
                        .filter(|i| {
                            let n = t * 100 + i;
                            p.submit(
                                "acme",
                                &format!("k{n}"),
                                alloy::primitives::B256::from(U256::from(n)),
                                &[priced(n, 10)],
                            )
                            .is_ok()
                        })
                        .count()
                })
            })
            .collect();
        hands.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(admitted, 25, "80 requests of $10 against $250");
    assert_eq!(store.merchant_used("acme", 0).unwrap(), (25, usd(250).0));
}
