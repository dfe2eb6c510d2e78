//! What a newcomer meets first: command-line errors that keep clap's
//! point (names, values, suggestions) on one line with exit code 2, the
//! field a message names being the one given, typos answered with the
//! closest known names, no route as exit code 3, `--json` errors as JSON,
//! `switchyard topology`, `keys` taking `--config` where the README puts
//! it, logs without ANSI codes off a terminal, and `--listen` host names.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{BIN, MAINNET as TOPOLOGY, listening_addr, quote, switchyard};
use serde_json::Value;
use switchyard_core::{Amount, U256};

/// `quote --from FROM --to TO --amount AMOUNT EXTRA...`.
fn quote_of(from: &str, to: &str, amount: &str, extra: &[&str]) -> Output {
    let mut args = vec!["--from", from, "--to", to, "--amount", amount];
    args.extend_from_slice(extra);
    quote(&args)
}

/// Exit code 2 and exactly one line on stderr, returned.
fn usage_error(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "exit code; stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(out.stdout.is_empty(), "nothing on stdout");
    err.trim_end().to_owned()
}

#[test]
fn a_missing_flag_is_named_with_where_to_read_more() {
    let e = usage_error(&quote(&["--from", "ethereum:USDT", "--to", "base:USDC"]));
    assert_eq!(
        e,
        "error: the following required arguments were not provided: --amount <AMOUNT> (see 'switchyard quote --help')"
    );
    let e = usage_error(&switchyard(&[
        "quote", "--from", "a:B", "--to", "c:D", "--amount", "1",
    ]));
    assert!(e.contains("--topology <TOPOLOGY>"), "{e}");
}

#[test]
fn a_wrong_value_lists_the_allowed_ones_and_the_closest() {
    let e = usage_error(&quote_of(
        "ethereum:USDT",
        "base:USDC",
        "1",
        &["--mode", "cheap"],
    ));
    assert!(
        e.starts_with("error: invalid value 'cheap' for '--mode <MODE>'"),
        "{e}"
    );
    assert!(
        e.contains("[possible values: pareto, cheapest, fastest, safest, weighted]"),
        "{e}"
    );
    assert!(e.contains("a similar value exists: 'cheapest'"), "{e}");
    assert!(e.ends_with("(see 'switchyard quote --help')"), "{e}");
}

#[test]
fn a_misspelt_command_gets_a_did_you_mean() {
    let e = usage_error(&switchyard(&["qoute"]));
    assert!(e.contains("unrecognized subcommand 'qoute'"), "{e}");
    assert!(e.contains("a similar subcommand exists: 'quote'"), "{e}");
}

