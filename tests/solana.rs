//! Solana payouts end to end: the real daemon on the devnet, its chain
//! `devnet-sol` a real local validator. 100 payouts to fresh wallets settle
//! in as few transactions as fit with each recipient's token account
//! created; a token account given as a wallet is refused at intake; SIGKILL
//! of `serve` after signing, after broadcast and after inclusion pays every
//! item once; an attempt kept from the network until its blockhash expired
//! is proven dead and re-sent under a new fence exactly once.

mod common;

// Named `solana::...`: scripts/test runs these once the local validator is
// built (in the background on a cold machine).
mod solana {
    use crate::common;

    use std::collections::BTreeSet;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use common::{Daemon, Devnet, call};
    use jsonrpsee::http_client::HttpClient;
    use serde_json::{Value, json};
    use switchyard_chains::solana::{
        CommitmentConfig, SolanaChain, SolanaFeePolicy, SolanaKeypair, SolanaPubkey,
        associated_token_account, new_wallet,
    };
    use switchyard_core::chain::vm::PayoutLine;

    /// One devnet with its validator at a time: three validators starting at
    /// once on a 2-core machine can miss their start-up deadline.
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    /// A reader of `devnet-sol` (its key pays nothing).
    fn reader(devnet: &Devnet) -> (SolanaChain, SolanaPubkey) {
        let c = devnet.info_of("devnet-sol");
        let mint: SolanaPubkey = c["token"].as_str().unwrap().parse().unwrap();
        let chain = SolanaChain::with_decimals(
            c["rpc_url"].as_str().unwrap(),
            Arc::new(SolanaKeypair::new()),
            mint,
            6,
            SolanaFeePolicy::default(),
        );
        (chain, mint)
    }

    /// `n` payouts to fresh wallets: (request items, recipients, base units).
    fn fresh(n: u64, tag: u64) -> (Vec<Value>, Vec<SolanaPubkey>, Vec<u128>) {
        let mut items = Vec::new();
        let mut who = Vec::new();
        let mut base = Vec::new();
        for i in 0..n {
            let w = new_wallet();
            let units =
                u128::from(1 + i % 7) * 1_000_000 + u128::from((i * 1013 + tag) % 1_000_000);
            items.push(json!({
                "to": "devnet-sol:TUSD",
                "recipient": w.to_string(),
                "amount": format!("{}.{:06}", units / 1_000_000, units % 1_000_000),
            }));
            who.push(w);
            base.push(units);
        }
        (items, who, base)
    }

