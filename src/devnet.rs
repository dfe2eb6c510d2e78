//! `switchyard devnet up`: the local EVM chains of a devnet topology, with
//! Switchyard's contracts deployed and funded, and its Solana chains (see
//! `devnet_solana`), until SIGINT/SIGTERM.
//!
//! For each `[[chain]]` it starts anvil (from `node_modules/.bin`, which
//! `scripts/setup` installs) on the port of the chain's `rpc_url` (or a
//! free one with `--free-ports`), with the chain's id and block time. From
//! anvil account 0 it deploys, in order, TestUSD, EscrowBridge and
//! PayoutBatcher and Treasury (the last three with the co-signers' 2-of-3
//! set), checks their addresses against the topology's `contracts`, and
//! mints TestUSD to the treasury (the relayer's funds, which leave only on
//! co-signer signatures), to the escrow (bridge liquidity) and to the
//! batcher. The relayer's own key gets gas only.
//!
//! It writes into `--dir`: `topology.toml` (the topology with the actual
//! RPC URLs), `switchyard.toml` (a daemon config with a relayer and a store
//! in the same directory), `env` (the relayer's fee key, the daemon's
//! identity key, to export; `cosigners.env` has the co-signers' keystore
//! passphrase, apart), the
//! three co-signers (see `devnet_cosigners`: 2 of 3 sign) and
//! `devnet.json` (addresses), then prints `devnet ready`. With `--serve`
//! it then runs the daemon on that config in the same process (the API's
//! `listening on ADDR` line follows), until SIGINT/SIGTERM.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use eyre::{WrapErr, eyre};
use serde_json::json;
use switchyard_chains::evm::contracts::{escrow_args, mint_call, owner_args, signer_set_args};
use switchyard_chains::evm::deploy::{call, deploy, has_gas, send_native, wallet_provider};
use switchyard_chains::evm::eip712::{Eip712Signer, MAINNET_CHAIN_IDS};
use switchyard_core::U256;
use switchyard_core::address::{Address, ChainKind};
use switchyard_core::topology::Topology;

use crate::Failure;
use crate::cli::DevnetUpArgs;

/// anvil's account 0: deploys and owns TestUSD on the devnet.
const DEPLOYER_KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// anvil's account 1: the relayer's lanes unless SWITCHYARD_RELAYER_KEY is set.
const DEFAULT_RELAYER_KEY: &str =
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

/// TestUSD minted to the relayer (treasury) and to each escrow (bridge
/// liquidity) on every chain.
const FUND_TUSD: u64 = 10_000_000;

struct Anvils(Vec<Child>);

impl Drop for Anvils {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Reads anvil's stdout until its "Listening on HOST:PORT" line, then
/// keeps draining it in the background so anvil never blocks on the pipe.
pub(crate) async fn listening_port(stdout: std::process::ChildStdout) -> eyre::Result<u16> {
    tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(stdout).lines();
        loop {
            let line = lines
                .next()
                .ok_or_else(|| eyre!("exited before listening"))??;
            let said = line.trim();
            let addr = said
                .strip_prefix("Listening on ")
                .or_else(|| said.split_once(" listening on ").map(|(_, a)| a));
            if let Some(addr) = addr {
                let port = addr
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(|| eyre!("unreadable address {addr:?}"))?;
                std::thread::spawn(move || for _ in lines {});
                return Ok(port);
            }
        }
    })
    .await?
}

fn port_of(url: &str) -> Option<u16> {
    url.rsplit(':').next()?.trim_end_matches('/').parse().ok()
}

fn artifact(dir: &Path, name: &str) -> eyre::Result<Vec<u8>> {
    let path = dir.join(format!("{name}.sol/{name}.json"));
    let text = std::fs::read_to_string(&path).wrap_err_with(|| {
        format!(
            "reading {} (build the contracts: scripts/setup && scripts/forge build)",
            path.display()
        )
    })?;
    let v: serde_json::Value = serde_json::from_str(&text)?;
    let hex = v["bytecode"]["object"]
        .as_str()
        .ok_or_else(|| eyre!("{}: no bytecode.object", path.display()))?;
    Ok(alloy_primitives::hex::decode(hex)?)
}