#[test]
fn a_command_without_its_subcommand_shows_them() {
    let out = switchyard(&["devnet"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Usage: switchyard devnet"), "{err}");
    assert!(
        err.lines().any(|l| l.trim_start().starts_with("up ")),
        "{err}"
    );
}

#[test]
fn a_weighted_only_limit_outside_weighted_mode_names_itself() {
    let base = [
        "--from",
        "ethereum:USDT",
        "--to",
        "base:USDC",
        "--amount",
        "1",
    ];
    for (flag, value) in [
        ("--max-eta-s", "60"),
        ("--min-success-p", "0.9"),
        ("--max-fee", "5"),
        ("--weight-time", "20"),
    ] {
        let mut args = base.to_vec();
        args.extend([flag, value]);
        let e = usage_error(&quote(&args));
        assert_eq!(
            e,
            format!("error: invalid {flag}: weights and limits apply to mode \"weighted\" only"),
        );
    }
}

#[test]
fn a_typo_in_a_chain_or_asset_gets_one_message_with_the_closest_names() {
    for (given, field, value) in [
        ("etherum:USDT", "chain", "etherum"),
        ("ethereum:usdt", "asset", "usdt"),
        ("Ethereum:USDT", "chain", "Ethereum"),
    ] {
        let e = usage_error(&quote_of(given, "base:USDC", "1", &[]));
        let head = format!("error: unknown --from {field}: {value}; did you mean ethereum:USDT");
        assert!(e.starts_with(&head), "{given}: {e}");
        assert!(e.ends_with('?'), "{e}");
    }
    // A short form finds the chain it starts; a half-written name is not
    // taken for a chain or asset at all.
    let e = usage_error(&quote_of("arb:USDC", "base:USDC", "1", &[]));
    assert!(
        e.starts_with("error: unknown --from chain: arb; did you mean arbitrum:USDC"),
        "{e}"
    );
    for half in ["ethereum:", ":USDT", "ethereum: USDT"] {
        let e = usage_error(&quote_of(half, "base:USDC", "1", &[]));
        assert!(
            e.starts_with("error: invalid --from: expected CHAIN:ASSET (e.g. ethereum:USDT)"),
            "{half}: {e}"
        );
    }
    let out = quote_of("ethereum:USDT", "base:usdc", "1", &["--json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).expect("a JSON error on stdout");
    assert_eq!(v["error"]["field"], "to.asset");
    assert_eq!(v["error"]["kind"], "usage");
    assert_eq!(
        v["error"]["message"],
        "unknown --to asset: usdc; did you mean base:USDC?"
    );
}

#[test]
fn json_output_reports_a_command_line_error_as_json_on_stdout() {
    let out = quote(&["--from", "ethereum:USDT", "--to", "base:USDC", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The person at the terminal still reads the line on stderr.
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "));
    let m = v["error"]["message"].as_str().unwrap();
    assert!(m.contains("--amount <AMOUNT>"), "{m}");
}

#[test]
fn no_route_is_exit_code_3_with_the_reasons() {
    // More than any bridge out of TON carries in one transfer.
    let args = [
        "--from",
        "ton:USDT",
        "--to",
        "tron:USDT",
        "--amount",
        "90000000",
    ];
    let out = quote(&args);
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("No route for 90000000 ton:USDT -> tron:USDT"),
        "{text}"
    );
    assert!(
        text.contains("over_max"),
        "every exclusion is listed: {text}"
    );
    let mut json = args.to_vec();
    json.push("--json");
    let out = quote(&json);
    assert_eq!(out.status.code(), Some(3));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["routes"].as_array().unwrap().len(), 0);
    assert!(!v["excluded"].as_array().unwrap().is_empty());
}

fn decimal(s: &str, d: u8) -> U256 {
    Amount::parse_decimal("x", s, d).unwrap().raw
}

#[test]
fn the_quote_table_has_headers_a_fee_and_aligned_amounts() {
    let out = quote_of("ethereum:USDT", "solana:USDC", "2500", &[]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[2].split_whitespace().collect::<Vec<_>>(),
        [
            "#",
            "RECEIVE",
            "solana:USDC",
            "FEE",
            "USDT",
            "FEE",
            "USD",
            "ETA",
            "SUCCESS",
            "LEGS"
        ]
    );
    let json = quote_of("ethereum:USDT", "solana:USDC", "2500", &["--json"]);
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    let routes = v["routes"].as_array().unwrap();
    let rows = &lines[3..3 + routes.len()];
    let dot = rows[0].find('.').unwrap();
    for (row, r) in rows.iter().zip(routes) {
        let cells: Vec<&str> = row.split_whitespace().collect();
        // Receive with all six decimals, decimal points in one column.
        assert_eq!(cells[1].split('.').nth(1).map(str::len), Some(6), "{row}");
        assert_eq!(row.find('.'), Some(dot), "aligned: {row}");
        // Amount in minus amount out, exactly; and in USD at $1 a token.
        let fee = decimal("2500", 6) - decimal(r["amount_out"].as_str().unwrap(), 6);
        assert_eq!(decimal(cells[2], 6), fee, "{row}");
        let cents = (fee + U256::from(5_000u64)) / U256::from(10_000u64);
        assert_eq!(cells[3], format!("${}", Amount::from_raw(cents, 2).fixed()));
        // One format for success: a percentage with two decimals.
        let success = cells[cells.len() - 2];
        assert!(success.ends_with('%'), "{row}");
        assert_eq!(success.split('.').nth(1).map(str::len), Some(3), "{row}");
    }
    // Exclusions are summarised by reason with a count...
    let last = lines.last().unwrap();
    let n = v["excluded"].as_array().unwrap().len();
    assert!(
        last.starts_with(&format!("Excluded {n} bridges: ")),
        "{last}"
    );
    assert!(last.ends_with("(--explain lists each)"), "{last}");
    // ...and --explain lists every one.
    let out = quote_of("ethereum:USDT", "solana:USDC", "2500", &["--explain"]);
    let text = String::from_utf8(out.stdout).unwrap();
    for x in v["excluded"].as_array().unwrap() {
        assert!(text.contains(x["bridge"].as_str().unwrap()), "{x}");
    }
}

#[test]
fn json_success_probabilities_are_rounded_to_six_decimals() {
    let out = quote_of("ethereum:USDT", "solana:USDC", "2500", &["--json"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    for r in v["routes"].as_array().unwrap() {
        let p = r["success_p"].to_string();
        let decimals = p.split('.').nth(1).map_or(0, str::len);
        assert!(decimals <= 6, "{p}");
    }
}

#[test]
fn topology_lists_what_quote_accepts() {
    let out = switchyard(&["topology", "--topology", TOPOLOGY]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("Chains (10)\n"), "{text}");
    for needle in [
        "ethereum:USDT",
        "solana:USDC",
        "cctp-ethereum-solana-usdc",
        "Bridges (172)",
    ] {
        assert!(text.contains(needle), "{needle}");
    }
    let out = switchyard(&["topology", "--topology", TOPOLOGY, "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["chains"].as_array().unwrap().len(), 10);
    assert_eq!(v["bridges"].as_array().unwrap().len(), 172);
    // Every listed asset is one quote accepts.
    for a in v["assets"].as_array().unwrap() {
        let a = a["asset"].as_str().unwrap();
        let to = if a == "ethereum:USDC" {
            "ethereum:USDT"
        } else {
            "ethereum:USDC"
        };
        let out = quote_of(a, to, "1", &[]);
        assert_ne!(
            out.status.code(),
            Some(2),
            "{a}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn keys_take_config_after_the_subcommand_as_the_readme_shows() {
    let dir = std::env::temp_dir().join(format!("sy-newcomer-keys-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("switchyard.toml");
    std::fs::write(
        &cfg,
        format!("topology = {TOPOLOGY:?}\n[relayer]\nstore = \"switchyard.db\"\n"),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    let out = switchyard(&[
        "keys", "create", "--config", cfg, "--role", "admin", "--name", "root",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&fields[1..3], ["admin", "root"], "{line}");
    assert!(fields[3].starts_with("sy_admin_"), "{line}");
    // And before it, as before.
    let out = switchyard(&["keys", "--config", cfg, "list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("root"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts `serve` (quote only) with `args`; returns the child and its
/// `listening on` address.
fn serve(args: &[&str]) -> (std::process::Child, String) {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = listening_addr(&mut child);
    (child, addr)
}

fn stop(child: std::process::Child) -> String {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    std::thread::sleep(Duration::from_millis(200));
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn listen_takes_a_host_name_and_logs_carry_no_colour_codes_off_a_terminal() {
    let (child, addr) = serve(&[
        "--config",
        "config/switchyard.toml",
        "--listen",
        "localhost:0",
    ]);
    assert!(
        addr.starts_with("127.0.0.1:") || addr.starts_with("[::1]:"),
        "{addr}"
    );
    assert!(!addr.ends_with(":0"), "a port was picked: {addr}");
    let logs = stop(child);
    assert!(logs.contains("serving JSON-RPC"), "{logs}");
    assert!(
        !logs.contains('\u{1b}'),
        "no ANSI codes when stderr is not a terminal: {logs:?}"
    );
    assert!(!logs.contains("Some("), "no Debug dumps: {logs}");
}

#[test]
fn log_format_json_writes_one_object_per_line() {
    let (child, _) = serve(&[
        "--config",
        "config/switchyard.toml",
        "--listen",
        "127.0.0.1:0",
        "--log-format",
        "json",
    ]);
    let logs = stop(child);
    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for l in lines {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}"));
        assert!(v["level"].is_string() && v["timestamp"].is_string(), "{l}");
    }
}

#[test]
fn a_listen_address_that_resolves_nowhere_is_named() {
    let e = usage_error(&switchyard(&[
        "serve",
        "--listen",
        "no-such-host.invalid:1",
    ]));
    assert!(
        e.starts_with("error: invalid value 'no-such-host.invalid:1' for '--listen <LISTEN>'"),
        "{e}"
    );
}
