use super::*;

const BASE: &str = r#"
[[chain]]
id = "eth"
kind = "evm"
chain_id = 1
finality = { tag = "finalized" }
block_time_ms = 12000
native_usd_price = 3000.0

[[chain]]
id = "sol"
kind = "solana"
finality = { commitment = "finalized" }
block_time_ms = 400
native_usd_price = 150.0

[[asset]]
chain = "eth"
symbol = "USDC"
decimals = 6
address = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"

[[asset]]
chain = "sol"
symbol = "USDC"
decimals = 6
address = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"

[[bridge]]
id = "cctp-eth-sol"
protocol = "cctp"
from = "eth:USDC"
to = "sol:USDC"
fee_fixed = "0.5"
fee_bps = 0
eta_s = 1100
success_p = 0.999
min = "1"
max_usd = "10000000"
liquidity_usd = "1000000000"
"#;

#[test]
fn valid_file_builds_indexes() {
    let t = Topology::from_toml(BASE).unwrap();
    assert_eq!(t.chains().len(), 2);
    let b = t.bridge(BridgeIx(0));
    assert_eq!(b.fee_fixed, U256::from(500_000u64));
    assert_eq!(b.min, U256::from(1_000_000u64));
    assert_eq!(t.asset(b.to).key.to_string(), "sol:USDC");
    assert!(t.resolve_asset("from", "eth:USDC").is_ok());
}

fn err_of(text: &str) -> Error {
    Topology::from_toml(text).unwrap_err()
}

#[test]
fn unknown_field_is_refused() {
    let e = err_of(&BASE.replace("fee_bps = 0", "fee_bps = 0\nfee_pct = 1"));
    assert!(e.to_string().contains("fee_pct"), "{e}");
}

#[test]
fn bridge_to_unknown_asset_names_the_field() {
    let e = err_of(&BASE.replace("to = \"sol:USDC\"", "to = \"sol:USDT\""));
    assert_eq!(e.field(), Some("bridge[0].to"));
}

#[test]
fn address_of_the_wrong_kind_names_the_field() {
    let e = err_of(&BASE.replace(
        "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
        "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
    ));
    assert_eq!(e.field(), Some("asset[1].address"));
}

#[test]
fn out_of_range_values_are_refused() {
    assert_eq!(
        err_of(&BASE.replace("fee_bps = 0", "fee_bps = 10000")).field(),
        Some("bridge[0].fee_bps")
    );
    assert_eq!(
        err_of(&BASE.replace("success_p = 0.999", "success_p = 1.5")).field(),
        Some("bridge[0].success_p")
    );
    assert_eq!(
        err_of(&BASE.replace("success_p = 0.999", "success_p = 0.0")).field(),
        Some("bridge[0].success_p")
    );
    assert_eq!(
        err_of(&BASE.replace("fee_fixed = \"0.5\"", "fee_fixed = \"0.0000005\"")).field(),
        Some("bridge[0].fee_fixed")
    );
    assert_eq!(
        err_of(&BASE.replace("max_usd = \"10000000\"", "max_usd = \"-1\"")).field(),
        Some("bridge[0].max_usd")
    );
    assert_eq!(
        err_of(&BASE.replace("chain_id = 1\n", "")).field(),
        Some("chain[0].chain_id")
    );
    assert!(
        err_of(&BASE.replace("decimals = 6", "decimals = 300"))
            .to_string()
            .contains("decimals")
    );
}

#[test]
fn duplicates_are_refused() {
    let dup = format!("{BASE}\n{}", &BASE[BASE.find("[[bridge]]").unwrap()..]);
    assert!(err_of(&dup).to_string().contains("duplicate bridge id"));
}

#[test]
fn usd_price_defaults_to_one_dollar() {
    let t = Topology::from_toml(BASE).unwrap();
    assert_eq!(
        t.assets()[0].usd_price,
        UsdE8::from_price("p", 1.0).unwrap()
    );
}

#[test]
fn shipped_topologies_are_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/topology");
    let main = Topology::load(&dir.join("mainnet.toml")).unwrap();
    assert_eq!(main.chains().len(), 10);
    let bsc_usdt = main.resolve_asset("a", "bsc:USDT").unwrap();
    assert_eq!(main.asset(bsc_usdt).decimals, 18);
    let dev = Topology::load(&dir.join("devnet.toml")).unwrap();
    assert_eq!(dev.chains().len(), 4);
    let evm: Vec<_> = dev.chains().iter().filter_map(|c| c.chain_id).collect();
    let ids: std::collections::HashSet<_> = evm.iter().collect();
    assert_eq!((evm.len(), ids.len()), (3, 3), "distinct chain ids");
    assert!(dev.resolve_asset("a", "devnet-sol:TUSD").is_ok());
    // Bridge domains: an EVM chain's is its chain id; a Solana chain's is
    // derived, stable, above every EVM chain id and still an i64.
    let sol = dev.chain(dev.resolve_chain("c", "devnet-sol").unwrap());
    let d = sol.bridge_domain();
    assert_eq!(d, sol.bridge_domain());
    assert!(d >= 1 << 62 && i64::try_from(d).is_ok(), "{d}");
    let a = dev.chain(dev.resolve_chain("c", "devnet-a").unwrap());
    assert_eq!(a.bridge_domain(), 31337);
    assert!(dev.bridges().iter().any(|b| b.protocol == "vault"));
}

