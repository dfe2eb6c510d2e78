//! The signer set end to end: three real co-signer processes (2 of 3) on
//! the devnet, the real daemon, anvil.
//!
//! - A hostile daemon (this test, holding the daemon's identity key and
//!   speaking to the co-signers directly) asks for what no policy allows:
//!   every co-signer refuses each, and audits each refusal in its
//!   hash-chained log.
//! - With one co-signer SIGKILLed payouts settle; with two down they wait
//!   `held` with the reason and settle once one is back.
//! - A co-signer SIGKILLed while a request is in flight, then restarted,
//!   never signs a second content for the same fence.

mod common;

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, U256};
use common::{BIN, Daemon, Devnet, call};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use serde_json::{Value, json};
use switchyard_chains::evm::eip712::Eip712Signer;
use switchyard_core::attest::{Attestation, PayoutItem};
use switchyard_cosigner::request::{SignAnswer, SignRequest};

struct Member {
    name: String,
    url: String,
    address: Address,
    config: String,
}

fn members(net: &Devnet) -> Vec<Member> {
    net.info["cosigners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Member {
            name: c["name"].as_str().unwrap().to_owned(),
            url: c["url"].as_str().unwrap().to_owned(),
            address: c["address"].as_str().unwrap().parse().unwrap(),
            config: c["config"].as_str().unwrap().to_owned(),
        })
        .collect()
}

fn client(url: &str) -> HttpClient {
    HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(10))
        .build(url)
        .unwrap()
}

/// Sends `req`: the signature, or the refusal's (code, rule).
async fn send(url: &str, req: &SignRequest) -> Result<Vec<u8>, (i32, String)> {
    match client(url)
        .request::<SignAnswer, _>("cosigner_sign", rpc_params![req])
        .await
    {
        Ok(a) => Ok(a.signature.to_vec()),
        Err(jsonrpsee::core::ClientError::Call(e)) => Err((
            e.code(),
            e.data()
                .and_then(|d| serde_json::from_str::<Value>(d.get()).ok())
                .and_then(|d| d["rule"].as_str().map(str::to_owned))
                .unwrap_or_default(),
        )),
        Err(e) => Err((0, format!("transport: {e}"))),
    }
}

fn batch(net: &Devnet, chain: &str, id: B256, items: &[(Address, u64)]) -> Attestation {
    Attestation::PayoutBatch {
        chain_id: net.info_of(chain)["chain_id"].as_u64().unwrap(),
        batcher: net.addr(chain, "payout_batcher"),
        batch_id: id,
        token: net.addr(chain, "token"),
        payouts: items
            .iter()
            .map(|(to, units)| PayoutItem {
                to: *to,
                amount: U256::from(*units),
            })
            .collect(),
        deadline: switchyard_core::now_ms() / 1000 + 600,
    }
}

fn recipient(n: u64) -> Address {
    format!("0x{:040x}", 0xc05_0000_0000u64 + n)
        .parse()
        .unwrap()
}

fn identity(net: &Devnet) -> Eip712Signer {
    Eip712Signer::from_hex("identity", &net.env_key("SWITCHYARD_IDENTITY_KEY")).unwrap()
}

/// The co-signer's audit log, through `switchyard signer audit`.
fn audit(m: &Member) -> Vec<Value> {
    let out = Command::new(BIN)
        .args(["signer", "audit", "--config", &m.config])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("hash chain intact"));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn kill(pid: u32, signal: &str) {
    let ok = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {signal} {pid}");
}

/// A co-signer this test started, killed when dropped (a failing test
/// leaves nothing running).
struct Started(Child);

