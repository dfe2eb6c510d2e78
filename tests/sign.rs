//! End to end: `switchyard sign payout-batch` as a signer runs it.

use std::process::Command;

use serde_json::Value;

const KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const SIGNER: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

fn batch_file(body: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "sy-batch-{}-{}.json",
        std::process::id(),
        body.len()
    ));
    std::fs::write(&path, body).unwrap();
    path
}

fn sign(key: Option<&str>, chain_id: &str, batch: &std::path::Path) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    c.args([
        "sign",
        "payout-batch",
        "--chain-id",
        chain_id,
        "--contract",
        "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "--batch",
    ])
    .arg(batch)
    .arg("--json")
    .env_remove("SWITCHYARD_SIGNER_KEY");
    if let Some(k) = key {
        c.env("SWITCHYARD_SIGNER_KEY", k);
    }
    c.output().unwrap()
}

const BATCH: &str = r#"{"batch_id":"0x00000000000000000000000000000000000000000000000000000000000000aa",
 "token":"0xdAC17F958D2ee523a2206206994597C13D831ec7",
 "payouts":[{"to":"0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB","amount":"250000000"}],
 "deadline":1893456000}"#;

#[test]
fn signs_a_batch_and_names_the_signer() {
    let path = batch_file(BATCH);
    let out = sign(Some(KEY), "31337", &path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["signer"], SIGNER);
    let sig = v["signature"].as_str().unwrap();
    assert_eq!(sig.len(), 2 + 130);
    assert!(sig.ends_with("1b") || sig.ends_with("1c"), "v is 27 or 28");
    assert_eq!(v["digest"].as_str().unwrap().len(), 66);
    // Same batch for another chain: another digest.
    let other: Value = serde_json::from_slice(&sign(Some(KEY), "31338", &path).stdout).unwrap();
    assert_ne!(v["digest"], other["digest"]);
}

#[test]
fn refuses_without_key_bad_batch_or_dev_key_on_mainnet() {
    let path = batch_file(BATCH);
    let no_key = sign(None, "31337", &path);
    assert_eq!(no_key.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_key.stderr).contains("SWITCHYARD_SIGNER_KEY"));

    let mainnet = sign(Some(KEY), "1", &path);
    assert_eq!(mainnet.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&mainnet.stderr).contains("--chain-id"));

    let bad = batch_file(&BATCH.replace("250000000", "-1"));
    let out = sign(Some(KEY), "31337", &bad);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("payouts[0].amount"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1);
}
