//! The generic lane on a real local Solana validator: 100 payouts to fresh
//! recipients in as few transactions as fit, an attempt kept from the
//! network proven dead and re-sent exactly once, and a restart after every
//! step of the send path paying each item once.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::{Keypair, Signer};
use switchyard_chains::solana::local::LocalValidator;
use switchyard_chains::solana::{SolanaChain, SolanaFeePolicy, associated_token_account, setup};
use switchyard_core::address::ChainKind;
use switchyard_core::chain::vm::{
    AttemptStatus, Fence, LineOutcome, PayoutLine, SignedAttempt, VmFuture, VmLane, VmPayouts,
};
use switchyard_core::chain::{BlockRef, ChainError, FeeLevels, Simulation, TxId};
use switchyard_relayer::vmlane::{GenericLane, VmStage};
use switchyard_relayer::{AttemptState, IntentState, Store};

/// A validator with a TUSD-like mint (6 decimals) and a funded hot wallet.
struct Sol {
    v: &'static LocalValidator,
    chain: Arc<SolanaChain>,
    _dir: TempDir,
    store: Arc<Store>,
}

struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn sol(float: u64) -> Sol {
    let v = LocalValidator::shared().await.unwrap();
    let rpc = v.rpc();
    let hot = Arc::new(Keypair::new());
    setup::fund(&rpc, &v.faucet, &hot.pubkey(), 100_000_000_000)
        .await
        .unwrap();
    let mint = setup::create_mint(&rpc, &v.faucet, &v.faucet.pubkey(), 6)
        .await
        .unwrap();
    let float_ata = setup::ensure_token_account(&rpc, &v.faucet, &hot.pubkey(), &mint)
        .await
        .unwrap();
    setup::mint_to(&rpc, &v.faucet, &v.faucet, &mint, &float_ata, float)
        .await
        .unwrap();
    let chain = Arc::new(
        SolanaChain::connect(&v.url, hot, mint, SolanaFeePolicy::default())
            .await
            .unwrap(),
    );
    let dir = std::env::temp_dir().join(format!("sol-lane-{}-{}", std::process::id(), rand_u64()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Arc::new(Store::open(&dir.join("s.db")).unwrap());
    Sol {
        v,
        chain,
        _dir: TempDir(dir),
        store,
    }
}

fn rand_u64() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

async fn drive(lane: &GenericLane, keys: &[String], within: Duration) {
    let until = std::time::Instant::now() + within;
    loop {
        lane.tick().await.unwrap();
        let open: Vec<_> = keys
            .iter()
            .filter(|k| lane.get(k).unwrap().unwrap().state != IntentState::Final)
            .collect();
        if open.is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < until,
            "not final in {within:?}: {open:?} ({:?})",
            lane.failing().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
}

async fn balance(s: &Sol, owner: &Pubkey) -> u128 {
    s.chain
        .token_account_balance(&associated_token_account(owner, &s.chain.mint()))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_payouts_to_fresh_recipients_go_out_in_as_few_transactions_as_fit() {
    let s = sol(10_000_000_000).await;
    let lane = GenericLane::new(s.store.clone(), "devnet-sol", s.chain.clone());
    let recipients: Vec<Pubkey> = (0..100).map(|_| Keypair::new().pubkey()).collect();
    // Five recipients already have a token account; the rest get one created.
    for r in &recipients[..5] {
        setup::ensure_token_account(s.chain.rpc(), &s.v.faucet, r, &s.chain.mint())
            .await
            .unwrap();
    }
    let lines: Vec<PayoutLine> = recipients
        .iter()
        .enumerate()
        .map(|(i, r)| PayoutLine {
            id: format!("po_{i}"),
            recipient: r.to_string(),
            amount: 1_000_000 + i as u128,
            memo: (i % 10 == 0).then(|| format!("order {i}")),
        })
        .collect();
    let payer_before = s.chain.rpc().get_balance(&s.chain.payer()).await.unwrap();
    let mut batches: Vec<(String, Vec<PayoutLine>)> = Vec::new();
    let mut rest = &lines[..];
    while !rest.is_empty() {
        let k = s.chain.fit(rest).await.unwrap();
        assert!(k > 0, "a single payout does not fit");
        // Computed, not guessed: one more line does not fit.
        if k < rest.len() {
            let more = s.chain.payout_plan(&rest[..k + 1]).await;
            assert!(
                matches!(&more, Err(ChainError::Malformed(m)) if m.contains("do not fit")),
                "{k} fit, but so do {}: {more:?}",
                k + 1
            );
        }
        let payload = s.chain.payout_payload(&rest[..k]).await.unwrap();
        let key = format!("batch-{}", batches.len());
        lane.reserve(&key, &payload).unwrap();
        batches.push((key, rest[..k].to_vec()));
        rest = &rest[k..];
    }
    let sizes: Vec<usize> = batches.iter().map(|(_, l)| l.len()).collect();
    println!(
        "100 payouts (95 new token accounts, 10 memos) in {} transactions: {sizes:?}",
        batches.len()
    );
    let keys: Vec<String> = batches.iter().map(|(k, _)| k.clone()).collect();
    drive(&lane, &keys, Duration::from_secs(120)).await;
    let mut fees = 0u64;
    for (key, batch) in &batches {
        let i = lane.get(key).unwrap().unwrap();
        assert!(i.succeeded(), "{key} {i:?}");
        let attempts = lane.attempts(i.id).unwrap();
        assert_eq!(attempts.len(), 1);
        let id = TxId(attempts[0].tx_id.clone());
        let outcomes = s.chain.outcomes(&id, batch).await.unwrap();
        assert!(
            outcomes.iter().all(|o| *o == LineOutcome::Paid),
            "{outcomes:?}"
        );
        let tx = s
            .chain
            .rpc()
            .get_transaction(
                &solana_sdk::signature::Signature::try_from(attempts[0].tx_id.as_slice()).unwrap(),
                solana_transaction_status_client_types::UiTransactionEncoding::Base64,
            )
            .await
            .unwrap();
        fees += tx.transaction.meta.unwrap().fee;
    }
    for (i, r) in recipients.iter().enumerate() {
        assert_eq!(balance(&s, r).await, 1_000_000 + i as u128, "recipient {i}");
    }
    let payer_after = s.chain.rpc().get_balance(&s.chain.payer()).await.unwrap();
    let rent = s.chain.token_account_rent().await.unwrap();
    let spent = payer_before - payer_after;
    assert_eq!(
        spent,
        fees + 95 * rent,
        "the hot wallet paid fees and the rent of 95 accounts"
    );
    println!(
        "lamports: fees {fees} ({} per recipient), rent {} per new account; {} per recipient in all",
        fees / 100,
        rent,
        spent / 100
    );
    assert!(
        batches.len() <= 13,
        "{} transactions for 100 payouts",
        batches.len()
    );
}

/// An adapter in front of the real one that can keep chosen attempts from
/// the network, and die (every call fails) to stand in for a killed process.
struct Gate {
    inner: Arc<SolanaChain>,
    swallow_first: AtomicBool,
    swallowed: Mutex<HashSet<Vec<u8>>>,
    dead: Arc<AtomicBool>,
}

impl Gate {
    fn check(&self) -> Result<(), ChainError> {
        if self.dead.load(Ordering::SeqCst) {
            Err(ChainError::Transport("process killed".into()))
        } else {
            Ok(())
        }
    }
}

impl VmLane for Gate {
    fn kind(&self) -> ChainKind {
        ChainKind::Solana
    }
    fn sender(&self) -> String {
        self.inner.sender()
    }
    fn fresh_fence(&self) -> VmFuture<'_, Fence> {
        Box::pin(async move {
            self.check()?;
            self.inner.fresh_fence().await
        })
    }
    fn simulate<'a>(&'a self, payload: &'a [u8]) -> VmFuture<'a, Simulation> {
        Box::pin(async move {
            self.check()?;
            self.inner.simulate(payload).await
        })
    }
    fn fees(&self) -> VmFuture<'_, FeeLevels> {
        Box::pin(async move {
            self.check()?;
            VmLane::fees(self.inner.as_ref()).await
        })
    }
    fn sign<'a>(
        &'a self,
        payload: &'a [u8],
        fence: &'a Fence,
        fees: &'a FeeLevels,
    ) -> VmFuture<'a, SignedAttempt> {
        Box::pin(async move {
            self.check()?;
            let a = self.inner.sign(payload, fence, fees).await?;
            if self.swallow_first.swap(false, Ordering::SeqCst) {
                self.swallowed.lock().unwrap().insert(a.raw.clone());
            }
            Ok(a)
        })
    }
    fn broadcast<'a>(&'a self, raw: &'a [u8]) -> VmFuture<'a, ()> {
        Box::pin(async move {
            self.check()?;
            if self.swallowed.lock().unwrap().contains(raw) {
                return Ok(());
            }
            self.inner.broadcast(raw).await
        })
    }
    fn status<'a>(&'a self, id: &'a TxId, fence: &'a Fence) -> VmFuture<'a, AttemptStatus> {
        Box::pin(async move {
            self.check()?;
            self.inner.status(id, fence).await
        })
    }
    fn block_at(&self, number: u64) -> VmFuture<'_, Option<BlockRef>> {
        Box::pin(async move {
            self.check()?;
            VmLane::block_at(self.inner.as_ref(), number).await
        })
    }
}