fn env_key(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// Entry point of `switchyard devnet up`.
pub fn run(args: &DevnetUpArgs) -> Result<(), Failure> {
    crate::serve::start_logging();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .wrap_err("starting the async runtime")?;
    let done = rt.block_on(up(args));
    rt.shutdown_timeout(std::time::Duration::from_secs(10));
    done
}

async fn up(args: &DevnetUpArgs) -> Result<(), Failure> {
    let text = std::fs::read_to_string(&args.topology)
        .map_err(|e| Failure::Usage(format!("--topology {}: {e}", args.topology.display())))?;
    let mut doc: toml::Table =
        toml::from_str(&text).map_err(|e| Failure::Usage(format!("--topology: {e}")))?;
    if args.skip_solana {
        without_solana(&mut doc);
    }
    let topology = Topology::from_toml(&toml::to_string(&doc).map_err(|e| eyre!("{e}"))?)?;
    let relayer_key = env_key("SWITCHYARD_RELAYER_KEY", DEFAULT_RELAYER_KEY);
    let relayer = Eip712Signer::from_hex("SWITCHYARD_RELAYER_KEY", &relayer_key)?.address();
    let anvil = args.anvil.clone();
    if !anvil.exists() {
        return Err(Failure::Usage(format!(
            "--anvil {} not found: run scripts/setup",
            anvil.display()
        )));
    }
    let code = |n: &str| artifact(&args.artifacts, n);
    let (tusd, escrow, batcher, treasury) = (
        code("TestUSD")?,
        code("EscrowBridge")?,
        code("PayoutBatcher")?,
        code("Treasury")?,
    );
    std::fs::create_dir_all(&args.dir)?;
    let cos = crate::devnet_cosigners::keys(&args.dir)?;
    let set: Vec<alloy_primitives::Address> = cos.members.iter().map(|m| m.2).collect();
    let threshold = crate::devnet_cosigners::THRESHOLD;
    let mut policy_chains = Vec::new();

    let mut anvils = Anvils(Vec::new());
    let mut summary = Vec::new();
    let chains_toml = doc
        .get_mut("chain")
        .and_then(|c| c.as_array_mut())
        .ok_or_else(|| Failure::Usage("--topology has no [[chain]]".into()))?;
    for (i, c) in topology.chains().iter().enumerate() {
        let (ChainKind::Evm, Some(chain_id)) = (c.kind, c.chain_id) else {
            if c.kind == ChainKind::Solana {
                continue;
            }
            return Err(Failure::Usage(format!(
                "chain[{i}]: a devnet has EVM and Solana chains only"
            )));
        };
        if MAINNET_CHAIN_IDS.contains(&chain_id) {
            return Err(Failure::Usage(format!(
                "chain[{i}].chain_id: {chain_id} is a mainnet id; a devnet must not use it"
            )));
        }
        // With --free-ports anvil picks its port (`--port 0`) and says which
        // on stdout: picking one here first would race with other binders.
        let wanted = if args.free_ports {
            0
        } else {
            c.rpc_urls
                .first()
                .and_then(|u| port_of(u))
                .ok_or_else(|| Failure::Usage(format!("chain[{i}].rpc_url: no port")))?
        };
        let block_time = format!("{}", c.block_time_ms as f64 / 1000.0);
        tracing::info!(
            "{}: starting anvil (chain id {chain_id}, block time {block_time} s)",
            c.id
        );
        let mut child = Command::new(&anvil)
            .args([
                "--port",
                &wanted.to_string(),
                "--chain-id",
                &chain_id.to_string(),
                "--block-time",
                &block_time,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .wrap_err_with(|| format!("starting {}", anvil.display()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| eyre!("anvil stdout not captured"))?;
        let pid = child.id();
        anvils.0.push(child);
        let port = listening_port(stdout)
            .await
            .map_err(|e| eyre!("anvil for {}: {e}", c.id))?;
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(Failure::Runtime(eyre!(
                    "anvil on port {port} did not start"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let p = wallet_provider(&url, DEPLOYER_KEY).map_err(|e| eyre!("{e}"))?;
        let owner = wallet_address(DEPLOYER_KEY)?;
        let signer_set = signer_set_args(&set, threshold as u64);
        tracing::info!(
            "{}: anvil on {url}; deploying TestUSD, EscrowBridge and PayoutBatcher",
            c.id
        );
        let t = deploy(&p, [tusd.clone(), owner_args(owner)].concat())
            .await
            .map_err(|e| eyre!("deploying TestUSD on {}: {e}", c.id))?;
        let e = deploy(
            &p,
            [
                escrow.clone(),
                escrow_args(&set, threshold as u64, args.refund_delay_s),
            ]
            .concat(),
        )
        .await
        .map_err(|e| eyre!("deploying EscrowBridge on {}: {e}", c.id))?;
        let b = deploy(&p, [batcher.clone(), signer_set].concat())
            .await
            .map_err(|e| eyre!("deploying PayoutBatcher on {}: {e}", c.id))?;
        let tr = deploy(
            &p,
            [treasury.clone(), signer_set_args(&set, threshold as u64)].concat(),
        )
        .await
        .map_err(|e| eyre!("deploying Treasury on {}: {e}", c.id))?;
        let expect = |name: &str, got: alloy_primitives::Address, want: Option<Address>| match want
        {
            Some(Address::Evm(w)) if w != got => Err(Failure::Usage(format!(
                "chain[{i}].contracts.{name}: topology says {w}, the deployment is at {got}"
            ))),
            _ => Ok(()),
        };
        expect("escrow", e, c.escrow)?;
        expect("payout_batcher", b, c.payout_batcher)?;
        expect("treasury", tr, c.treasury)?;
        let asset = topology
            .assets()
            .iter()
            .find(|a| a.chain.ix() == i && a.address == Address::Evm(t));
        let Some(asset) = asset else {
            return Err(Failure::Usage(format!(
                "chain[{i}]: no [[asset]] at the TestUSD address {t}"
            )));
        };
        let unit = U256::from(10u8).pow(U256::from(asset.decimals));
        let fund = U256::from(FUND_TUSD) * unit;
        let float = U256::from(args.batcher_float) * unit;
        tracing::info!(
            "{}: funding the treasury and the escrow with {FUND_TUSD} TUSD each, the batcher with {} TUSD",
            c.id,
            args.batcher_float
        );
        for (who, amount) in [(tr, fund), (e, fund), (b, float)] {
            call(&p, t, mint_call(who, amount))
                .await
                .map_err(|err| eyre!("minting on {}: {err}", c.id))?;
        }
        // Gas money for a relayer key that is not an anvil account.
        if !has_gas(&p, relayer).await {
            send_native(&p, relayer, U256::from(10u8).pow(U256::from(20u8)))
                .await
                .map_err(|err| eyre!("funding the relayer on {}: {err}", c.id))?;
        }
        if let Some(tbl) = chains_toml.get_mut(i).and_then(|v| v.as_table_mut()) {
            tbl.insert("rpc_url".into(), toml::Value::String(url.clone()));
        }
        policy_chains.push(crate::devnet_cosigners::ChainEntry {
            id: c.id.to_string(),
            chain_id,
            batcher: b.to_string(),
            escrow: e.to_string(),
            treasury: tr.to_string(),
            token: (t.to_string(), asset.decimals),
        });
        summary.push(json!({
            "chain": c.id.as_str(),
            "chain_id": chain_id,
            "rpc_url": url,
            "token": t.to_string(),
            "escrow": e.to_string(),
            "payout_batcher": b.to_string(),
            "treasury": tr.to_string(),
            "anvil_pid": pid,
        }));
    }
    let solana_key = std::env::var(switchyard_node::solana::KEY_VAR)
        .ok()
        .unwrap_or_else(|| {
            switchyard_chains::solana::keypair_base58(
                &switchyard_chains::solana::setup::devnet_keypair("hot-wallet"),
            )
        });
    let mut validators = Vec::new();
    for (i, c) in topology.chains().iter().enumerate() {
        if c.kind != ChainKind::Solana {
            continue;
        }
        let (v, entry) = crate::devnet_solana::up(args, &topology, i, &solana_key).await?;
        if let Some(tbl) = chains_toml.get_mut(i).and_then(|v| v.as_table_mut()) {
            tbl.insert("rpc_url".into(), toml::Value::String(v.url.clone()));
            // The bridge vault, where the topology does not name it yet.
            if let (None, Some(vault)) = (c.escrow, entry["vault"].as_str()) {
                let contracts = tbl
                    .entry("contracts")
                    .or_insert_with(|| toml::Value::Table(toml::map::Map::new()));
                if let Some(t) = contracts.as_table_mut() {
                    t.insert("escrow".into(), toml::Value::String(vault.to_owned()));
                }
            }
        }
        summary.push(entry);
        validators.push(v);
    }
    let dir = &args.dir;
    tracing::info!(
        "starting {} co-signers, {threshold} of them needed",
        set.len()
    );
    let mut vault_chains = Vec::new();
    for c in topology
        .chains()
        .iter()
        .filter(|c| c.kind == ChainKind::Solana)
    {
        let e = summary
            .iter()
            .find(|e| e["chain"] == c.id.as_str())
            .ok_or_else(|| eyre!("{}: not set up", c.id))?;
        let text = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
        vault_chains.push(crate::devnet_cosigners::VaultChainEntry {
            id: c.id.to_string(),
            domain: c.bridge_domain(),
            vault: text("vault"),
            multisig: text("vault_multisig"),
            mint: text("token"),
            decimals: u8::try_from(e["decimals"].as_u64().unwrap_or(6)).unwrap_or(6),
            threshold: u8::try_from(e["vault_threshold"].as_u64().unwrap_or(0)).unwrap_or(0),
            signers: e["vault_signers"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        });
    }
    let cosigners =
        crate::devnet_cosigners::start(dir, &cos, &policy_chains, &vault_chains).await?;
    // Fresh chains, so a fresh store: one written against earlier chains
    // would take their transactions for these chains' history. Never under
    // a daemon still running on it: its lock is taken first.
    {
        let _lock = switchyard_node::engine::lock_store(&dir.join("switchyard.db"))?;
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(dir.join(format!("switchyard.db{ext}")));
        }
    }
    std::fs::write(
        dir.join("topology.toml"),
        toml::to_string(&doc).map_err(|e| eyre!("{e}"))?,
    )?;
    std::fs::write(
        dir.join("switchyard.toml"),
        format!(
            "# Written by `switchyard devnet up`.\ntopology = \"topology.toml\"\n\n[server]\nlisten = \"127.0.0.1:{}\"\n\n[console]\nlisten = \"127.0.0.1:{}\"\n\n[model]\nprobe_every_ms = 500\nstale_after_ms = 15000\n\n[relayer]\nstore = \"switchyard.db\"\npoll_ms = 200\ntreasury = \"{}\"\ndeny_list = \"deny.txt\"\n\n[relayer.fees]\nreplace_after_blocks = 3\n\n[model.breaker]\nconsecutive_failures = 3\ncool_down_ms = 3000\nhalf_open_probes = 2\n",
            args.listen_port,
            args.console_port.unwrap_or(match args.listen_port {
                0 => 0,
                p => p.saturating_add(1),
            }),
            topology
                .assets()
                .first()
                .map(|a| a.key.to_string())
                .unwrap_or_default()
        ),
    )?;
    {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join("switchyard.toml"))?;
        write!(f, "{}", crate::devnet_cosigners::config_section(&cosigners))?;
    }
    if args.auth {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join("switchyard.toml"))?;
        writeln!(
            f,
            "\n[auth]\ndefault_rate_per_s = 50\n\n[relayer.approvals]\nsingle_usd = \"100\"\ndual_usd = \"500\""
        )?;
        // One key per role, in the fresh store.
        let store = std::sync::Arc::new(
            switchyard_relayer::Store::open(&dir.join("switchyard.db"))
                .map_err(|e| eyre!("opening the store: {e}"))?,
        );
        let keys = switchyard_relayer::Keys::new(store);
        let mut out = serde_json::Map::new();
        for (name, role) in [
            ("root", "admin"),
            ("olivia", "operator"),
            ("oscar", "operator"),
            ("acme", "merchant"),
            ("globex", "merchant"),
            ("wally", "wallet"),
        ] {
            let r = switchyard_relayer::Role::parse(role).ok_or_else(|| eyre!("role {role}"))?;
            let (key, token, _) = keys
                .create(r, name, 50, "devnet")
                .map_err(|e| eyre!("creating a key: {e}"))?;
            let shown = if args.show_keys {
                token.clone()
            } else {
                switchyard_core::redact::redact_secret(&token)
            };
            println!("key {name:7} {role:9} {shown}");
            out.insert(
                name.to_owned(),
                json!({ "id": key.id, "role": role, "token": token }),
            );
        }
        write_private(
            &dir.join("keys.json"),
            &serde_json::to_string_pretty(&out).unwrap_or_default(),
        )?;
    }
    write_private(
        &dir.join("env"),
        &format!(
            "export SWITCHYARD_RELAYER_KEY={relayer_key}\nexport SWITCHYARD_IDENTITY_KEY={}\nexport SWITCHYARD_SOLANA_KEY={solana_key}\n",
            cos.identity
        ),
    )?;
    // The co-signers' passphrase, apart: the daemon's environment holds
    // no key, and no way to a key, that can move funds.
    write_private(
        &dir.join("cosigners.env"),
        &format!("export SWITCHYARD_COSIGNER_PASSPHRASE={}\n", cos.passphrase),
    )?;
    let info = json!({
        "relayer": relayer.to_string(),
        "cosigners": cosigners.list,
        "threshold": threshold,
        "chains": summary,
    });
    std::fs::write(
        dir.join("devnet.json"),
        serde_json::to_string_pretty(&info).unwrap_or_default(),
    )?;
    if args.auth && !args.show_keys {
        println!(
            "keys: in full in {} (mode 0600); --show-keys prints them here",
            dir.join("keys.json").display()
        );
    }
    println!("devnet ready: {}", dir.display());
    use std::io::Write;
    let _ = std::io::stdout().flush();
    if args.serve {
        // The daemon in this process, on the config just written.
        let cfg = switchyard_core::config::DaemonConfig::load(
            &dir.join("switchyard.toml"),
            std::env::vars(),
        )?;
        let shutdown = tokio_util::sync::CancellationToken::new();
        let signal = shutdown.clone();
        tokio::spawn(async move {
            switchyard_node::serve::wait_for_signal().await;
            signal.cancel();
        });
        let keys = switchyard_node::engine::Keys {
            relayer: relayer_key,
            signer: switchyard_node::engine::SignerKey::Identity(cos.identity.clone()),
            solana: Some(solana_key.clone()),
            solana_vault: None,
        };
        let served = switchyard_node::serve::serve_with(cfg, Some(keys), shutdown).await;
        drop(cosigners);
        drop(validators);
        drop(anvils);
        return served;
    }
    switchyard_node::serve::wait_for_signal().await;
    drop(cosigners);
    drop(validators);
    drop(anvils);
    Ok(())
}

/// Writes a file holding secrets (keys, API tokens) readable by its owner
/// only: created with mode 0600, and set to 0600 if it existed.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    o.mode(0o600);
    let mut f = o.open(path)?;
    #[cfg(unix)]
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(text.as_bytes())
}

fn wallet_address(key: &str) -> Result<alloy_primitives::Address, Failure> {
    Ok(Eip712Signer::from_hex("key", key)?.address())
}

/// Drops the Solana chains from a topology document, with the assets on
/// them and the bridges to or from those assets.
fn without_solana(doc: &mut toml::Table) {
    let mut gone: Vec<String> = Vec::new();
    if let Some(chains) = doc.get_mut("chain").and_then(|c| c.as_array_mut()) {
        chains.retain(|c| {
            let solana = c.get("kind").and_then(|k| k.as_str()) == Some("solana");
            if solana && let Some(id) = c.get("id").and_then(|i| i.as_str()) {
                gone.push(id.to_owned());
            }
            !solana
        });
    }
    if let Some(assets) = doc.get_mut("asset").and_then(|a| a.as_array_mut()) {
        assets.retain(|a| {
            !a.get("chain")
                .and_then(|c| c.as_str())
                .is_some_and(|c| gone.iter().any(|g| g == c))
        });
    }
    let on_gone = |v: Option<&toml::Value>| {
        v.and_then(|s| s.as_str())
            .and_then(|s| s.split(':').next())
            .is_some_and(|c| gone.iter().any(|g| g == c))
    };
    if let Some(bridges) = doc.get_mut("bridge").and_then(|b| b.as_array_mut()) {
        bridges.retain(|b| !on_gone(b.get("from")) && !on_gone(b.get("to")));
    }
}
