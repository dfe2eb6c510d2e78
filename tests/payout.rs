//! Merchant payouts end to end: the real daemon on three anvils with the
//! embedded store. Intake is idempotent (also under concurrent duplicates),
//! items on three chains settle in one batch transaction per chain, bad
//! input is refused naming the field with nothing stored, and SIGKILL at
//! every step of a batch's life loses nothing and pays nothing twice.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::{Daemon, Devnet, amount, call};
use jsonrpsee::http_client::HttpClient;
use serde_json::{Value, json};
use switchyard_api::PayoutApiClient;
use switchyard_api::payout::ListParams;
use switchyard_core::U256;

fn items(tag: u64, n: u64) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({
                "to": format!("devnet-{}:TUSD", ["a", "b", "c"][(i % 3) as usize]),
                "recipient": format!("0x{:040x}", (tag << 32) + i + 1),
                "amount": format!("{}.{:02}", 1 + i % 9, i % 100),
                "memo": format!("invoice {tag}-{i}"),
            })
        })
        .collect()
}

/// Every payout, page by page through the generated client, as the wire
/// shows them.
async fn all(c: &HttpClient) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = c
            .payout_list(ListParams {
                state: None,
                cursor: cursor.take(),
                limit: Some(1000),
            })
            .await
            .unwrap();
        out.extend(page.items.iter().map(|p| serde_json::to_value(p).unwrap()));
        match page.next_cursor {
            Some(n) => cursor = Some(n),
            None => return out,
        }
    }
}

