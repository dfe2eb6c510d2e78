//! The bridge vault: an SPL token account owned by an SPL Token multisig
//! of the bridge signer set (M of N), with no custom program.
//!
//! - **Deposit** (Solana -> another chain): a `transfer_checked` from the
//!   hot wallet's token account into the vault, with a memo naming the
//!   destination. Its id, on the other side, is the keccak-256 of the
//!   transaction's signature.
//! - **Release** (another chain -> Solana): one transaction, paid for by the
//!   hot wallet and signed by M of the vault's signers:
//!   1. the recipient's associated token account, created if missing;
//!   2. the deposit's **receipt**: lamports into, then `allocate_with_seed`
//!      of, the account at `create_with_seed(fee payer, seed, memo
//!      program)`, `seed` derived from (source domain, deposit id). An
//!      account can be allocated only once (the system program refuses one
//!      that has data or another owner), and nothing can ever take it back
//!      (the memo program owns it and writes no account), so a second
//!      release of the deposit fails as a whole, whoever signed it and
//!      however many times;
//!   3. `transfer_checked` out of the vault, authority the multisig;
//!   4. a memo naming the deposit.
//!
//!   Lamports sent to the receipt's address beforehand (to block it) do not
//!   stop the allocation: only data or an owner would, and only the fee
//!   payer's key can give it either.
//!
//! The vault's signers check what they sign ([`check_release`]): they
//! decode the message and refuse anything but exactly these instructions
//! for the release they were told of. The history check before a release is
//! the receipt: a release of the deposit is final if and only if its
//! receipt exists at finalized commitment ([`SolanaChain::receipt_exists`]).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use solana_commitment_config::CommitmentConfig;
use solana_sdk::instruction::Instruction;
use solana_sdk::message::Message;
use solana_sdk::program_pack::Pack;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::{Keypair, Signature, Signer};
use switchyard_core::chain::TxId;
use switchyard_core::chain::vm::{LineOutcome, PayoutLine, VaultRelease, VmFuture, VmVault};
use switchyard_core::chain::{ChainError, ChainResult};

use super::payout::{PayoutPlan, PlanIx};
use super::{SolanaChain, associated_token_account, classify, memo_program, token_program};

/// Bytes of a receipt account.
pub const RECEIPT_BYTES: u64 = 1;

/// Compute units a release asks for besides its memo's (the recipient's
/// account created, multisig checks and the receipt included).
pub const RELEASE_UNITS: u32 = 80_000;

/// Compute units a deposit asks for, besides its memo's.
pub const DEPOSIT_UNITS: u32 = 10_000;

/// The seed of a deposit's receipt: 32 hex digits of the keccak-256 of
/// (source domain, deposit id) (a seed holds at most 32 bytes).
pub fn receipt_seed(source_domain: u64, deposit_id: &[u8; 32]) -> String {
    let mut b = Vec::with_capacity(40);
    b.extend_from_slice(&source_domain.to_be_bytes());
    b.extend_from_slice(deposit_id);
    let h = alloy_primitives::keccak256(&b);
    h[..16].iter().map(|x| format!("{x:02x}")).collect()
}

/// The receipt's address under `base` (the vault's receipt key: its
/// multisig's first signer).
pub fn receipt_address(
    base: &Pubkey,
    source_domain: u64,
    deposit_id: &[u8; 32],
) -> ChainResult<Pubkey> {
    Pubkey::create_with_seed(
        base,
        &receipt_seed(source_domain, deposit_id),
        &memo_program(),
    )
    .map_err(|e| ChainError::Malformed(format!("receipt address: {e}")))
}

/// The receipt of a release of the deposit from the vault of `ctx`.
pub fn release_receipt(
    ctx: &VaultContext,
    source_domain: u64,
    deposit_id: &[u8; 32],
) -> ChainResult<Pubkey> {
    receipt_address(&ctx.receipt_base()?, source_domain, deposit_id)
}