    async fn submit(c: &HttpClient, key: &str, items: &[Value]) -> Vec<String> {
        let r = call(
            c,
            "payout_submit",
            json!({ "idempotency_key": key, "items": items }),
        )
        .await
        .unwrap_or_else(|e| panic!("payout_submit: {e:?}"));
        r["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }

    /// The payouts `ids` once every one is final (within `secs`).
    async fn all_final(c: &HttpClient, ids: &[String], secs: u64) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let mut out = Vec::new();
            for id in ids {
                out.push(call(c, "payout_status", json!({ "id": id })).await.unwrap());
            }
            if out.iter().all(|p| p["state"] == "final") {
                return out;
            }
            assert!(
                !out.iter().any(|p| p["state"] == "failed"),
                "a payout failed: {out:?}"
            );
            if Instant::now() > deadline {
                let states: BTreeSet<String> = out
                    .iter()
                    .map(|p| format!("{} {}", p["state"], p["reason"]))
                    .collect();
                panic!("not final within {secs} s: {states:?}");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Each recipient holds exactly its amount.
    async fn paid_exactly(
        chain: &SolanaChain,
        mint: &SolanaPubkey,
        who: &[SolanaPubkey],
        base: &[u128],
    ) {
        for (w, want) in who.iter().zip(base) {
            let got = chain
                .token_account_balance(&associated_token_account(w, mint))
                .await
                .unwrap();
            assert_eq!(got, *want, "recipient {w}");
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_hundred_payouts_to_fresh_wallets_settle_in_as_few_transactions_as_fit() {
        let _one = ONE_AT_A_TIME.lock().await;
        let devnet = Devnet::up_solana("sol-hundred", &[]);
        let d = Daemon::start(&devnet, None);
        let c = d.client();
        let (chain, mint) = reader(&devnet);
        let float: SolanaPubkey = devnet.info_of("devnet-sol")["float"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();

        // A token account's address given as a wallet is refused, naming the
        // field, and nothing is stored.
        let (_, code, data) = match call(
            &c,
            "payout_submit",
            json!({ "idempotency_key": "to-a-token-account", "items": [{
            "to": "devnet-sol:TUSD", "recipient": float.to_string(), "amount": "1" }] }),
        )
        .await
        {
            Err((code, data)) => ((), code, data),
            Ok(v) => panic!("a token account was taken as a wallet: {v}"),
        };
        assert_eq!(code, 4001, "{data}");
        assert_eq!(data["field"], "items[0].recipient", "{data}");
        assert!(
            data["reason"].as_str().unwrap().contains("token account"),
            "{data}"
        );
        let none = call(&c, "payout_list", json!({})).await.unwrap();
        assert_eq!(none["items"].as_array().unwrap().len(), 0);

        let (items, who, base) = fresh(100, 1);
        // How many such lines one transaction holds, computed by the adapter
        // from the real limits (every recipient needs its account created).
        let lines: Vec<PayoutLine> = who
            .iter()
            .zip(&base)
            .enumerate()
            .map(|(i, (w, a))| PayoutLine {
                id: format!("l{i}"),
                recipient: w.to_string(),
                amount: *a,
                memo: None,
            })
            .collect();
        let fit = chain.fit_lines(&lines).await.unwrap();
        assert!((2..100).contains(&fit), "fit {fit}");
        let before = chain.token_account_balance(&float).await.unwrap();
        let ids = submit(&c, "sol-hundred", &items).await;
        let done = all_final(&c, &ids, 240).await;
        paid_exactly(&chain, &mint, &who, &base).await;
        let txs: BTreeSet<&str> = done.iter().map(|p| p["tx"].as_str().unwrap()).collect();
        assert_eq!(txs.len(), 100usize.div_ceil(fit), "transactions: {txs:?}");
        let after = chain.token_account_balance(&float).await.unwrap();
        assert_eq!(
            before - after,
            base.iter().sum::<u128>(),
            "the float paid exactly the items"
        );
    }

    /// Waits until the daemon's drill killed it, then starts it again and
    /// waits for `ids`.
    async fn drill(devnet: &Devnet, stage: &str, tag: u64) {
        let (chain, mint) = reader(devnet);
        let (items, who, base) = fresh(12, tag);
        let d = Daemon::start(devnet, Some(&format!("{stage}:vb_")));
        let ids = submit(&d.client(), &format!("drill-{stage}"), &items).await;
        d.killed();
        let d = Daemon::start(devnet, None);
        // The same request again is the same payouts, not new ones.
        assert_eq!(
            submit(&d.client(), &format!("drill-{stage}"), &items).await,
            ids
        );
        all_final(&d.client(), &ids, 180).await;
        paid_exactly(&chain, &mint, &who, &base).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn sigkill_after_signing_after_broadcast_and_after_inclusion_pays_every_item_once() {
        let _one = ONE_AT_A_TIME.lock().await;
        let devnet = Devnet::up_solana("sol-drills", &[]);
        let (chain, _) = reader(&devnet);
        let float: SolanaPubkey = devnet.info_of("devnet-sol")["float"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let before = chain.token_account_balance(&float).await.unwrap();
        let mut paid = 0u128;
        for (n, stage) in ["signed", "broadcast", "included"].into_iter().enumerate() {
            drill(&devnet, stage, 10 + n as u64).await;
            paid += fresh_sum(12, 10 + n as u64);
        }
        let after = chain.token_account_balance(&float).await.unwrap();
        assert_eq!(before - after, paid, "the float paid each item once");
    }

    /// What [`fresh`]`(n, tag)` pays in all.
    fn fresh_sum(n: u64, tag: u64) -> u128 {
        (0..n)
            .map(|i| u128::from(1 + i % 7) * 1_000_000 + u128::from((i * 1013 + tag) % 1_000_000))
            .sum()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_attempt_kept_from_the_network_past_its_blockhash_is_proven_dead_and_resent_once() {
        let _one = ONE_AT_A_TIME.lock().await;
        let devnet = Devnet::up_solana("sol-expired", &[]);
        let (chain, mint) = reader(&devnet);
        let (items, who, base) = fresh(5, 77);
        // Killed right after the attempt is signed and stored: it never
        // reached the network.
        let d = Daemon::start(&devnet, Some("signed:vb_"));
        let ids = submit(&d.client(), "expired", &items).await;
        d.killed();
        // Down until the attempt's blockhash can no longer land: 150 blocks
        // past the one it was signed at, at the finalized height.
        let store = rusqlite::Connection::open(devnet.dir.join("switchyard.db")).unwrap();
        let valid_until: i64 = store
            .query_row("SELECT valid_until FROM vm_attempt", [], |r| r.get(0))
            .unwrap();
        // 150 blocks at 400 ms, then finality; slower when the machine is
        // busy (every test binary's validators share its cores).
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let h = chain
                .rpc()
                .get_block_height_with_commitment(CommitmentConfig::finalized())
                .await
                .unwrap();
            if h > u64::try_from(valid_until).unwrap() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the blockhash never expired: finalized height {h}, valid until {valid_until}"
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let d = Daemon::start(&devnet, None);
        all_final(&d.client(), &ids, 180).await;
        paid_exactly(&chain, &mint, &who, &base).await;
        let attempts: Vec<(String, Option<String>)> = {
            let mut stmt = store
                .prepare("SELECT state, dead_proof FROM vm_attempt ORDER BY id")
                .unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        assert_eq!(attempts.len(), 2, "{attempts:?}");
        assert_eq!(attempts[0].0, "dead", "{attempts:?}");
        assert!(attempts[0].1.is_some(), "the first attempt's proof is kept");
        assert_eq!(attempts[1].0, "included", "{attempts:?}");
    }

    /// `transfer_status` until the transfer is done (within `secs`).
    async fn transfer_done(c: &HttpClient, id: &str, secs: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let t = call(c, "transfer_status", json!({ "transfer_id": id }))
                .await
                .unwrap();
            match t["state"].as_str().unwrap() {
                "done" => return t,
                "failed" => panic!("transfer failed: {t:#}"),
                _ => {}
            }
            assert!(Instant::now() < deadline, "transfer not done: {t:#}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The quote's cheapest route: (bridges, amount out in base units).
    async fn quoted(c: &HttpClient, from: &str, to: &str, amount: &str) -> (Vec<String>, u128) {
        let q = call(
            c,
            "route_quote",
            json!({ "from": from, "to": to, "amount": amount, "mode": "cheapest" }),
        )
        .await
        .unwrap();
        let r = &q["routes"][0];
        let bridges = r["legs"]
            .as_array()
            .unwrap_or_else(|| panic!("no route: {q:#}"))
            .iter()
            .map(|l| l["bridge"].as_str().unwrap().to_owned())
            .collect();
        let out = switchyard_core::Amount::parse_decimal(
            "amount_out",
            r["amount_out"].as_str().unwrap(),
            6,
        )
        .unwrap()
        .raw;
        (bridges, u128::try_from(out).unwrap())
    }

    fn units_of(v: &Value) -> u128 {
        v.as_str().unwrap().parse().unwrap()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_transfer_to_solana_and_back_moves_exactly_the_quote_and_a_crash_before_broadcast_releases_once()
     {
        let _one = ONE_AT_A_TIME.lock().await;
        let devnet = Devnet::up_solana("sol-bridge", &[]);
        let (chain, mint) = reader(&devnet);
        let sol = devnet.info_of("devnet-sol");
        let vault: SolanaPubkey = sol["vault"].as_str().unwrap().parse().unwrap();
        let float: SolanaPubkey = sol["float"].as_str().unwrap().parse().unwrap();
        let treasury = devnet.treasury();
        let escrow = devnet.escrow();
        let (vault0, float0) = (
            chain.token_account_balance(&vault).await.unwrap(),
            chain.token_account_balance(&float).await.unwrap(),
        );
        let (treasury0, escrow0) = (
            devnet.balance("devnet-a", &treasury).await,
            devnet.balance("devnet-a", &escrow).await,
        );

        // devnet-a -> devnet-sol, killed right after the release is signed by
        // the vault's signers and stored, before it is broadcast.
        let wallet = new_wallet();
        let d = Daemon::start(&devnet, Some("signed::0:release"));
        let (legs, out) = quoted(&d.client(), "devnet-a:TUSD", "devnet-sol:TUSD", "25").await;
        assert_eq!(legs, ["vault-a-sol"], "the vault bridge is quoted");
        let r = call(
            &d.client(),
            "transfer_submit",
            json!({
                "idempotency_key": "to-sol",
                "from": "devnet-a:TUSD",
                "to": "devnet-sol:TUSD",
                "amount": "25",
                "recipient": wallet.to_string(),
            }),
        )
        .await
        .unwrap();
        let id = r["transfer"]["id"].as_str().unwrap().to_owned();
        d.killed();
        let ata = associated_token_account(&wallet, &mint);
        assert_eq!(
            chain.token_account_balance(&ata).await.unwrap(),
            0,
            "nothing released before the crash"
        );
        let d = Daemon::start(&devnet, None);
        let t = transfer_done(&d.client(), &id, 300).await;
        let hop = &t["hops"][0];
        assert!(hop["vm_release_tx"].is_string(), "{hop:#}");
        assert_eq!(units_of(&hop["amount_out"]), out, "the quote's amount");
        assert_eq!(
            chain.token_account_balance(&ata).await.unwrap(),
            out,
            "paid exactly once, exactly the quote"
        );
        assert_eq!(
            vault0 - chain.token_account_balance(&vault).await.unwrap(),
            out,
            "the vault paid it once"
        );
        let sent = units_of(&hop["amount_in"]);
        assert_eq!(sent, 25_000_000);
        assert_eq!(
            u128::try_from(treasury0 - devnet.balance("devnet-a", &treasury).await).unwrap(),
            sent
        );
        assert_eq!(
            u128::try_from(devnet.balance("devnet-a", &escrow).await - escrow0).unwrap(),
            sent
        );

        // The deposit's receipt stops any second release of it, signed or not:
        // a release of the same deposit is refused by the chain.
        let dep: [u8; 32] = alloy_primitives::hex::decode(
            hop["deposit_id"].as_str().unwrap().trim_start_matches("0x"),
        )
        .unwrap()
        .try_into()
        .unwrap();
        let domain = 31337u64;
        // The release was signed by the co-signers holding the vault's keys
        // (the daemon holds none), each after checking the message: two of
        // them audited a signed vault release of this deposit.
        assert!(
            devnet
                .env()
                .iter()
                .all(|(k, _)| k != "SWITCHYARD_SOLANA_VAULT_KEYS"),
            "the daemon's environment holds no vault key"
        );
        let fence = format!(
            "vault_release:devnet-sol:31337:{}",
            hop["deposit_id"].as_str().unwrap()
        );
        let signed_by: Vec<String> = devnet.info["cosigners"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| {
                let config = std::path::PathBuf::from(c["config"].as_str().unwrap());
                let store =
                    switchyard_cosigner::store::Store::open(&config.with_file_name("cosigner.db"))
                        .unwrap();
                store
                    .audit(0, 10_000)
                    .unwrap()
                    .iter()
                    .any(|e| e.outcome == "signed" && e.fence.as_deref() == Some(fence.as_str()))
            })
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            signed_by.len(),
            2,
            "2 of 3 co-signers signed {fence}: {signed_by:?}"
        );
        let hot = devnet.env_key("SWITCHYARD_SOLANA_KEY");
        let members = devnet.info["cosigners"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    switchyard_cosigner::CosignerEndpoint {
                        name: c["name"].as_str().unwrap().to_owned(),
                        url: c["url"].as_str().unwrap().to_owned(),
                        address: c["address"].as_str().unwrap().parse().unwrap(),
                    },
                    c["solana_key"].as_str().unwrap().parse().unwrap(),
                )
            })
            .collect();
        let cosigners = switchyard_cosigner::RemoteVaultSigners::new(
            switchyard_chains::evm::eip712::Eip712Signer::from_hex(
                "identity",
                &devnet.env_key("SWITCHYARD_IDENTITY_KEY"),
            )
            .unwrap(),
            "devnet-sol",
            members,
            Duration::from_secs(5),
        )
        .unwrap();
        let again = SolanaChain::with_decimals(
            sol["rpc_url"].as_str().unwrap(),
            Arc::new(switchyard_chains::solana::parse_keypair("hot", &hot).unwrap()),
            mint,
            6,
            SolanaFeePolicy::default(),
        )
        .with_vault(vault, Arc::new(cosigners))
        .await
        .unwrap();
        assert!(again.receipt_exists(domain, &dep).await.unwrap());
        use switchyard_core::chain::vm::{VaultRelease, VmLane, VmVault};
        let release_to = |w: &SolanaPubkey| VaultRelease {
            source_domain: domain,
            deposit_id: dep,
            recipient: w.to_string(),
            amount: out,
        };
        let payload = again.release_payload(&release_to(&wallet)).await.unwrap();
        let refused = again.simulate(&payload).await.unwrap_err();
        assert!(refused.is_revert(), "{refused}");
        // A release to someone else for it is refused by the co-signers,
        // before the chain sees it: the message is not the release named.
        let other = new_wallet();
        let (mut plan, check) = again.release_plan(&release_to(&wallet)).await.unwrap();
        let forged = switchyard_chains::solana::vault::Payload {
            plan: {
                let (p, _) = again.release_plan(&release_to(&other)).await.unwrap();
                plan.instructions = p.instructions;
                plan
            },
            release: Some(check),
        };
        let fence = again.fresh_fence().await.unwrap();
        let fees = again.fees().await.unwrap();
        let e = again
            .sign(&forged.encode(), &fence, &fees)
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("refused") && e.to_string().contains("instruction"),
            "{e}"
        );
        // Named truthfully, a release of the deposit to another recipient
        // is refused too: one release content per deposit (the same release
        // again is signed, and refused by the chain: its receipt exists).
        let (p, c) = again.release_plan(&release_to(&other)).await.unwrap();
        let honest = switchyard_chains::solana::vault::Payload {
            plan: p,
            release: Some(c),
        };
        let e = again
            .sign(&honest.encode(), &fence, &fees)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("one content per fence"), "{e}");

        // And back: devnet-sol -> devnet-a, from the hot wallet's float into
        // the vault, released by the EVM escrow on the co-signers' signatures.
        let back_to = "0x00000000000000000000000000000000000B0B01";
        let c = d.client();
        // A token account's address given as the wallet is refused at
        // intake, naming the field; nothing is stored.
        let (code, data) = call(
            &c,
            "transfer_submit",
            json!({
                "idempotency_key": "to-a-token-account",
                "from": "devnet-a:TUSD",
                "to": "devnet-sol:TUSD",
                "amount": "5",
                "recipient": float.to_string(),
            }),
        )
        .await
        .unwrap_err();
        assert_eq!((code, data["field"].clone()), (4001, json!("recipient")));
        let (legs, out_back) = quoted(&c, "devnet-sol:TUSD", "devnet-a:TUSD", "10").await;
        assert_eq!(legs, ["vault-sol-a"]);
        let float1 = chain.token_account_balance(&float).await.unwrap();
        let vault1 = chain.token_account_balance(&vault).await.unwrap();
        let r = call(
            &c,
            "transfer_submit",
            json!({
                "idempotency_key": "from-sol",
                "from": "devnet-sol:TUSD",
                "to": "devnet-a:TUSD",
                "amount": "10",
                "recipient": back_to,
            }),
        )
        .await
        .unwrap();
        let t = transfer_done(&c, r["transfer"]["id"].as_str().unwrap(), 300).await;
        let hop = &t["hops"][0];
        assert!(hop["vm_deposit_tx"].is_string(), "{hop:#}");
        assert_eq!(
            u128::try_from(devnet.balance("devnet-a", back_to).await).unwrap(),
            out_back,
            "the quote's amount arrived"
        );
        assert_eq!(
            float1 - chain.token_account_balance(&float).await.unwrap(),
            10_000_000
        );
        assert_eq!(
            chain.token_account_balance(&vault).await.unwrap() - vault1,
            10_000_000
        );
        assert_eq!(float0, float1, "payouts were not touched");

        // Reconciliation: the float's debits so far were the daemon's own (a
        // deposit into the vault); one made with the hot wallet's key
        // outside the daemon is an `unknown_payout` alert naming it.
        let thief = new_wallet();
        let hot_key = switchyard_chains::solana::parse_keypair(
            "hot",
            &devnet.env_key("SWITCHYARD_SOLANA_KEY"),
        )
        .unwrap();
        let stolen = switchyard_chains::solana::setup::transfer(
            chain.rpc(),
            &hot_key,
            &mint,
            6,
            &thief,
            1_234_567,
        )
        .await
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        let alerts = loop {
            let (status, body) = d.get("/health");
            assert_eq!(status, 200, "{body}");
            let h: Value = serde_json::from_str(&body).unwrap();
            let unknown: Vec<String> = h["latest_alerts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter(|a| a["kind"] == "unknown_payout")
                .map(|a| a["detail"].as_str().unwrap_or_default().to_owned())
                .collect();
            if !unknown.is_empty() || Instant::now() > deadline {
                break unknown;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        assert_eq!(alerts.len(), 1, "only the outside debit: {alerts:?}");
        assert!(
            alerts[0].contains(&stolen.to_string())
                && alerts[0].contains(&format!("1234567 to {thief}")),
            "{alerts:?}"
        );
    }
}