#[test]
fn larger_amounts_wait_for_their_tier_of_confirmations() {
    let text = BASE.replacen(
        "native_usd_price = 3000.0\n",
        "native_usd_price = 3000.0\nconfirmations = [{ min_usd = \"10000\", finality = { blocks = 64 } }, { min_usd = \"1000000\", finality = { blocks = 128 } }]\ncontracts = { escrow = \"0x5FbDB2315678afecb367f032d93F642f64180aa3\" }\n",
        1,
    );
    let t = Topology::from_toml(&text).unwrap();
    let eth = t.chain(ChainIx(0));
    let usd = |s: &str| UsdE8::parse("usd", s).unwrap();
    assert_eq!(
        eth.finality_for(usd("9999.99")),
        Finality::Tag {
            tag: crate::finality::BlockTag::Finalized
        }
    );
    assert_eq!(
        eth.finality_for(usd("10000")),
        Finality::Blocks { blocks: 64 }
    );
    assert_eq!(
        eth.finality_for(usd("5000000")),
        Finality::Blocks { blocks: 128 }
    );
    assert!(eth.escrow.is_some());

    let unordered = BASE.replacen(
        "native_usd_price = 3000.0\n",
        "native_usd_price = 3000.0\nconfirmations = [{ min_usd = \"5\", finality = { blocks = 2 } }, { min_usd = \"5\", finality = { blocks = 3 } }]\n",
        1,
    );
    assert_eq!(
        err_of(&unordered).field(),
        Some("chain[0].confirmations[1].min_usd")
    );
    let bad_contract = BASE.replacen(
        "native_usd_price = 3000.0\n",
        "native_usd_price = 3000.0\ncontracts = { payout_batcher = \"0x12\" }\n",
        1,
    );
    assert_eq!(
        err_of(&bad_contract).field(),
        Some("chain[0].contracts.payout_batcher")
    );
}

#[test]
fn several_rpc_endpoints_are_listed_in_order_and_checked() {
    let with = |line: &str| {
        BASE.replacen(
            "native_usd_price = 3000.0\n",
            &format!("native_usd_price = 3000.0\n{line}\n"),
            1,
        )
    };
    let t = Topology::from_toml(&with(
        r#"rpc_urls = ["http://a.example:8545", "wss://b.example/key"]"#,
    ))
    .unwrap();
    assert_eq!(
        t.chains()[0].rpc_urls,
        ["http://a.example:8545", "wss://b.example/key"]
    );
    let t = Topology::from_toml(&with(r#"rpc_url = "http://a.example:8545""#)).unwrap();
    assert_eq!(t.chains()[0].rpc_urls, ["http://a.example:8545"]);
    let e = err_of(&with(
        "rpc_url = \"http://a.example\"\nrpc_urls = [\"http://b.example\"]",
    ));
    assert_eq!(e.field(), Some("chain[0].rpc_urls"));
    let e = err_of(&with(
        r#"rpc_urls = ["http://a.example", "ftp://user:secret@b.example/x"]"#,
    ));
    assert_eq!(e.field(), Some("chain[0].rpc_urls[1]"));
    assert!(!e.to_string().contains("secret"), "{e}");
    let e = err_of(&with(
        r#"rpc_urls = ["http://a.example", "http://a.example"]"#,
    ));
    assert_eq!(e.field(), Some("chain[0].rpc_urls[1]"));
}

#[test]
fn a_tier_adds_the_blocks_it_waits_beyond_the_base_rule() {
    use crate::finality::{BlockTag, Commitment};
    let t = Topology::from_toml(BASE).unwrap();
    let mut c = t.chain(ChainIx(0)).clone();
    let blocks = |blocks| Finality::Blocks { blocks };
    let finalized = Finality::Tag {
        tag: BlockTag::Finalized,
    };
    // Depth over depth: the difference.
    c.finality = blocks(2);
    assert_eq!(c.extra_wait_blocks(blocks(4), Some(2)), (2, false));
    assert_eq!(
        c.extra_wait_blocks(blocks(1), None),
        (0, false),
        "never less than the base"
    );
    // A tag over a depth base: its lag is not in the reading (that is the
    // depth's), so it is flagged, not guessed.
    c.finality = blocks(12);
    assert_eq!(c.extra_wait_blocks(finalized, Some(12)), (0, true));
    // Depth over the same tag: what the depth waits past the tag's lag.
    c.finality = finalized;
    assert_eq!(c.extra_wait_blocks(blocks(64), Some(64)), (0, false));
    assert_eq!(c.extra_wait_blocks(blocks(128), Some(64)), (63, false));
    // No reading yet: the depth alone, flagged.
    assert_eq!(c.extra_wait_blocks(blocks(128), None), (127, true));
    // A stronger commitment than the base: unknown.
    c.finality = Finality::Commitment {
        commitment: Commitment::Confirmed,
    };
    assert_eq!(
        c.extra_wait_blocks(
            Finality::Commitment {
                commitment: Commitment::Finalized
            },
            None
        ),
        (0, true)
    );
}