/// The memo of a release.
pub fn release_memo(source_domain: u64, deposit_id: &[u8; 32]) -> String {
    let hex: String = deposit_id.iter().map(|x| format!("{x:02x}")).collect();
    format!("switchyard:release:{source_domain}:0x{hex}")
}

/// The id other chains know a Solana deposit by: keccak-256 of its
/// transaction's signature.
pub fn deposit_id(signature: &[u8]) -> [u8; 32] {
    alloy_primitives::keccak256(signature).0
}

/// What the vault's signers are told a release is, carried in the payload
/// next to its instructions; they sign only a message that does exactly
/// this.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseCheck {
    /// Bridge domain of the source chain.
    pub source_domain: u64,
    /// The deposit.
    pub deposit_id: [u8; 32],
    /// The recipient's wallet.
    pub recipient: [u8; 32],
    /// Base units.
    pub amount: u64,
    /// The signers whose signatures the message needs, in its order.
    pub signers: Vec<[u8; 32]>,
}

/// The vault a chain's releases come from, as the signers see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultContext {
    /// The vault token account.
    pub vault: Pubkey,
    /// The multisig owning it.
    pub multisig: Pubkey,
    /// The mint.
    pub mint: Pubkey,
    /// Its decimals.
    pub decimals: u8,
    /// The fee payer (the relayer's hot wallet: the receipts' base).
    pub payer: Pubkey,
    /// Signatures the multisig needs.
    pub threshold: u8,
    /// The multisig's signers.
    pub signers: Vec<Pubkey>,
}

impl VaultContext {
    /// The key receipts are allocated under: the multisig's first signer,
    /// a fixed key of the vault (never the fee payer, which may rotate:
    /// a receipt under another base would let a deposit be paid twice).
    /// Every release is signed by it.
    pub fn receipt_base(&self) -> ChainResult<Pubkey> {
        self.signers
            .first()
            .copied()
            .ok_or_else(|| ChainError::Malformed("the vault's multisig lists no signer".into()))
    }
}

fn receipt_base_of(ctx: &VaultContext) -> Pubkey {
    ctx.signers.first().copied().unwrap_or_default()
}

/// The vault's signer set, as the relayer reaches it.
pub trait VaultSigners: Send + Sync + std::fmt::Debug {
    /// The signers this set can sign with.
    fn keys(&self) -> Vec<Pubkey>;

    /// Signatures of `message` by each of `check.signers`, after checking
    /// that it is exactly the release `check` describes. A refusal is
    /// [`ChainError::Malformed`] (the payload is wrong, not the network);
    /// signers that cannot answer now are [`ChainError::Transport`].
    fn sign<'a>(
        &'a self,
        ctx: &'a VaultContext,
        check: &'a ReleaseCheck,
        message: &'a Message,
    ) -> VmFuture<'a, Vec<(Pubkey, Signature)>>;
}

/// Signer keys held by this process (the devnet's signer set, tests): each
/// checks the message before signing, as a co-signer would.
pub struct LocalVaultSigners {
    keys: Vec<Keypair>,
}

impl std::fmt::Debug for LocalVaultSigners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalVaultSigners")
            .field(
                "keys",
                &self.keys.iter().map(Keypair::pubkey).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl LocalVaultSigners {
    /// Signers of these keys.
    pub fn new(keys: Vec<Keypair>) -> Self {
        Self { keys }
    }
}

impl VaultSigners for LocalVaultSigners {
    fn keys(&self) -> Vec<Pubkey> {
        self.keys.iter().map(Keypair::pubkey).collect()
    }

    fn sign<'a>(
        &'a self,
        ctx: &'a VaultContext,
        check: &'a ReleaseCheck,
        message: &'a Message,
    ) -> VmFuture<'a, Vec<(Pubkey, Signature)>> {
        Box::pin(async move {
            check_release(ctx, check, message).map_err(ChainError::Malformed)?;
            let bytes = message.serialize();
            let mut out = Vec::with_capacity(check.signers.len());
            for s in &check.signers {
                let s = Pubkey::new_from_array(*s);
                let key = self.keys.iter().find(|k| k.pubkey() == s).ok_or_else(|| {
                    ChainError::Transport(format!("no key of vault signer {s} here"))
                })?;
                out.push((s, key.sign_message(&bytes)));
            }
            Ok(out)
        })
    }
}

