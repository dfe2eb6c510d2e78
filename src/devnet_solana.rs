//! A Solana chain of the devnet: the local validator (`scripts/setup` builds
//! it once into the cache) on a fresh ledger under the devnet's directory,
//! the topology's mint created at its fixed address (6 decimals), the hot
//! wallet (`SWITCHYARD_SOLANA_KEY`, else the devnet's fixed one) funded
//! with SOL for fees and rent and with TUSD as its payout float.

use eyre::eyre;
use serde_json::json;
use switchyard_chains::solana::local::LocalValidator;
use switchyard_chains::solana::setup::{
    create_mint_at, create_multisig_at, devnet_keypair, ensure_token_account, fund, mint_to,
};
use switchyard_chains::solana::{SolanaSigner, parse_keypair};
use switchyard_core::address::Address;
use switchyard_core::topology::Topology;

use crate::Failure;
use crate::cli::DevnetUpArgs;

/// SOL given to the hot wallet: fees and the rent of recipients' token
/// accounts (about 0.002 SOL each).
const HOT_WALLET_SOL: u64 = 100;

/// TUSD minted to the hot wallet's token account (its payout float).
const FLOAT_TUSD: u64 = 1_000_000;

/// TUSD minted to the bridge vault (what releases to Solana pay from).
const VAULT_TUSD: u64 = 1_000_000;

/// The vault's signer set: 2 of these 3 (fixed devnet keys; public
/// knowledge, never for real funds).
const VAULT_SIGNERS: usize = 3;
const VAULT_THRESHOLD: u8 = 2;

fn vault_signer(k: usize) -> switchyard_chains::solana::SolanaKeypair {
    devnet_keypair(&format!("vault-signer-{k}"))
}

/// The vault's multisig (its address is fixed, so the vault's is too).
fn vault_multisig() -> switchyard_chains::solana::SolanaKeypair {
    devnet_keypair("vault-multisig")
}

/// The vault signers' secret seeds, in the multisig's order: signer `k`
/// is held by co-signer `k + 1` (never by the daemon).
pub(crate) fn vault_signer_seeds() -> Vec<[u8; 32]> {
    (0..VAULT_SIGNERS)
        .map(|k| *vault_signer(k).secret_bytes())
        .collect()
}

fn port_of(url: &str) -> Option<u16> {
    url.rsplit(':').next()?.trim_end_matches('/').parse().ok()
}

fn free_port() -> eyre::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts chain `i` of `topology` (a Solana chain) and sets it up; returns
/// the validator (stopped on drop) and its `devnet.json` entry.
pub(crate) async fn up(
    args: &DevnetUpArgs,
    topology: &Topology,
    i: usize,
    hot_wallet_key: &str,
) -> Result<(LocalValidator, serde_json::Value), Failure> {
    let c = &topology.chains()[i];
    let port = if args.free_ports {
        free_port()?
    } else {
        c.rpc_urls
            .first()
            .and_then(|u| port_of(u))
            .ok_or_else(|| Failure::Usage(format!("chain[{i}].rpc_url: no port")))?
    };
    let asset = topology
        .assets()
        .iter()
        .find(|a| a.chain.ix() == i)
        .ok_or_else(|| Failure::Usage(format!("chain[{i}]: no [[asset]] on this Solana chain")))?;
    let mint = devnet_keypair("mint");
    if asset.address != Address::Solana(mint.pubkey().to_bytes()) {
        return Err(Failure::Usage(format!(
            "asset {}: the devnet creates its mint at {}, the topology says {}",
            asset.key,
            mint.pubkey(),
            asset.address
        )));
    }
    let multisig = vault_multisig();
    let vault =
        switchyard_chains::solana::associated_token_account(&multisig.pubkey(), &mint.pubkey());
    if c.escrow.is_some() && c.escrow != Some(Address::Solana(vault.to_bytes())) {
        return Err(Failure::Usage(format!(
            "chain {}: the devnet creates its bridge vault at {vault}, contracts.escrow says {}",
            c.id,
            c.escrow.map(|e| e.to_string()).unwrap_or_default()
        )));
    }
    let hot = parse_keypair(switchyard_node::solana::KEY_VAR, hot_wallet_key)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let ledger = args.dir.join(format!("{}-ledger", c.id));
    let _ = std::fs::remove_dir_all(&ledger);
    tracing::info!(
        "{}: starting the local Solana validator on port {port}",
        c.id
    );
    let faucet = switchyard_chains::solana::SolanaKeypair::new();
    let v = LocalValidator::start_at(&ledger, port, faucet)
        .await
        .map_err(|e| eyre!("{}: {e}", c.id))?;
    let rpc = v.rpc();
    let faucet = &v.faucet;
    tracing::info!(
        "{}: validator on {}; creating mint {} ({} decimals), funding hot wallet {}",
        c.id,
        v.url,
        mint.pubkey(),
        asset.decimals,
        hot.pubkey()
    );
    let setup = async {
        fund(&rpc, faucet, &hot.pubkey(), HOT_WALLET_SOL * 1_000_000_000).await?;
        create_mint_at(&rpc, faucet, &mint, &faucet.pubkey(), asset.decimals).await?;
        let float = ensure_token_account(&rpc, faucet, &hot.pubkey(), &mint.pubkey()).await?;
        let unit = 10u64.pow(u32::from(asset.decimals));
        mint_to(
            &rpc,
            faucet,
            faucet,
            &mint.pubkey(),
            &float,
            FLOAT_TUSD.saturating_mul(unit),
        )
        .await?;
        // The vault: the multisig of the signer set, its token account, and
        // its liquidity.
        let signers: Vec<_> = (0..VAULT_SIGNERS)
            .map(|k| vault_signer(k).pubkey())
            .collect();
        create_multisig_at(&rpc, faucet, &multisig, &signers, VAULT_THRESHOLD).await?;
        let vault = ensure_token_account(&rpc, faucet, &multisig.pubkey(), &mint.pubkey()).await?;
        mint_to(
            &rpc,
            faucet,
            faucet,
            &mint.pubkey(),
            &vault,
            VAULT_TUSD.saturating_mul(unit),
        )
        .await?;
        Ok::<_, switchyard_core::chain::ChainError>(float)
    };
    let float = setup.await.map_err(|e| eyre!("setting up {}: {e}", c.id))?;
    let entry = json!({
        "chain": c.id.as_str(),
        "kind": "solana",
        "rpc_url": v.url,
        "token": mint.pubkey().to_string(),
        "hot_wallet": hot.pubkey().to_string(),
        "float": float.to_string(),
        "vault": vault.to_string(),
        "vault_multisig": multisig.pubkey().to_string(),
        "vault_threshold": VAULT_THRESHOLD,
        "vault_signers": (0..VAULT_SIGNERS).map(|k| vault_signer(k).pubkey().to_string()).collect::<Vec<_>>(),
        "decimals": asset.decimals,
        "pid": v.pid(),
    });
    Ok((v, entry))
}
