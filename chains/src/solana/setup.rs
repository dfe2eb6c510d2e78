//! Setting up a local Solana chain for the devnet and the tests: SOL from
//! the genesis account, an SPL mint, token accounts, minting, and an SPL
//! Token multisig owning a vault. Every step is a real transaction,
//! confirmed before the next.

use std::time::Duration;

use solana_client::nonblocking::rpc_client::RpcClient;
use solana_commitment_config::CommitmentConfig;
use solana_sdk::instruction::Instruction;
use solana_sdk::program_pack::Pack;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::{Keypair, Signature, Signer};
use solana_sdk::transaction::Transaction;
use switchyard_core::chain::{ChainError, ChainResult};

use super::{associated_token_account, classify, token_program};

/// Sends `ixs` paid by `payer`, signed by `payer` and `signers`, and waits
/// until it is confirmed.
pub async fn send(
    rpc: &RpcClient,
    payer: &Keypair,
    signers: &[&Keypair],
    ixs: &[Instruction],
) -> ChainResult<Signature> {
    let blockhash = rpc.get_latest_blockhash().await.map_err(classify)?;
    let mut all: Vec<&Keypair> = vec![payer];
    all.extend(signers.iter().copied());
    let tx = Transaction::new_signed_with_payer(ixs, Some(&payer.pubkey()), &all, blockhash);
    rpc.send_and_confirm_transaction(&tx)
        .await
        .map_err(classify)
}

/// Waits until the RPC at `rpc` answers and has produced a block.
pub async fn wait_ready(rpc: &RpcClient, within: Duration) -> ChainResult<()> {
    let until = std::time::Instant::now() + within;
    loop {
        match rpc
            .get_slot_with_commitment(CommitmentConfig::finalized())
            .await
        {
            Ok(s) if s > 0 => return Ok(()),
            Ok(_) | Err(_) if std::time::Instant::now() < until => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(_) => return Err(ChainError::Transport("no finalized slot yet".into())),
            Err(e) => return Err(classify(e)),
        }
    }
}

/// Moves `lamports` from `from` to `to`.
pub async fn fund(
    rpc: &RpcClient,
    from: &Keypair,
    to: &Pubkey,
    lamports: u64,
) -> ChainResult<Signature> {
    let ix = solana_system_interface::instruction::transfer(&from.pubkey(), to, lamports);
    send(rpc, from, &[], &[ix]).await
}

/// Creates a rent-exempt account of `len` bytes owned by the token program
/// and initializes it with `init(address)`, in one transaction; returns its
/// address.
async fn create_token_program_account(
    rpc: &RpcClient,
    payer: &Keypair,
    len: usize,
    init: impl FnOnce(&Pubkey) -> ChainResult<Instruction>,
) -> ChainResult<Pubkey> {
    create_token_program_account_at(rpc, payer, &Keypair::new(), len, init).await
}

/// [`create_token_program_account`] at `account`'s address.
async fn create_token_program_account_at(
    rpc: &RpcClient,
    payer: &Keypair,
    account: &Keypair,
    len: usize,
    init: impl FnOnce(&Pubkey) -> ChainResult<Instruction>,
) -> ChainResult<Pubkey> {
    let rent = rpc
        .get_minimum_balance_for_rent_exemption(len)
        .await
        .map_err(classify)?;
    let create = solana_system_interface::instruction::create_account(
        &payer.pubkey(),
        &account.pubkey(),
        rent,
        u64::try_from(len).unwrap_or(u64::MAX),
        &token_program(),
    );
    let init = init(&account.pubkey())?;
    send(rpc, payer, &[account], &[create, init]).await?;
    Ok(account.pubkey())
}

/// Creates a mint with `decimals`, `authority` minting; returns its address.
pub async fn create_mint(
    rpc: &RpcClient,
    payer: &Keypair,
    authority: &Pubkey,
    decimals: u8,
) -> ChainResult<Pubkey> {
    create_token_program_account(rpc, payer, spl_token_interface::state::Mint::LEN, |mint| {
        spl_token_interface::instruction::initialize_mint2(
            &token_program(),
            mint,
            authority,
            None,
            decimals,
        )
        .map_err(|e| ChainError::Malformed(e.to_string()))
    })
    .await
}