/// Whether `message` is exactly the release `check` describes from the
/// vault of `ctx`: fee payer the relayer; compute budget, the recipient's
/// idempotent account creation, the receipt (transfer, then allocation, at
/// the deposit's address), one `transfer_checked` of the amount from the
/// vault to the recipient's token account with the multisig as authority
/// and M of its signers, and the deposit's memo. Nothing else.
pub fn check_release(
    ctx: &VaultContext,
    check: &ReleaseCheck,
    message: &Message,
) -> Result<(), String> {
    let keys = &message.account_keys;
    if keys.first() != Some(&ctx.payer) {
        return Err(format!("the fee payer is not the relayer {}", ctx.payer));
    }
    // A signer's key paying the fees would put its own lamports behind
    // whatever price the message sets.
    if ctx.signers.contains(&ctx.payer) {
        return Err(format!(
            "the fee payer {} is one of the vault's signers",
            ctx.payer
        ));
    }
    let want_signers: Vec<Pubkey> = check
        .signers
        .iter()
        .map(|s| Pubkey::new_from_array(*s))
        .collect();
    let distinct = (1..want_signers.len()).all(|j| !want_signers[..j].contains(&want_signers[j]));
    if !distinct
        || want_signers.len() < usize::from(ctx.threshold)
        || want_signers.iter().any(|s| !ctx.signers.contains(s))
    {
        return Err(format!(
            "the release names {} signers, not {} of the vault's",
            want_signers.len(),
            ctx.threshold
        ));
    }
    let recipient = Pubkey::new_from_array(check.recipient);
    let ata = associated_token_account(&recipient, &ctx.mint);
    let base = ctx.receipt_base().map_err(|e| e.to_string())?;
    if !want_signers.contains(&base) {
        return Err(format!(
            "the release is not signed by the vault's receipt key {base}"
        ));
    }
    let receipt = receipt_address(&base, check.source_domain, &check.deposit_id)
        .map_err(|e| e.to_string())?;
    let seed = receipt_seed(check.source_domain, &check.deposit_id);
    let memo = release_memo(check.source_domain, &check.deposit_id);
    let key = |i: u8| keys.get(usize::from(i)).copied();
    let (mut transfers, mut receipts, mut memos) = (0, 0, 0);
    for (n, ix) in message.instructions.iter().enumerate() {
        let program = key(ix.program_id_index).ok_or("an instruction names no program")?;
        let acct = |k: usize| ix.accounts.get(k).and_then(|&a| key(a));
        let bad = |what: &str| Err(format!("instruction {n}: {what}"));
        if program == solana_compute_budget_interface::id() {
            continue;
        } else if program == spl_associated_token_account_interface::program::id() {
            // CreateIdempotent (1): funding, account, wallet, mint, ...
            if ix.data != [1]
                || acct(0) != Some(ctx.payer)
                || acct(1) != Some(ata)
                || acct(2) != Some(recipient)
                || acct(3) != Some(ctx.mint)
            {
                return bad("an account creation other than the recipient's");
            }
        } else if program == solana_system_interface::program::id() {
            let i: solana_system_interface::instruction::SystemInstruction =
                bincode::deserialize(&ix.data)
                    .map_err(|_| format!("instruction {n}: undecodable system instruction"))?;
            match i {
                solana_system_interface::instruction::SystemInstruction::Transfer { .. }
                    if acct(0) == Some(ctx.payer) && acct(1) == Some(receipt) => {}
                solana_system_interface::instruction::SystemInstruction::AllocateWithSeed {
                    base,
                    seed: s,
                    space,
                    owner,
                } if base == receipt_base_of(ctx)
                    && s == seed
                    && space == RECEIPT_BYTES
                    && owner == memo_program()
                    && acct(0) == Some(receipt) =>
                {
                    receipts += 1;
                }
                _ => return bad("a system instruction other than the deposit's receipt"),
            }
        } else if program == token_program() {
            let i = spl_token_interface::instruction::TokenInstruction::unpack(&ix.data)
                .map_err(|_| format!("instruction {n}: undecodable token instruction"))?;
            let spl_token_interface::instruction::TokenInstruction::TransferChecked {
                amount,
                decimals,
            } = i
            else {
                return bad("a token instruction other than transfer_checked");
            };
            let signers: Vec<Pubkey> = (4..ix.accounts.len()).filter_map(acct).collect();
            if acct(0) != Some(ctx.vault)
                || acct(1) != Some(ctx.mint)
                || acct(2) != Some(ata)
                || acct(3) != Some(ctx.multisig)
                || amount != check.amount
                || decimals != ctx.decimals
                || signers != want_signers
            {
                return bad(&format!(
                    "not a transfer of {} from the vault to {recipient}'s token account",
                    check.amount
                ));
            }
            transfers += 1;
        } else if program == memo_program() {
            if ix.data != memo.as_bytes() {
                return bad("a memo other than the deposit's");
            }
            memos += 1;
        } else {
            return bad(&format!("program {program} is not part of a release"));
        }
    }
    if (transfers, receipts, memos) != (1, 1, 1) {
        return Err(format!(
            "{transfers} vault transfers, {receipts} receipts and {memos} memos; a release has one of each"
        ));
    }
    Ok(())
}

