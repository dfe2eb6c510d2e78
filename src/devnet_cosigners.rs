//! The devnet's signer set: three co-signer processes
//! (`switchyard signer serve`), 2 of 3 required, each with its own
//! encrypted keystore, policy, store and audit log under
//! `DIR/cosigner-N/`, and one deny list (`DIR/deny.txt`) they and the
//! daemon read. The daemon gets a fresh identity key to authenticate with.
//! Co-signer N also holds signer N-1 of the Solana bridge vaults' multisig
//! (`sol.json`): the vaults' releases are signed by them, not the daemon.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use eyre::{WrapErr, eyre};
use serde_json::json;
use switchyard_chains::evm::eip712::Eip712Signer;

use crate::Failure;

/// Co-signers in the set.
pub const COUNT: usize = 3;
/// Signatures each message needs.
pub const THRESHOLD: usize = 2;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Keys made before the contracts are deployed (the set's addresses go
/// into their constructors).
pub struct Keys {
    /// The daemon's identity key, hex.
    pub identity: String,
    /// The keystores' passphrase.
    pub passphrase: String,
    /// (name, directory, address) per co-signer.
    pub members: Vec<(String, PathBuf, alloy_primitives::Address)>,
    /// Each member's Solana key (a vault signer), base58.
    pub solana: Vec<String>,
}

/// Fresh keys under `dir` (earlier co-signer directories are removed:
/// fresh chains, fresh co-signers).
pub fn keys(dir: &Path) -> Result<Keys, Failure> {
    let passphrase = hex(&rand::random::<[u8; 16]>());
    let identity = loop {
        let k = hex(&rand::random::<[u8; 32]>());
        if Eip712Signer::from_hex("identity", &k).is_ok() {
            break k;
        }
    };
    // Named in address order, as the contracts list them.
    let mut secrets: Vec<([u8; 32], alloy_primitives::Address)> = Vec::new();
    while secrets.len() < COUNT {
        let s: [u8; 32] = rand::random();
        if let Ok(k) = Eip712Signer::from_hex("cosigner", &hex(&s)) {
            secrets.push((s, k.address()));
        }
    }
    secrets.sort_by_key(|(_, a)| *a);
    let mut members = Vec::new();
    let mut solana = Vec::new();
    let seeds = crate::devnet_solana::vault_signer_seeds();
    for (n, (secret, address)) in secrets.iter().enumerate() {
        let name = format!("cosigner-{}", n + 1);
        let d = dir.join(&name);
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d)?;
        switchyard_cosigner::keys::write(&d.join("key.json"), secret, &passphrase)?;
        let seed = seeds
            .get(n)
            .ok_or_else(|| eyre!("no vault signer for {name}"))?;
        switchyard_cosigner::keys::write(&d.join("sol.json"), seed, &passphrase)?;
        solana.push(
            switchyard_chains::solana::SolanaSigner::pubkey(
                &switchyard_chains::solana::SolanaKeypair::new_from_array(*seed),
            )
            .to_string(),
        );
        members.push((name, d, *address));
    }
    Ok(Keys {
        identity,
        passphrase,
        members,
        solana,
    })
}

/// What a co-signer's policy lists for one chain.
pub struct ChainEntry {
    /// Topology chain id.
    pub id: String,
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Its `PayoutBatcher`.
    pub batcher: String,
    /// Its `EscrowBridge`.
    pub escrow: String,
    /// Its `Treasury`.
    pub treasury: String,
    /// TestUSD and its decimals.
    pub token: (String, u8),
}

/// A chain without EVM whose bridge vault sends to and takes from the EVM
/// escrows (a Solana chain): listed by its bridge domain as a source and
/// destination of escrow legs, and its vault (`[[vault]]`), whose releases
/// the co-signers sign with their Solana keys.
pub struct VaultChainEntry {
    /// Topology chain id.
    pub id: String,
    /// Its bridge domain.
    pub domain: u64,
    /// The vault token account, its multisig, the mint (base58).
    pub vault: String,
    /// The multisig owning the vault.
    pub multisig: String,
    /// The mint.
    pub mint: String,
    /// The mint's decimals.
    pub decimals: u8,
    /// Signatures the multisig needs.
    pub threshold: u8,
    /// The multisig's signers, in its order.
    pub signers: Vec<String>,
}

/// The running co-signers (killed when dropped).
pub struct Running {
    children: Vec<Child>,
    /// For `devnet.json` and the daemon config.
    pub list: Vec<serde_json::Value>,
}

