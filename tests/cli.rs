//! End to end: the `switchyard quote` command as a user runs it.

mod common;

use common::{quote, switchyard};
use serde_json::Value;

fn is_decimal(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_digit() || c == '.')
        && s.matches('.').count() <= 1
}

#[test]
fn json_quote_has_the_documented_shape() {
    let out = quote(&[
        "--from",
        "ethereum:USDT",
        "--to",
        "solana:USDC",
        "--amount",
        "2500",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let routes = v["routes"].as_array().unwrap();
    assert!(routes.len() >= 2, "a pareto quote should offer trade-offs");
    for r in routes {
        assert!(is_decimal(r["amount_out"].as_str().unwrap()));
        assert!(r["eta_s"].as_u64().unwrap() > 0);
        let p = r["success_p"].as_f64().unwrap();
        assert!(p > 0.0 && p <= 1.0);
        let legs = r["legs"].as_array().unwrap();
        assert!(!legs.is_empty() && legs.len() <= 4);
        assert_eq!(legs[0]["from"], "ethereum:USDT");
        assert_eq!(legs.last().unwrap()["to"], "solana:USDC");
        assert_eq!(legs.last().unwrap()["amount_out"], r["amount_out"]);
        for w in legs.windows(2) {
            assert_eq!(w[0]["to"], w[1]["from"]);
            assert_eq!(w[0]["amount_out"], w[1]["amount_in"]);
        }
        for l in legs {
            for k in [
                "bridge",
                "from",
                "to",
                "amount_in",
                "amount_out",
                "eta_s",
                "success_p",
            ] {
                assert!(!l[k].is_null(), "leg lacks {k}");
            }
        }
    }
    // Pareto: no returned route is dominated by another.
    let key = |r: &Value| {
        (
            r["amount_out"].as_str().unwrap().parse::<f64>().unwrap(),
            r["eta_s"].as_u64().unwrap(),
            r["success_p"].as_f64().unwrap(),
        )
    };
    for a in routes {
        for b in routes {
            let (ka, kb) = (key(a), key(b));
            let dominates = ka.0 >= kb.0 && ka.1 <= kb.1 && ka.2 >= kb.2 && ka != kb;
            assert!(!dominates, "{ka:?} dominates {kb:?}");
        }
    }
    let excluded = v["excluded"].as_array().unwrap();
    assert!(!excluded.is_empty());
    for x in excluded {
        assert!(x["bridge"].is_string() && x["reason"].is_string());
    }
}

#[test]
fn single_objective_modes_return_one_route() {
    for mode in ["cheapest", "fastest", "safest", "weighted"] {
        let out = quote(&[
            "--from",
            "tron:USDT",
            "--to",
            "base:USDC",
            "--amount",
            "10000",
            "--mode",
            mode,
            "--json",
        ]);
        assert!(
            out.status.success(),
            "{mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["routes"].as_array().unwrap().len(), 1, "{mode}");
    }
}

#[test]
fn a_big_transfer_is_routed_around_small_bridges_with_reasons() {
    let out = quote(&[
        "--from",
        "ton:USDT",
        "--to",
        "tron:USDT",
        "--amount",
        "200000",
        "--json",
    ]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let sym = v["excluded"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["bridge"] == "symbiosis-ton-tron-usdt")
        .expect("symbiosis excluded");
    assert_eq!(sym["reason"], "over_max");
    assert!(
        !v["routes"].as_array().unwrap().is_empty(),
        "usdt0 mesh carries it"
    );
}

#[test]
fn human_output_is_a_table() {
    let out = quote(&[
        "--from",
        "bsc:USDT",
        "--to",
        "polygon:USDC",
        "--amount",
        "100",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("100 bsc:USDT -> polygon:USDC, mode pareto: "),
        "{text}"
    );
    let header = text.lines().nth(2).unwrap();
    for col in [
        "#",
        "RECEIVE polygon:USDC",
        "FEE USDT",
        "FEE USD",
        "ETA",
        "SUCCESS",
        "LEGS",
    ] {
        assert!(header.contains(col), "{header}");
    }
    assert!(text.contains("BRIDGE"), "{text}");
}

fn fails_naming(args: &[&str], needle: &str) {
    let out = quote(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "{err:?} should name {needle}");
}

#[test]
fn bad_input_is_one_line_naming_it_with_exit_code_2() {
    fails_naming(
        &[
            "--from",
            "mars:USDT",
            "--to",
            "solana:USDC",
            "--amount",
            "1",
        ],
        "--from chain",
    );
    fails_naming(
        &[
            "--from",
            "ethereum:DAI",
            "--to",
            "solana:USDC",
            "--amount",
            "1",
        ],
        "--from asset",
    );
    fails_naming(
        &["--from", "ethereum:USDT", "--to", "solana", "--amount", "1"],
        "to",
    );
    fails_naming(
        &[
            "--from",
            "ethereum:USDT",
            "--to",
            "solana:USDC",
            "--amount",
            "-5",
        ],
        "amount",
    );
    fails_naming(
        &[
            "--from",
            "ethereum:USDT",
            "--to",
            "solana:USDC",
            "--amount",
            "1.0000001",
        ],
        "amount",
    );
    fails_naming(
        &[
            "--from",
            "ethereum:USDT",
            "--to",
            "solana:USDC",
            "--amount",
            "1",
            "--max-hops",
            "0",
        ],
        "--max-hops",
    );
    fails_naming(
        &[
            "--from",
            "ethereum:USDT",
            "--to",
            "solana:USDC",
            "--amount",
            "1",
            "--mode",
            "best",
        ],
        "--mode",
    );
    fails_naming(
        &[
            "--from",
            "ethereum:USDT",
            "--to",
            "solana:USDC",
            "--amount",
            "1",
            "--max-hops",
            "x",
        ],
        "--max-hops",
    );
    let out = switchyard(&[
        "quote",
        "--topology",
        "/nonexistent.toml",
        "--from",
        "a:B",
        "--to",
        "c:D",
        "--amount",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.toml"));
}