/// A message as a signer receives it: the bytes it signs, decoded, and
/// refused unless they are exactly that message's serialization (so what
/// is checked is what is signed).
pub fn decode_message(bytes: &[u8]) -> Result<Message, String> {
    let m: Message =
        bincode::deserialize(bytes).map_err(|e| format!("not a Solana message: {e}"))?;
    if m.serialize() != bytes {
        return Err("the bytes are not a message's exact serialization".into());
    }
    Ok(m)
}

/// The instructions of the release `check` from the vault of `ctx`, its
/// receipt funded with `receipt_rent` lamports (what [`check_release`]
/// accepts, after the compute budget).
pub fn release_instructions(
    ctx: &VaultContext,
    check: &ReleaseCheck,
    receipt_rent: u64,
) -> ChainResult<Vec<Instruction>> {
    let recipient = Pubkey::new_from_array(check.recipient);
    let base = ctx.receipt_base()?;
    let receipt = receipt_address(&base, check.source_domain, &check.deposit_id)?;
    let ata = associated_token_account(&recipient, &ctx.mint);
    let signers: Vec<Pubkey> = check
        .signers
        .iter()
        .map(|s| Pubkey::new_from_array(*s))
        .collect();
    let refs: Vec<&Pubkey> = signers.iter().collect();
    Ok(vec![
        spl_associated_token_account_interface::instruction::create_associated_token_account_idempotent(
            &ctx.payer,
            &recipient,
            &ctx.mint,
            &token_program(),
        ),
        solana_system_interface::instruction::transfer(&ctx.payer, &receipt, receipt_rent),
        solana_system_interface::instruction::allocate_with_seed(
            &receipt,
            &base,
            &receipt_seed(check.source_domain, &check.deposit_id),
            RECEIPT_BYTES,
            &memo_program(),
        ),
        spl_token_interface::instruction::transfer_checked(
            &token_program(),
            &ctx.vault,
            &ctx.mint,
            &ata,
            &ctx.multisig,
            &refs,
            check.amount,
            ctx.decimals,
        )
        .map_err(|e| ChainError::Malformed(format!("transfer_checked: {e}")))?,
        spl_memo_interface::instruction::build_memo(
            &memo_program(),
            release_memo(check.source_domain, &check.deposit_id).as_bytes(),
            &[],
        ),
    ])
}