/// [`create_mint`] at the address of `mint` (a devnet's fixed mint).
pub async fn create_mint_at(
    rpc: &RpcClient,
    payer: &Keypair,
    mint: &Keypair,
    authority: &Pubkey,
    decimals: u8,
) -> ChainResult<Pubkey> {
    create_token_program_account_at(
        rpc,
        payer,
        mint,
        spl_token_interface::state::Mint::LEN,
        |m| {
            spl_token_interface::instruction::initialize_mint2(
                &token_program(),
                m,
                authority,
                None,
                decimals,
            )
            .map_err(|e| ChainError::Malformed(e.to_string()))
        },
    )
    .await
}

/// A devnet's fixed keypair for `tag` (its mint, its default hot wallet):
/// the same address on every run, so the devnet topology can name it.
/// Public knowledge: never for real funds.
pub fn devnet_keypair(tag: &str) -> Keypair {
    let seed = alloy_primitives::keccak256(format!("switchyard/devnet/solana/{tag}"));
    Keypair::new_from_array(seed.0)
}

/// Creates `owner`'s associated token account of `mint` if it is missing;
/// returns its address.
pub async fn ensure_token_account(
    rpc: &RpcClient,
    payer: &Keypair,
    owner: &Pubkey,
    mint: &Pubkey,
) -> ChainResult<Pubkey> {
    let ix = spl_associated_token_account_interface::instruction::create_associated_token_account_idempotent(
        &payer.pubkey(),
        owner,
        mint,
        &token_program(),
    );
    send(rpc, payer, &[], &[ix]).await?;
    Ok(associated_token_account(owner, mint))
}

/// Mints `amount` base units of `mint` to the token account `to`.
pub async fn mint_to(
    rpc: &RpcClient,
    payer: &Keypair,
    authority: &Keypair,
    mint: &Pubkey,
    to: &Pubkey,
    amount: u64,
) -> ChainResult<Signature> {
    let ix = spl_token_interface::instruction::mint_to(
        &token_program(),
        mint,
        to,
        &authority.pubkey(),
        &[],
        amount,
    )
    .map_err(|e| ChainError::Malformed(e.to_string()))?;
    send(rpc, payer, &[authority], &[ix]).await
}

/// Transfers `amount` of `mint` (of `decimals`) from `owner`'s associated
/// token account to `to`'s, created if missing; `owner` pays and signs.
pub async fn transfer(
    rpc: &RpcClient,
    owner: &Keypair,
    mint: &Pubkey,
    decimals: u8,
    to: &Pubkey,
    amount: u64,
) -> ChainResult<Signature> {
    let create = spl_associated_token_account_interface::instruction::create_associated_token_account_idempotent(
        &owner.pubkey(),
        to,
        mint,
        &token_program(),
    );
    let pay = spl_token_interface::instruction::transfer_checked(
        &token_program(),
        &associated_token_account(&owner.pubkey(), mint),
        mint,
        &associated_token_account(to, mint),
        &owner.pubkey(),
        &[],
        amount,
        decimals,
    )
    .map_err(|e| ChainError::Malformed(e.to_string()))?;
    send(rpc, owner, &[], &[create, pay]).await
}

/// Creates an SPL Token multisig account of `signers` needing `m` of them;
/// returns its address.
pub async fn create_multisig(
    rpc: &RpcClient,
    payer: &Keypair,
    signers: &[Pubkey],
    m: u8,
) -> ChainResult<Pubkey> {
    create_multisig_at(rpc, payer, &Keypair::new(), signers, m).await
}

/// [`create_multisig`] at `account`'s address (a devnet's fixed vault).
pub async fn create_multisig_at(
    rpc: &RpcClient,
    payer: &Keypair,
    account: &Keypair,
    signers: &[Pubkey],
    m: u8,
) -> ChainResult<Pubkey> {
    let refs: Vec<&Pubkey> = signers.iter().collect();
    create_token_program_account_at(
        rpc,
        payer,
        account,
        spl_token_interface::state::Multisig::LEN,
        |multisig| {
            spl_token_interface::instruction::initialize_multisig2(
                &token_program(),
                multisig,
                &refs,
                m,
            )
            .map_err(|e| ChainError::Malformed(e.to_string()))
        },
    )
    .await
}
