//! `switchyard-validator`: a one-node Solana cluster for the devnet and the
//! tests, built from the `solana-test-validator` crate (the same genesis as
//! Agave's `solana-test-validator`: SPL Token, Token-2022, associated token
//! accounts and memo programs are loaded).
//!
//! ```text
//! switchyard-validator --ledger DIR --rpc-port PORT --mint PUBKEY
//!                      [--port-range LOW-HIGH] [--ticks-per-slot N]
//!                      [--exit-with-stdin]
//! ```
//!
//! With `--exit-with-stdin` it exits when its standard input closes: a test
//! process that dies, however it dies, takes its validator with it.
//!
//! `--mint` receives the genesis lamports (500M SOL). The RPC keeps
//! transaction history (`getTransaction`, `getSignatureStatuses` with
//! `searchTransactionHistory`). An existing ledger in DIR is resumed. Prints
//! `ready rpc=URL` once the RPC answers, then runs until killed.

use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::str::FromStr;

use solana_rpc::rpc::JsonRpcConfig;
use solana_sdk::pubkey::Pubkey;
use solana_net_utils::SocketAddrSpace;
use solana_test_validator::TestValidatorGenesis;

struct Args {
    ledger: String,
    rpc_port: u16,
    mint: Pubkey,
    port_range: (u16, u16),
    ticks_per_slot: Option<u64>,
    exit_with_stdin: bool,
}

fn usage(why: &str) -> ExitCode {
    eprintln!("switchyard-validator: {why}");
    eprintln!(
        "usage: switchyard-validator --ledger DIR --rpc-port PORT --mint PUBKEY [--port-range LOW-HIGH] [--ticks-per-slot N] [--exit-with-stdin]"
    );
    ExitCode::from(2)
}

fn parse() -> Result<Args, String> {
    let mut ledger = None;
    let mut rpc_port = None;
    let mut mint = None;
    let mut port_range = (11_000, 11_100);
    let mut ticks_per_slot = None;
    let mut exit_with_stdin = false;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--ledger" => ledger = Some(value()?),
            "--rpc-port" => {
                rpc_port = Some(value()?.parse().map_err(|_| "--rpc-port: not a port")?)
            }
            "--mint" => {
                mint = Some(
                    Pubkey::from_str(&value()?).map_err(|_| "--mint: not a base58 public key")?,
                )
            }
            "--port-range" => {
                let v = value()?;
                let (lo, hi) = v.split_once('-').ok_or("--port-range: LOW-HIGH")?;
                let lo: u16 = lo.parse().map_err(|_| "--port-range: LOW is not a port")?;
                let hi: u16 = hi.parse().map_err(|_| "--port-range: HIGH is not a port")?;
                if hi < lo.saturating_add(25) {
                    return Err("--port-range: needs at least 25 ports".into());
                }
                port_range = (lo, hi);
            }
            "--ticks-per-slot" => {
                ticks_per_slot = Some(
                    value()?
                        .parse()
                        .map_err(|_| "--ticks-per-slot: not a number")?,
                )
            }
            "--exit-with-stdin" => exit_with_stdin = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Args {
        ledger: ledger.ok_or("--ledger is required")?,
        rpc_port: rpc_port.ok_or("--rpc-port is required")?,
        mint: mint.ok_or("--mint is required")?,
        port_range,
        ticks_per_slot,
        exit_with_stdin,
    })
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => return usage(&e),
    };
    if args.exit_with_stdin {
        std::thread::spawn(|| {
            let mut sink = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
            std::process::exit(0);
        });
    }
    let mut genesis = TestValidatorGenesis::default();
    let rpc = JsonRpcConfig {
        enable_rpc_transaction_history: true,
        enable_extended_tx_metadata_storage: true,
        rpc_threads: 2,
        rpc_blocking_threads: 2,
        ..JsonRpcConfig::default_for_test()
    };
    genesis
        .ledger_path(&args.ledger)
        .rpc_port(args.rpc_port)
        .rpc_config(rpc)
        .bind_ip_addr(IpAddr::V4(Ipv4Addr::LOCALHOST))
        .gossip_host(IpAddr::V4(Ipv4Addr::LOCALHOST))
        .gossip_port(args.port_range.0)
        .port_range((args.port_range.0 + 1, args.port_range.1));
    if let Some(t) = args.ticks_per_slot {
        genesis.ticks_per_slot(t);
    }
    let validator = match genesis.start_with_mint_address(args.mint, SocketAddrSpace::Unspecified) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("switchyard-validator: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("ready rpc={}", validator.rpc_url());
    validator.join();
    ExitCode::SUCCESS
}