/// What a chain knows of its vault: where it is and who signs for it.
#[derive(Clone, Debug)]
pub struct Vault {
    /// As the signers see it.
    pub ctx: VaultContext,
    /// The signer set.
    pub signers: Arc<dyn VaultSigners>,
}

impl SolanaChain {
    /// Installs the bridge vault `vault` (a token account of this chain's
    /// mint owned by an SPL Token multisig), released from by `signers`.
    /// Reads both accounts: an account of another mint or owner, or a set
    /// that holds fewer of the multisig's keys than it needs, is refused.
    pub async fn with_vault(
        mut self,
        vault: Pubkey,
        signers: Arc<dyn VaultSigners>,
    ) -> ChainResult<Self> {
        let read = |what: &'static str, a: Option<solana_sdk::account::Account>| {
            a.ok_or_else(|| ChainError::Malformed(format!("the vault's {what} does not exist")))
        };
        let accounts = self
            .rpc
            .get_multiple_accounts_with_commitment(&[vault], CommitmentConfig::confirmed())
            .await
            .map_err(classify)?
            .value;
        let acc = read("token account", accounts.into_iter().next().flatten())?;
        if acc.owner != token_program() {
            return Err(ChainError::Malformed(format!(
                "vault {vault} is not an SPL Token account (owner {})",
                acc.owner
            )));
        }
        let token = spl_token_interface::state::Account::unpack(&acc.data)
            .map_err(|_| ChainError::Malformed(format!("vault {vault} is not a token account")))?;
        if token.mint != self.mint {
            return Err(ChainError::Malformed(format!(
                "vault {vault} holds mint {}, not {}",
                token.mint, self.mint
            )));
        }
        let multisig = token.owner;
        if vault != associated_token_account(&multisig, &self.mint) {
            return Err(ChainError::Malformed(format!(
                "vault {vault} is not its multisig {multisig}'s associated token account"
            )));
        }
        let ms = self
            .rpc
            .get_multiple_accounts_with_commitment(&[multisig], CommitmentConfig::confirmed())
            .await
            .map_err(classify)?
            .value;
        let ms = read("multisig", ms.into_iter().next().flatten())?;
        if ms.owner != token_program() {
            return Err(ChainError::Malformed(format!(
                "vault {vault}'s owner {multisig} is not an SPL Token multisig"
            )));
        }
        let ms = spl_token_interface::state::Multisig::unpack(&ms.data).map_err(|_| {
            ChainError::Malformed(format!(
                "vault {vault}'s owner {multisig} is not an SPL Token multisig"
            ))
        })?;
        let listed: Vec<Pubkey> = ms.signers.iter().take(usize::from(ms.n)).copied().collect();
        if listed.contains(&self.payer()) {
            return Err(ChainError::Malformed(format!(
                "the hot wallet {} is one of vault {vault}'s signers: a release would spend its lamports at the message's price",
                self.payer()
            )));
        }
        let ours = signers
            .keys()
            .into_iter()
            .filter(|k| listed.contains(k))
            .count();
        if ours < usize::from(ms.m) {
            return Err(ChainError::Malformed(format!(
                "vault {vault} needs {} of its signers; {ours} are configured",
                ms.m
            )));
        }
        self.vault = Some(Vault {
            ctx: VaultContext {
                vault,
                multisig,
                mint: self.mint,
                decimals: self.decimals,
                payer: self.payer(),
                threshold: ms.m,
                signers: listed,
            },
            signers,
        });
        Ok(self)
    }

    /// Whether a bridge vault is installed.
    pub fn has_vault(&self) -> bool {
        self.vault.is_some()
    }

    pub(super) fn vault_side(&self) -> ChainResult<&Vault> {
        self.vault
            .as_ref()
            .ok_or_else(|| ChainError::Malformed("this chain has no bridge vault".into()))
    }

    /// Whether the deposit's receipt exists at finalized commitment: a
    /// release of it executed and is final.
    pub async fn receipt_exists(
        &self,
        source_domain: u64,
        deposit_id: &[u8; 32],
    ) -> ChainResult<bool> {
        let at = release_receipt(&self.vault_side()?.ctx, source_domain, deposit_id)?;
        let r = self
            .rpc
            .get_multiple_accounts_with_commitment(&[at], CommitmentConfig::finalized())
            .await
            .map_err(classify)?
            .value;
        Ok(r.into_iter()
            .next()
            .flatten()
            .is_some_and(|a| a.owner == memo_program() && !a.data.is_empty()))
    }

    /// The plan of a release (its payload's instructions) and what its
    /// signers check.
    pub async fn release_plan(&self, r: &VaultRelease) -> ChainResult<(PayoutPlan, ReleaseCheck)> {
        let v = self.vault_side()?;
        let recipient: Pubkey = r.recipient.parse().map_err(|_| {
            ChainError::Malformed(format!(
                "release: {:?} is not a Solana address",
                r.recipient
            ))
        })?;
        let amount = u64::try_from(r.amount).map_err(|_| {
            ChainError::Malformed(format!("release: {} does not fit a u64", r.amount))
        })?;
        // A token account's address taken for a wallet would strand the
        // funds in an account nobody controls: never released there.
        match self.recipients(&[recipient]).await?.pop() {
            Some(super::Recipient::TokenAccount) => {
                return Err(ChainError::Malformed(format!(
                    "release: {recipient} is a token account, not a wallet"
                )));
            }
            Some(super::Recipient::Unusable(why)) => {
                return Err(ChainError::WouldRevert(format!(
                    "release: {recipient} cannot receive: {why}"
                )));
            }
            _ => {}
        }
        let mine = v.signers.keys();
        // The receipt key signs every release; the others as available.
        let base = v.ctx.receipt_base()?;
        if !mine.contains(&base) {
            return Err(ChainError::Malformed(format!(
                "the vault's receipt key {base} (its multisig's first signer) is not among the configured signers"
            )));
        }
        let signers: Vec<Pubkey> = v
            .ctx
            .signers
            .iter()
            .filter(|s| mine.contains(s))
            .take(usize::from(v.ctx.threshold))
            .copied()
            .collect();
        let receipt_rent = self
            .rpc
            .get_minimum_balance_for_rent_exemption(RECEIPT_BYTES as usize)
            .await
            .map_err(classify)?;
        let ata_rent = self.token_account_rent().await?;
        let check = ReleaseCheck {
            source_domain: r.source_domain,
            deposit_id: r.deposit_id,
            recipient: recipient.to_bytes(),
            amount,
            signers: signers.iter().map(|s| s.to_bytes()).collect(),
        };
        let ixs = release_instructions(&v.ctx, &check, receipt_rent)?;
        let memo = release_memo(r.source_domain, &r.deposit_id);
        let plan = PayoutPlan {
            cu_limit: RELEASE_UNITS.saturating_add(super::payout::memo_units(memo.len())),
            rent: receipt_rent.saturating_add(ata_rent),
            creates: 1,
            instructions: ixs.iter().map(PlanIx::from_ix).collect(),
        };
        Ok((plan, check))
    }

    /// The plan of a deposit of `amount` into the vault with `memo`.
    pub fn deposit_plan(&self, amount: u128, memo: &str) -> ChainResult<PayoutPlan> {
        let v = self.vault_side()?;
        let amount = u64::try_from(amount)
            .map_err(|_| ChainError::Malformed(format!("deposit: {amount} does not fit a u64")))?;
        let payer = self.payer();
        let ixs = [
            spl_token_interface::instruction::transfer_checked(
                &token_program(),
                &self.float_account(),
                &self.mint,
                &v.ctx.vault,
                &payer,
                &[],
                amount,
                self.decimals,
            )
            .map_err(|e| ChainError::Malformed(format!("transfer_checked: {e}")))?,
            spl_memo_interface::instruction::build_memo(&memo_program(), memo.as_bytes(), &[]),
        ];
        Ok(PayoutPlan {
            cu_limit: DEPOSIT_UNITS.saturating_add(super::payout::memo_units(memo.len())),
            rent: 0,
            creates: 0,
            instructions: ixs.iter().map(PlanIx::from_ix).collect(),
        })
    }
}