async fn wait_final(c: &HttpClient, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let items = all(c).await;
        let mut states = BTreeMap::new();
        for it in &items {
            *states
                .entry(it["state"].as_str().unwrap().to_owned())
                .or_insert(0) += 1;
        }
        if states.get("final") == Some(&n) {
            return items;
        }
        assert!(
            !states.contains_key("failed"),
            "a payout failed: {:#}",
            items.iter().find(|i| i["state"] == "failed").unwrap()
        );
        assert!(Instant::now() < deadline, "not final: {states:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every item's recipient holds exactly its amount, and each chain paid in
/// as few transactions as batches allow.
async fn paid_exactly_once(net: &Devnet, items: &[Value]) {
    for it in items {
        let chain = it["to"].as_str().unwrap().split(':').next().unwrap();
        let got = net.balance(chain, it["recipient"].as_str().unwrap()).await;
        assert_eq!(got, amount(&it["amount_base"]), "recipient of {}", it["id"]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_merchant_batch_across_three_chains_settles_one_transaction_per_chain() {
    let net = Devnet::up("payouts");
    let d = Daemon::start(&net, None);
    let c = d.client();
    let body = json!({ "idempotency_key": "merchant-1", "items": items(1, 300) });

    // Eight concurrent submissions of the same request: one creates, all
    // get the same ids.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let c = d.client();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            call(&c, "payout_submit", body).await.unwrap()
        }));
    }
    let mut created = 0;
    let mut ids = BTreeSet::new();
    for t in tasks {
        let r = t.await.unwrap();
        created += usize::from(r["created"] == true);
        ids.insert(r["ids"].to_string());
    }
    assert_eq!((created, ids.len()), (1, 1), "one request, one set of ids");
    // The same key with another body is refused; nothing new is stored.
    let mut other = body.clone();
    other["items"][0]["amount"] = json!("1000");
    let (code, data) = call(&c, "payout_submit", other).await.unwrap_err();
    assert_eq!(
        (code, data["field"].clone()),
        (4009, json!("idempotency_key"))
    );

    let done = wait_final(&c, 300).await;
    paid_exactly_once(&net, &done).await;
    // One batch transaction per chain: 100 items each, under the 200 cap.
    let mut txs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for it in &done {
        txs.entry(it["to"].as_str().unwrap().to_owned())
            .or_default()
            .insert(it["tx"].as_str().unwrap().to_owned());
    }
    assert_eq!(txs.len(), 3);
    assert!(txs.values().all(|t| t.len() == 1), "{txs:?}");

    // Status of one item, and cancelling after the fact is refused.
    let first: Vec<String> = serde_json::from_str(ids.iter().next().unwrap()).unwrap();
    let s = call(&c, "payout_status", json!({ "id": first[4] }))
        .await
        .unwrap();
    assert_eq!(
        (s["state"].clone(), s["index"].clone()),
        (json!("final"), json!(4))
    );
    assert_eq!(s["memo"], "invoice 1-4");
    let r = call(&c, "payout_cancel", json!({ "id": first[4] }))
        .await
        .unwrap();
    assert_eq!(
        (r["cancelled"].clone(), r["state"].clone()),
        (json!(false), json!("final"))
    );

    // A fresh item cancelled before its batch is never paid.
    let one = json!({ "idempotency_key": "merchant-2", "items": [{
        "to": "devnet-b:TUSD", "recipient": "0x00000000000000000000000000000000000bad01", "amount": "5"
    }]});
    let r = call(&c, "payout_submit", one).await.unwrap();
    let id = r["ids"][0].as_str().unwrap().to_owned();
    let r = call(&c, "payout_cancel", json!({ "id": id }))
        .await
        .unwrap();
    assert_eq!(r["cancelled"], true);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let s = call(&c, "payout_status", json!({ "id": id }))
        .await
        .unwrap();
    assert_eq!(s["state"], "cancelled");
    assert_eq!(
        net.balance("devnet-b", "0x00000000000000000000000000000000000bad01")
            .await,
        U256::ZERO
    );

    // Filtering by state pages through the store.
    let finals = call(
        &c,
        "payout_list",
        json!({ "state": "final", "limit": 1000 }),
    )
    .await
    .unwrap();
    assert_eq!(finals["items"].as_array().unwrap().len(), 300);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_payouts_get_typed_errors_naming_the_field_and_store_nothing() {
    let net = Devnet::up("fuzz");
    let d = Daemon::start(&net, None);
    let c = d.client();
    let good = || json!({ "to": "devnet-a:TUSD", "recipient": "0x00000000000000000000000000000000000000aa", "amount": "1.5" });
    let with = |field: &str, v: Value| {
        let mut it = good();
        it[field] = v;
        json!({ "idempotency_key": "bad", "items": [good(), it] })
    };
    let huge: Vec<Value> = (0..5001).map(|_| good()).collect();
    let cases: Vec<(Value, i32, &str)> = vec![
        (json!({ "idempotency_key": "bad" }), -32602, "items"),
        (
            json!({ "idempotency_key": 7, "items": [good()] }),
            -32602,
            "idempotency_key",
        ),
        (
            json!({ "idempotency_key": "bad", "items": "all" }),
            -32602,
            "items",
        ),
        (
            json!({ "idempotency_key": "bad", "items": [] }),
            4001,
            "items",
        ),
        (
            json!({ "idempotency_key": "bad", "items": huge }),
            4001,
            "items",
        ),
        (
            json!({ "idempotency_key": "", "items": [good()] }),
            4001,
            "idempotency_key",
        ),
        (
            json!({ "idempotency_key": "bad", "items": [good()], "extra": 1 }),
            -32602,
            "extra",
        ),
        (with("amount", json!(5)), -32602, "items[1].amount"),
        (with("amount", json!("-5")), 4001, "items[1].amount"),
        (with("amount", json!("0")), 4001, "items[1].amount"),
        (with("amount", json!("0.0000001")), 4001, "items[1].amount"),
        (with("amount", json!("1e6")), 4001, "items[1].amount"),
        (
            with(
                "amount",
                json!(
                    "99999999999999999999999999999999999999999999999999999999999999999999999999999999"
                ),
            ),
            4001,
            "items[1].amount",
        ),
        (with("recipient", json!("0x12")), 4001, "items[1].recipient"),
        (
            with(
                "recipient",
                json!("0x0000000000000000000000000000000000000000"),
            ),
            4001,
            "items[1].recipient",
        ),
        (
            with(
                "recipient",
                json!("0x00000000000000000000000000000000C0FFee00"),
            ),
            4001,
            "items[1].recipient",
        ),
        (
            with(
                "recipient",
                json!("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"),
            ),
            4001,
            "items[1].recipient",
        ),
        (
            with("to", json!("devnet-z:TUSD")),
            4002,
            "items[1].to.chain",
        ),
        (
            with("to", json!("devnet-a:USDC")),
            4002,
            "items[1].to.asset",
        ),
        (with("to", json!("nonsense")), 4001, "items[1].to"),
        (with("memo", json!("x".repeat(300))), 4001, "items[1].memo"),
        (with("colour", json!("red")), -32602, "items[1].colour"),
    ];
    for (params, code, field) in cases {
        let (got, data) = match call(&c, "payout_submit", params.clone()).await {
            Ok(v) => panic!("accepted {params}: {v}"),
            Err(e) => e,
        };
        assert_eq!(got, code, "{params}: {data}");
        assert_eq!(data["field"], field, "{params}: {data}");
    }
    // Then 400 random mutations of a good request: a random field of a
    // random item gets a random JSON value (or disappears), or a random
    // top-level field does. Each answer is a typed error naming a field.
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let junk = |rng: &mut rand::rngs::StdRng| -> Value {
        match rng.random_range(0..12) {
            0 => Value::Null,
            1 => json!(rng.random::<bool>()),
            2 => json!(rng.random::<i64>()),
            3 => json!(rng.random::<f64>() * 1e30),
            4 => json!([1, "x", null]),
            5 => json!({ "nested": { "deep": [] } }),
            6 => json!("x".repeat(rng.random_range(0..5000))),
            7 => json!(format!("-{}", rng.random::<u32>())),
            8 => json!(format!("{}.{}", rng.random::<u64>(), rng.random::<u64>())),
            9 => json!(format!("0x{:x}", rng.random::<u128>())),
            10 => json!("devnet-a:TUSD\u{0}"),
            _ => json!("\u{202e}\u{1f4b8}"),
        }
    };
    // The few junk values that happen to be valid for an optional field
    // (null, a short memo) are made invalid, so every request must fail.
    let invalid = |field: &str, v: Value| -> Value {
        match (field, &v) {
            ("memo" | "source" | "mode", Value::Null) => json!(5),
            ("memo", Value::String(m)) if m.len() <= 256 => json!("m".repeat(257)),
            ("idempotency_key", Value::String(k))
                if (1..=128).contains(&k.len()) && k.chars().all(|c| c.is_ascii_graphic()) =>
            {
                json!("")
            }
            _ => v,
        }
    };
    for _ in 0..400 {
        let mut body = json!({ "idempotency_key": "fuzz", "items": [good(), good(), good()] });
        if rng.random_bool(0.8) {
            let i = rng.random_range(0..3);
            let field = ["to", "recipient", "amount", "memo", "surprise"][rng.random_range(0..5)];
            if rng.random_bool(0.2) {
                body["items"][i].as_object_mut().unwrap().remove(field);
                if field == "memo" || field == "surprise" {
                    // Removing an optional field alone is fine: break it otherwise.
                    body["items"][i]["amount"] = json!("0");
                }
            } else {
                body["items"][i][field] = invalid(field, junk(&mut rng));
            }
        } else {
            let field = ["idempotency_key", "items", "source", "mode"][rng.random_range(0..4)];
            body[field] = invalid(field, junk(&mut rng));
        }
        match call(&c, "payout_submit", body.clone()).await {
            Ok(v) => panic!("accepted {body}: {v}"),
            Err((code, data)) => {
                assert!(
                    [-32602, 4001, 4002, 4005].contains(&code),
                    "{code} for {body}"
                );
                assert!(data["field"].is_string(), "no field for {body}: {data}");
            }
        }
    }
    let stored = call(&c, "payout_list", json!({})).await.unwrap();
    assert_eq!(
        stored["items"].as_array().unwrap().len(),
        0,
        "nothing stored"
    );
    // The daemon is alive and still takes a good request.
    let ok = call(
        &c,
        "payout_submit",
        json!({ "idempotency_key": "good", "items": [good()] }),
    )
    .await
    .unwrap();
    assert_eq!(ok["created"], true);
    // By position too, as route_quote is: the id alone.
    use jsonrpsee::core::client::ClientT;
    let id = ok["ids"][0].as_str().unwrap().to_owned();
    let v: Value = c
        .request("payout_status", jsonrpsee::rpc_params![id.clone()])
        .await
        .unwrap();
    assert_eq!(v["id"], id.as_str());
    // The amount in both units: human as submitted, and base units.
    assert_eq!(v["amount"], "1.5");
    assert_eq!(v["amount_base"], "1500000");
    // A wrong shape is answered in the API's words, no Rust type names.
    for params in [
        jsonrpsee::rpc_params![id.clone(), 2],
        jsonrpsee::rpc_params![json!(["nested"])],
    ] {
        let e = c
            .request::<Value, _>("payout_status", params)
            .await
            .unwrap_err();
        let text = e.to_string();
        assert!(
            !text.contains("IdParams") && !text.contains("struct"),
            "{text}"
        );
    }
    let e = c
        .request::<Value, _>("payout_status", jsonrpsee::rpc_params![id.clone(), 2])
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("an object {id} or an array [id]"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_every_step_of_a_batch_loses_nothing_and_pays_once() {
    let net = Devnet::up("payout-crash");
    let body = json!({ "idempotency_key": "crashy", "items": items(2, 60) });
    // Each drill kills the daemon at one step; the next daemon resumes
    // from the store and is killed at the next step.
    let drills = [
        "batch-written",
        "batch-submitted",
        "signed:payout-batch",
        "broadcast:payout-batch",
    ];
    let mut ids = None;
    for (n, drill) in drills.iter().enumerate() {
        let d = Daemon::start(&net, Some(drill));
        if n == 0 {
            let r = call(&d.client(), "payout_submit", body.clone())
                .await
                .unwrap();
            ids = Some(r["ids"].clone());
        }
        d.killed();
    }
    let d = Daemon::start(&net, None);
    let c = d.client();
    // Resubmitting after all that is the same request.
    let again = call(&c, "payout_submit", body).await.unwrap();
    assert_eq!(
        (again["created"].clone(), Some(again["ids"].clone())),
        (json!(false), ids)
    );
    let done = wait_final(&c, 60).await;
    paid_exactly_once(&net, &done).await;
}

/// A webhook receiver: records every request; answers 500 to the first
/// one, 200 to the rest.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;

fn receiver() -> (String, Seen) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = std::sync::Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            let mut body = vec![0u8; len];
            reader.read_exact(&mut body).unwrap();
            let first = {
                let mut l = log.lock().unwrap();
                l.push((head, String::from_utf8(body).unwrap()));
                l.len() == 1
            };
            let status = if first {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (url, seen)
}

fn header<'a>(head: &'a str, name: &str) -> &'a str {
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then_some(v.trim())
        })
        .unwrap_or_else(|| panic!("no {name} header in {head}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn websocket_subscribers_and_signed_webhooks_see_every_payout_to_final() {
    use hmac::{Hmac, Mac};
    use jsonrpsee::core::client::SubscriptionClientT;
    use jsonrpsee::ws_client::WsClientBuilder;
    use sha2::Sha256;

    let net = Devnet::up("push");
    let (url, seen) = receiver();
    let secret = "whsec-test-secret";
    let cfg = net.dir.join("switchyard.toml");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!(
        "\n[relayer.webhook]\nurl = \"{url}\"\nsecret_env = \"SWITCHYARD_WEBHOOK_SECRET\"\nmax_attempts = 5\n"
    ));
    std::fs::write(&cfg, text).unwrap();
    let d = Daemon::start_env(&net, None, &[("SWITCHYARD_WEBHOOK_SECRET", secret)]);
    let c = d.client();

    let ws = WsClientBuilder::default()
        .build(format!("ws://{}", d.addr))
        .await
        .unwrap();
    let mut p = jsonrpsee::core::params::ObjectParams::new();
    p.insert("idempotency_key", "push-1").unwrap();
    let mut sub = ws
        .subscribe::<Value, _>("payout_subscribe", p, "payout_unsubscribe")
        .await
        .unwrap();
    let r = call(
        &c,
        "payout_submit",
        json!({ "idempotency_key": "push-1", "items": items(3, 3) }),
    )
    .await
    .unwrap();
    let ids: Vec<String> = serde_json::from_value(r["ids"].clone()).unwrap();

    // Over WebSocket: each payout's states, in lifecycle order, to final.
    let order = [
        "queued",
        "routed",
        "batched",
        "submitted",
        "confirmed",
        "final",
    ];
    let rank = |s: &str| {
        order
            .iter()
            .position(|o| *o == s)
            .unwrap_or_else(|| panic!("state {s}"))
    };
    let mut states: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while states.len() < 3
        || states
            .values()
            .any(|v| v.last().map(String::as_str) != Some("final"))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        let ev = tokio::time::timeout(left, sub.next())
            .await
            .expect("events stopped before every payout was final")
            .unwrap()
            .unwrap();
        assert_eq!(ev["event"], "payout.updated");
        let id = ev["payout"]["id"].as_str().unwrap().to_owned();
        states
            .entry(id)
            .or_default()
            .push(ev["payout"]["state"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        let s = &states[id];
        assert!(
            s.windows(2).all(|w| rank(&w[0]) < rank(&w[1])),
            "{id}: {s:?}"
        );
    }

    // Webhooks: every request signed; the refused first one retried with
    // the same event id; every payout's final event delivered.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let finals = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, b)| b.contains("\"state\":\"final\""))
            .count();
        if finals >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "webhooks missing");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let requests = seen.lock().unwrap().clone();
    for (head, body) in &requests {
        let sig = header(head, "Switchyard-Signature");
        let (t, v1) = sig.split_once(',').unwrap();
        let t = t.strip_prefix("t=").unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.{body}").as_bytes());
        let want = alloy_primitives::hex::encode(mac.finalize().into_bytes());
        assert_eq!(v1.strip_prefix("v1=").unwrap(), want, "signature of {body}");
    }
    let first_id = header(&requests[0].0, "Switchyard-Event-Id").to_owned();
    let retried = requests
        .iter()
        .filter(|(h, _)| header(h, "Switchyard-Event-Id") == first_id)
        .count();
    assert_eq!(retried, 2, "refused once, then delivered");
    let first: Value = serde_json::from_str(&requests[0].1).unwrap();
    let pid = first["payout"]["id"].as_str().unwrap();
    let dl = call(&c, "payout_deliveries", json!({ "id": pid }))
        .await
        .unwrap();
    let rec = dl["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"].as_i64().map(|i| i.to_string()).as_deref() == Some(first_id.as_str()))
        .unwrap()
        .clone();
    assert_eq!(
        (
            rec["status"].clone(),
            rec["attempts"].clone(),
            rec["last_status"].clone()
        ),
        (json!("delivered"), json!(2), json!(200))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn payouts_beyond_the_float_wait_for_a_routed_top_up_then_settle() {
    let net = Devnet::up("funding");
    let d = Daemon::start(&net, None);
    let c = d.client();
    // 40 x 40 TUSD on devnet-c: 1,600 against a float of 1,000.
    let items: Vec<Value> = (0..40u64)
        .map(|i| {
            json!({
                "to": "devnet-c:TUSD",
                "recipient": format!("0x{:040x}", 0xf00d_0000u64 + i),
                "amount": "40",
            })
        })
        .collect();
    let r = call(
        &c,
        "payout_submit",
        json!({ "idempotency_key": "big", "items": items, "source": "devnet-a:TUSD", "mode": "cheapest" }),
    )
    .await
    .unwrap();
    let ids: Vec<String> = serde_json::from_value(r["ids"].clone()).unwrap();

    // Some wait, naming the transfer that tops the float up.
    let deadline = Instant::now() + Duration::from_secs(30);
    let transfer = loop {
        let last = call(&c, "payout_status", json!({ "id": ids[39] }))
            .await
            .unwrap();
        if let Some(reason) = last["reason"].as_str()
            && let Some(pos) = reason.find("tr_")
        {
            assert_eq!(last["state"], "held");
            break reason[pos..pos + 19].to_owned();
        }
        assert!(Instant::now() < deadline, "no funding transfer: {last}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let t = call(&c, "transfer_status", json!({ "transfer_id": transfer }))
        .await
        .unwrap();
    let hops: Vec<&str> = t["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["bridge"].as_str().unwrap())
        .collect();
    assert_eq!(hops, ["escrow-a-b", "escrow-b-c"], "the cheapest route");
    let batcher = net.info["chains"][2]["payout_batcher"].as_str().unwrap();
    assert_eq!(
        t["hops"][1]["recipient"].as_str().unwrap().to_lowercase(),
        batcher.to_lowercase()
    );
    assert!(amount(&t["hops"][1]["amount_out"]) >= U256::from(600_000_000u64));

    let done = wait_final(&c, 40).await;
    paid_exactly_once(&net, &done).await;
}