impl Started {
    fn kill(&mut self) -> std::io::Result<()> {
        self.0.kill()
    }
    fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        self.0.wait()
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the co-signer of `m` again (its policy keeps its port); waits
/// until it listens.
fn restart(net: &Devnet, m: &Member) -> Started {
    let mut c = Command::new(BIN)
        .args(["signer", "serve", "--config", &m.config])
        .env("SWITCHYARD_COSIGNER_PASSPHRASE", net.cosigner_passphrase())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(c.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(line.contains("listening on"), "{} said {line:?}", m.name);
    std::thread::spawn(move || for _ in out.lines() {});
    Started(c)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_daemon_is_refused_by_every_cosigner_and_each_refusal_is_audited() {
    let net = Devnet::up("cosigner-hostile");
    let set = members(&net);
    let me = identity(&net);
    let now = switchyard_core::now_ms;
    let ask = |m: &Member, what: &Attestation| {
        SignRequest::new(&me, m.address, now(), what.clone()).unwrap()
    };

    // A fair batch, signed by every co-signer: the reference for the rest.
    let fair_id = B256::repeat_byte(0x11);
    let fair = batch(&net, "devnet-a", fair_id, &[(recipient(1), 5_000_000)]);
    let mut fair_reqs = Vec::new();
    for m in &set {
        let r = ask(m, &fair);
        send(&m.url, &r).await.expect("a fair batch is signed");
        fair_reqs.push(r);
    }

    // The deny list changes under the running co-signers.
    let denied = recipient(666);
    std::fs::write(
        net.dir.join("deny.txt"),
        format!("# sanctions\n* {denied}\n"),
    )
    .unwrap();

    let unit = 1_000_000u64; // TUSD has 6 decimals
    let over_budget: Vec<(Address, u64)> = (0..60)
        .map(|i| (recipient(100 + i), 900_000 * unit))
        .collect();
    let mut foreign = batch(
        &net,
        "devnet-a",
        B256::repeat_byte(0x33),
        &[(recipient(2), unit)],
    );
    if let Attestation::PayoutBatch { batcher, .. } = &mut foreign {
        *batcher = recipient(999);
    }
    let mut other_chain = batch(
        &net,
        "devnet-a",
        B256::repeat_byte(0x44),
        &[(recipient(3), unit)],
    );
    if let Attestation::PayoutBatch { chain_id, .. } = &mut other_chain {
        *chain_id = 1;
    }
    let second_content = batch(&net, "devnet-a", fair_id, &[(recipient(4), 5_000_000)]);
    let cases: Vec<(&str, Attestation, &str)> = vec![
        (
            "over budget",
            batch(&net, "devnet-b", B256::repeat_byte(0x22), &over_budget),
            "budget",
        ),
        (
            "item over its cap",
            batch(
                &net,
                "devnet-b",
                B256::repeat_byte(0x23),
                &[(recipient(5), 2_000_000 * unit)],
            ),
            "item_cap",
        ),
        (
            "deny-listed recipient",
            batch(
                &net,
                "devnet-c",
                B256::repeat_byte(0x24),
                &[(recipient(6), unit), (denied, unit)],
            ),
            "deny_list",
        ),
        ("foreign contract", foreign, "contract"),
        (
            "treasury funds into a foreign escrow",
            Attestation::TreasuryDeposit {
                chain_id: net.info_of("devnet-a")["chain_id"].as_u64().unwrap(),
                treasury: net.addr("devnet-a", "treasury"),
                op_id: B256::repeat_byte(0x66),
                escrow: recipient(998),
                token: net.addr("devnet-a", "token"),
                amount: U256::from(unit),
                destination_chain_id: net.info_of("devnet-b")["chain_id"].as_u64().unwrap(),
                recipient: recipient(8),
                deadline: switchyard_core::now_ms() / 1000 + 600,
            },
            "contract",
        ),
        ("another chain id", other_chain, "chain"),
        (
            "second payload for a used batch id",
            second_content,
            "fence",
        ),
    ];
    for (what, message, rule) in &cases {
        for m in &set {
            let got = send(&m.url, &ask(m, message)).await;
            assert_eq!(got, Err((4403, (*rule).to_owned())), "{}: {what}", m.name);
        }
    }
    // Stale, replayed, addressed to another co-signer, signed by a key it
    // does not know.
    let stranger = Eip712Signer::from_hex("k", &"42".repeat(32)).unwrap();
    let small = batch(
        &net,
        "devnet-a",
        B256::repeat_byte(0x55),
        &[(recipient(7), unit)],
    );
    for (i, m) in set.iter().enumerate() {
        let stale = SignRequest::new(&me, m.address, now() - 120_000, small.clone()).unwrap();
        assert_eq!(
            send(&m.url, &stale).await,
            Err((4403, "stale".into())),
            "{}",
            m.name
        );
        assert_eq!(
            send(&m.url, &fair_reqs[i]).await,
            Err((4403, "replay".into())),
            "{}: the very request again",
            m.name
        );
        let elsewhere =
            SignRequest::new(&me, set[(i + 1) % 3].address, now(), small.clone()).unwrap();
        assert_eq!(
            send(&m.url, &elsewhere).await,
            Err((4403, "audience".into())),
            "{}",
            m.name
        );
        let forged = SignRequest::new(&stranger, m.address, now(), small.clone()).unwrap();
        assert_eq!(
            send(&m.url, &forged).await,
            Err((4403, "auth".into())),
            "{}",
            m.name
        );
    }

    // The daemon's environment holds no key that moves funds: its fee key
    // holds no token anywhere, and neither a signer key nor the
    // co-signers' passphrase is in it.
    let env = std::fs::read_to_string(net.dir.join("env")).unwrap();
    assert!(
        !env.contains("PASSPHRASE") && !env.contains("SIGNER_KEY"),
        "{env}"
    );
    for chain in ["devnet-a", "devnet-b", "devnet-c"] {
        assert_eq!(
            net.balance(chain, &net.relayer()).await,
            U256::ZERO,
            "{chain}: the fee key holds no float"
        );
    }

    // Each co-signer audited every refusal, with its rule, and signed the
    // fair batch only.
    for m in &set {
        let log = audit(m);
        let rules: Vec<&str> = log
            .iter()
            .filter(|e| e["outcome"] == "refused")
            .map(|e| e["rule"].as_str().unwrap())
            .collect();
        for (rule, n) in [
            ("budget", 1),
            ("item_cap", 1),
            ("deny_list", 1),
            ("contract", 2),
            ("chain", 1),
            ("fence", 1),
            ("stale", 1),
            ("replay", 1),
            ("audience", 1),
            ("auth", 1),
        ] {
            assert_eq!(
                rules.iter().filter(|r| **r == rule).count(),
                n,
                "{}: {n} refusal(s) under {rule} in {log:?}",
                m.name
            );
        }
        let signed: Vec<&Value> = log.iter().filter(|e| e["outcome"] == "signed").collect();
        assert_eq!(signed.len(), 1, "{}: {log:?}", m.name);
        assert_eq!(signed[0]["fence"].as_str(), Some(fair.fence().as_str()));
    }
}

async fn states(c: &HttpClient, ids: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for id in ids {
        let s = call(c, "payout_status", json!({ "id": id })).await.unwrap();
        out.push((
            s["state"].as_str().unwrap().to_owned(),
            s["reason"].as_str().unwrap_or_default().to_owned(),
        ));
    }
    out
}

async fn wait_for(
    c: &HttpClient,
    ids: &[String],
    what: &str,
    ok: impl Fn(&(String, String)) -> bool,
) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let s = states(c, ids).await;
        if s.iter().all(&ok) {
            return s;
        }
        assert!(Instant::now() < deadline, "{what}: {s:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_of_three_settle_with_one_down_and_hold_with_two_down() {
    let net = Devnet::up("cosigner-down");
    let set = members(&net);
    let pids: Vec<u32> = net.info["cosigners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["pid"].as_u64().unwrap() as u32)
        .collect();
    let d = Daemon::start(&net, None);
    let c = d.client();
    let submit = |key: &str, n: u64| {
        json!({ "idempotency_key": key, "items": (0..n).map(|i| json!({
            "to": "devnet-b:TUSD",
            "recipient": format!("0x{:040x}", 0xd0_0000u64 + (key.len() as u64) * 1000 + i),
            "amount": "2.5",
        })).collect::<Vec<_>>() })
    };

    kill(pids[2], "-KILL");
    let r = call(&c, "payout_submit", submit("one-down", 3))
        .await
        .unwrap();
    let ids: Vec<String> = serde_json::from_value(r["ids"].clone()).unwrap();
    wait_for(&c, &ids, "settled with one co-signer down", |(s, _)| {
        s == "final"
    })
    .await;

    kill(pids[1], "-KILL");
    let r = call(&c, "payout_submit", submit("two-down-now", 2))
        .await
        .unwrap();
    let ids: Vec<String> = serde_json::from_value(r["ids"].clone()).unwrap();
    let held = wait_for(&c, &ids, "held while two are down", |(s, _)| s == "held").await;
    for (_, why) in &held {
        assert!(
            why.contains("waiting for signatures")
                && why.contains("1 of the 2")
                && why.contains(&set[1].name),
            "{why}"
        );
    }
    // Still held a while later: nothing is given up on for it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(states(&c, &ids).await.iter().all(|(s, _)| s == "held"));

    let mut back = restart(&net, &set[1]);
    wait_for(&c, &ids, "settled once one is back", |(s, _)| s == "final").await;
    for (i, id) in ids.iter().enumerate() {
        let s = call(&c, "payout_status", json!({ "id": id }))
            .await
            .unwrap();
        let to = format!("0x{:040x}", 0xd0_0000u64 + 12 * 1000 + i as u64);
        assert_eq!(s["recipient"].as_str().unwrap().to_lowercase(), to);
        assert_eq!(net.balance("devnet-b", &to).await, U256::from(2_500_000u64));
    }
    let _ = back.kill();
    let _ = back.wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cosigner_killed_mid_request_never_signs_a_second_content_for_a_fence() {
    let net = Devnet::up("cosigner-crash");
    let set = members(&net);
    let m = &set[0];
    let me = identity(&net);
    let pid = net.info["cosigners"][0]["pid"].as_u64().unwrap() as u32;
    kill(pid, "-KILL");
    let mut child = restart(&net, m);
    let mut answered_first = 0;
    for round in 0..8u64 {
        let id = B256::from(U256::from(0xf00d_0000u64 + round));
        let first = batch(&net, "devnet-a", id, &[(recipient(round), 1_000_000)]);
        let second = batch(&net, "devnet-a", id, &[(recipient(500 + round), 1_000_000)]);
        let req =
            SignRequest::new(&me, m.address, switchyard_core::now_ms(), first.clone()).unwrap();
        let url = m.url.clone();
        let inflight = tokio::spawn(async move { send(&url, &req).await });
        // Kill it at a different moment each round, the request in flight.
        tokio::time::sleep(Duration::from_millis(round * 7)).await;
        let _ = child.kill();
        let _ = child.wait();
        let got_first = inflight.await.unwrap();
        child = restart(&net, m);
        let again =
            SignRequest::new(&me, m.address, switchyard_core::now_ms(), second.clone()).unwrap();
        let got_second = send(&m.url, &again).await;
        match &got_first {
            Ok(_) => {
                answered_first += 1;
                assert_eq!(got_second, Err((4403, "fence".into())), "round {round}");
            }
            Err(_) => {
                // Not answered: either not recorded (then the other content
                // may be signed, the first never having left) or recorded
                // (then refused).
                assert!(
                    matches!(&got_second, Ok(_) | Err((4403, _))),
                    "round {round}: {got_second:?}"
                );
            }
        }
        // Whatever happened, asking for the first content now gives the
        // recorded signature or a refusal, never a fresh signature of a
        // second content: at most one content per fence was ever signed.
        let third =
            SignRequest::new(&me, m.address, switchyard_core::now_ms(), first.clone()).unwrap();
        let got_third = send(&m.url, &third).await;
        assert!(
            got_third.is_err() || got_second.is_err(),
            "round {round}: both contents signed ({got_second:?}, {got_third:?})"
        );
        if let (Ok(a), Ok(b)) = (&got_first, &got_third) {
            assert_eq!(
                a, b,
                "round {round}: the recorded signature, the same bytes"
            );
        }
    }
    let signed = audit(m)
        .into_iter()
        .filter(|e| e["outcome"] == "signed")
        .count();
    assert!(signed <= 8, "{signed} signatures for 8 fences");
    eprintln!("{answered_first} of 8 first requests answered before the kill");
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_whose_deadline_passes_while_cosigners_are_down_is_paid_in_a_new_one() {
    let net = Devnet::up("cosigner-expiry");
    net.edit_config(|c| format!("{c}\n[relayer.batch]\nttl_s = 60\n"));
    let set = members(&net);
    let pids: Vec<u32> = net.info["cosigners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["pid"].as_u64().unwrap() as u32)
        .collect();
    let d = Daemon::start(&net, None);
    let c = d.client();
    kill(pids[1], "-KILL");
    kill(pids[2], "-KILL");
    let who = "0x00000000000000000000000000000000000e7e11";
    let r = call(
        &c,
        "payout_submit",
        json!({ "idempotency_key": "expiring", "items": [{ "to": "devnet-b:TUSD", "recipient": who, "amount": "4" }] }),
    )
    .await
    .unwrap();
    let ids: Vec<String> = serde_json::from_value(r["ids"].clone()).unwrap();
    wait_for(&c, &ids, "held while two are down", |(s, _)| s == "held").await;
    let first_batch = call(&c, "payout_status", json!({ "id": ids[0] }))
        .await
        .unwrap()["batch_id"]
        .clone();
    // Past the batch's deadline (60 s, the shortest allowed), unsigned:
    // one co-signer comes back.
    tokio::time::sleep(Duration::from_secs(62)).await;
    let mut back = restart(&net, &set[1]);
    wait_for(&c, &ids, "paid in a new batch", |(s, _)| s == "final").await;
    let s = call(&c, "payout_status", json!({ "id": ids[0] }))
        .await
        .unwrap();
    assert_ne!(s["batch_id"], first_batch, "{s}");
    assert_eq!(net.balance("devnet-b", who).await, U256::from(4_000_000u64));
    let _ = back.kill();
    let _ = back.wait();
}