/// The prefix of a payload that carries a release's check (no payout plan
/// starts with it: read as its compute limit, it is far past
/// [`super::MAX_UNITS`]).
const WITH_CHECK: &[u8; 4] = b"SYv2";

/// A lane payload: the plan, and for a release, what its signers check.
/// Payouts and deposits encode as their plan alone (as stored before
/// releases existed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// The instructions and budget.
    pub plan: PayoutPlan,
    /// The release the vault's signers are asked to sign.
    pub release: Option<ReleaseCheck>,
}

impl Payload {
    /// The stored form.
    pub fn encode(&self) -> Vec<u8> {
        match &self.release {
            None => self.plan.encode(),
            Some(_) => {
                let mut out = WITH_CHECK.to_vec();
                // Integers, arrays and vectors: bincode cannot fail on it.
                out.extend(bincode::serialize(self).unwrap_or_default());
                out
            }
        }
    }

    /// Reads a stored payload.
    pub fn decode(b: &[u8]) -> ChainResult<Self> {
        match b.strip_prefix(WITH_CHECK.as_slice()) {
            Some(rest) => bincode::deserialize(rest)
                .map_err(|e| ChainError::Malformed(format!("stored Solana payload: {e}"))),
            None => Ok(Self {
                plan: PayoutPlan::decode(b)?,
                release: None,
            }),
        }
    }
}