fn gate(s: &Sol, swallow_first: bool) -> Arc<Gate> {
    Arc::new(Gate {
        inner: s.chain.clone(),
        swallow_first: AtomicBool::new(swallow_first),
        swallowed: Mutex::new(HashSet::new()),
        dead: Arc::new(AtomicBool::new(false)),
    })
}

fn line(id: &str, to: &Pubkey, amount: u128) -> PayoutLine {
    PayoutLine {
        id: id.into(),
        recipient: to.to_string(),
        amount,
        memo: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_never_included_is_proven_dead_and_resent_under_a_new_fence_exactly_once() {
    let s = sol(1_000_000_000).await;
    let g = gate(&s, true);
    let lane = GenericLane::new(s.store.clone(), "devnet-sol", g.clone());
    let to = Keypair::new().pubkey();
    let payload = s
        .chain
        .payout_payload(&[line("po_1", &to, 4_200_000)])
        .await
        .unwrap();
    lane.reserve("dropped", &payload).unwrap();
    let started = std::time::Instant::now();
    let mut resigned = 0;
    loop {
        let r = lane.tick().await.unwrap();
        resigned += r.resigned;
        let i = lane.get("dropped").unwrap().unwrap();
        let attempts = lane.attempts(i.id).unwrap();
        assert!(
            attempts
                .iter()
                .filter(|a| a.state != AttemptState::Dead)
                .count()
                <= 1,
            "two attempts alive"
        );
        if i.state == IntentState::Final {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "not final: {i:?} {attempts:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let i = lane.get("dropped").unwrap().unwrap();
    let attempts = lane.attempts(i.id).unwrap();
    assert_eq!(resigned, 1);
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].state, AttemptState::Dead);
    let proof = attempts[0].dead_proof.clone().unwrap();
    assert!(proof.contains("last valid height"), "{proof}");
    assert_ne!(
        attempts[0].fence, attempts[1].fence,
        "the new attempt has a new fence"
    );
    assert_eq!(balance(&s, &to).await, 4_200_000, "paid exactly once");
    println!(
        "dropped attempt proven dead and re-sent after {:?}: {proof}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_after_signing_after_broadcast_and_after_inclusion_pays_each_item_once() {
    let s = sol(1_000_000_000).await;
    for stage in [VmStage::Signed, VmStage::Broadcast, VmStage::Included] {
        let to = Keypair::new().pubkey();
        let key = format!("crash-{stage:?}");
        let payload = s
            .chain
            .payout_payload(&[line(&key, &to, 777_000)])
            .await
            .unwrap();
        // The first process dies at `stage`: every call it makes after that fails.
        {
            let g = gate(&s, false);
            let dead = g.dead.clone();
            let lane = GenericLane::new(s.store.clone(), "devnet-sol", g.clone()).with_hook(
                Arc::new(move |st, _| {
                    if st == stage {
                        dead.store(true, Ordering::SeqCst);
                    }
                }),
            );
            lane.reserve(&key, &payload).unwrap();
            for _ in 0..100 {
                lane.tick().await.unwrap();
                if g.dead.load(Ordering::SeqCst) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            assert!(g.dead.load(Ordering::SeqCst), "never reached {stage:?}");
        }
        // A new process on the same store.
        let lane = GenericLane::new(s.store.clone(), "devnet-sol", gate(&s, false));
        drive(&lane, std::slice::from_ref(&key), Duration::from_secs(90)).await;
        let i = lane.get(&key).unwrap().unwrap();
        assert!(i.succeeded());
        assert_eq!(
            lane.attempts(i.id).unwrap().len(),
            1,
            "{stage:?}: signed again after the restart"
        );
        assert_eq!(balance(&s, &to).await, 777_000, "{stage:?}: paid once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_that_landed_while_the_lane_was_away_past_its_blockhash_is_found_not_resent() {
    let s = sol(1_000_000_000).await;
    let to = Keypair::new().pubkey();
    let payload = s
        .chain
        .payout_payload(&[line("po_away", &to, 3_300_000)])
        .await
        .unwrap();
    // The first process broadcasts, then dies.
    {
        let g = gate(&s, false);
        let dead = g.dead.clone();
        let lane = GenericLane::new(s.store.clone(), "devnet-sol", g.clone()).with_hook(Arc::new(
            move |st, _| {
                if st == VmStage::Broadcast {
                    dead.store(true, Ordering::SeqCst);
                }
            },
        ));
        lane.reserve("away", &payload).unwrap();
        lane.tick().await.unwrap();
        assert!(g.dead.load(Ordering::SeqCst));
    }
    // It stays away until its blockhash is long past valid (150 blocks,
    // then finality): a lane that read "absent" from a node without history
    // would sign it again now.
    let lane = GenericLane::new(s.store.clone(), "devnet-sol", gate(&s, false));
    let i = lane.get("away").unwrap().unwrap();
    let bound = lane.attempts(i.id).unwrap()[0].fence.valid_until.unwrap();
    loop {
        let h = s
            .chain
            .rpc()
            .get_block_height_with_commitment(
                solana_commitment_config::CommitmentConfig::finalized(),
            )
            .await
            .unwrap();
        if h > bound + 5 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    drive(&lane, &["away".to_string()], Duration::from_secs(60)).await;
    let i = lane.get("away").unwrap().unwrap();
    assert!(i.succeeded());
    let attempts = lane.attempts(i.id).unwrap();
    assert_eq!(attempts.len(), 1, "signed again: {attempts:?}");
    assert_eq!(balance(&s, &to).await, 3_300_000);
}