impl Drop for Running {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn policy(keys: &Keys, port: u16, chains: &[ChainEntry], vaults: &[VaultChainEntry]) -> String {
    let mut p = format!(
        "# Written by `switchyard devnet up`: one co-signer's policy.\nlisten = \"127.0.0.1:{port}\"\nstore = \"cosigner.db\"\nkeystore = \"key.json\"\ndaemons = [\"{}\"]\nmax_skew_ms = 30000\nmax_ttl_s = 86400\nwindow_ms = 86400000\ndeny_list = \"../deny.txt\"\nsolana_keystore = \"sol.json\"\n",
        Eip712Signer::from_hex("identity", &keys.identity)
            .map(|k| k.address().to_string())
            .unwrap_or_default()
    );
    for c in chains {
        p.push_str(&format!(
            "\n[[chain]]\nid = \"{}\"\nchain_id = {}\nbatchers = [\"{}\"]\nescrows = [\"{}\"]\ntreasuries = [\"{}\"]\ntokens = [{{ address = \"{}\", decimals = {} }}]\nmax_batch_items = 500\nmax_item_usd = 1000000\nmax_recipient_usd = 5000000\nbudget_usd = 50000000\n",
            c.id, c.chain_id, c.batcher, c.escrow, c.treasury, c.token.0, c.token.1
        ));
    }
    for v in vaults {
        p.push_str(&format!(
            "\n# Bridged through its vault: a source and destination of escrow legs.\n[[chain]]\nid = \"{}\"\nchain_id = {}\ntokens = []\nmax_batch_items = 500\nmax_item_usd = 1000000\nmax_recipient_usd = 5000000\nbudget_usd = 50000000\n",
            v.id, v.domain
        ));
        let signers: Vec<String> = v.signers.iter().map(|s| format!("\"{s}\"")).collect();
        p.push_str(&format!(
            "\n# Its bridge vault: releases this co-signer signs with its Solana key.\n[[vault]]\nid = \"{}\"\nvault = \"{}\"\nmultisig = \"{}\"\nmint = \"{}\"\ndecimals = {}\nthreshold = {}\nsigners = [{}]\nmax_item_usd = 1000000\nmax_recipient_usd = 5000000\nbudget_usd = 50000000\n",
            v.id,
            v.vault,
            v.multisig,
            v.mint,
            v.decimals,
            v.threshold,
            signers.join(", ")
        ));
    }
    p
}

/// Writes the policies and the deny list, starts the co-signers and
/// waits for each to listen; its port is then written into its policy, so
/// a restart of it (`switchyard signer serve --config ...`) serves there.
pub async fn start(
    dir: &Path,
    keys: &Keys,
    chains: &[ChainEntry],
    vaults: &[VaultChainEntry],
) -> Result<Running, Failure> {
    let deny = dir.join("deny.txt");
    if !deny.exists() {
        std::fs::write(
            &deny,
            "# Deny list: `<chain> <address>` per line (`*` for every chain).\n# The daemon and every co-signer reload it when it changes.\n",
        )?;
    }
    let exe = std::env::current_exe().wrap_err("locating the switchyard binary")?;
    let mut running = Running {
        children: Vec::new(),
        list: Vec::new(),
    };
    for ((name, d, address), solana) in keys.members.iter().zip(&keys.solana) {
        let config = d.join("signer.toml");
        std::fs::write(&config, policy(keys, 0, chains, vaults))?;
        let mut child = Command::new(&exe)
            .args(["signer", "serve", "--config"])
            .arg(&config)
            .env(switchyard_cosigner::keys::PASSPHRASE_ENV, &keys.passphrase)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .wrap_err("starting a co-signer")?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| eyre!("co-signer stdout not captured"))?;
        let pid = child.id();
        running.children.push(child);
        let port = crate::devnet::listening_port(stdout)
            .await
            .map_err(|e| eyre!("{name}: {e}"))?;
        std::fs::write(&config, policy(keys, port, chains, vaults))?;
        tracing::info!("{name}: co-signer {address} on port {port}");
        running.list.push(json!({
            "name": name,
            "url": format!("http://127.0.0.1:{port}"),
            "address": address.to_string(),
            "solana_key": solana,
            "pid": pid,
            "config": config.display().to_string(),
        }));
    }
    Ok(running)
}

/// The daemon config's `[relayer.signing]` section.
pub fn config_section(running: &Running) -> String {
    let mut s = format!("\n[relayer.signing]\nthreshold = {THRESHOLD}\ntimeout_ms = 5000\n");
    for c in &running.list {
        s.push_str(&format!(
            "\n[[relayer.signing.cosigner]]\nname = {}\nurl = {}\naddress = {}\nsolana_key = {}\n",
            c["name"], c["url"], c["address"], c["solana_key"]
        ));
    }
    s
}