impl VmVault for SolanaChain {
    fn vault(&self) -> String {
        self.vault
            .as_ref()
            .map(|v| v.ctx.vault.to_string())
            .unwrap_or_default()
    }

    fn vault_balance(&self) -> VmFuture<'_, u128> {
        Box::pin(async move {
            let v = self.vault_side()?.ctx.vault;
            self.token_account_balance(&v).await
        })
    }

    fn release_payload<'a>(&'a self, r: &'a VaultRelease) -> VmFuture<'a, Vec<u8>> {
        Box::pin(async move {
            let (plan, check) = self.release_plan(r).await?;
            Ok(Payload {
                plan,
                release: Some(check),
            }
            .encode())
        })
    }

    fn released(&self, source_domain: u64, deposit_id: [u8; 32]) -> VmFuture<'_, bool> {
        Box::pin(async move { self.receipt_exists(source_domain, &deposit_id).await })
    }

    fn deposit_payload<'a>(&'a self, amount: u128, memo: &'a str) -> VmFuture<'a, Vec<u8>> {
        Box::pin(async move { Ok(self.deposit_plan(amount, memo)?.encode()) })
    }

    fn deposit_outcome<'a>(&'a self, id: &'a TxId, amount: u128) -> VmFuture<'a, LineOutcome> {
        Box::pin(async move {
            let v = self.vault_side()?;
            // The vault is its multisig's associated token account: the
            // multisig is the "wallet" credited.
            let line = PayoutLine {
                id: "deposit".into(),
                recipient: v.ctx.multisig.to_string(),
                amount,
                memo: None,
            };
            let mut out = self.line_outcomes(id, std::slice::from_ref(&line)).await?;
            out.pop()
                .ok_or_else(|| ChainError::Malformed("no outcome for the deposit".into()))
        })
    }
}

#[cfg(test)]
#[path = "vault_tests.rs"]
mod tests;
