//! Payout transactions: as many `transfer_checked` lines from the hot
//! wallet's token account as fit one legacy transaction, each with an
//! idempotent creation of the recipient's associated token account when it
//! is missing and the line's memo; per-line outcomes from the finalized
//! transaction's token balances.
//!
//! How many fit is computed, not guessed: the plan for the first k lines is
//! built and serialized (with its signature placeholders and the compute
//! budget instructions) until it passes [`PACKET_BYTES`], [`ACCOUNT_LOCKS`]
//! or [`MAX_UNITS`].

use serde::{Deserialize, Serialize};
use solana_commitment_config::CommitmentConfig;
use solana_compute_budget_interface::ComputeBudgetInstruction;
use solana_sdk::account::Account;
use solana_sdk::instruction::{AccountMeta, Instruction};
use solana_sdk::message::Message;
use solana_sdk::program_pack::Pack;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::Signature;
use solana_sdk::transaction::Transaction;
use switchyard_core::chain::vm::{LineOutcome, PayoutLine};
use switchyard_core::chain::{ChainError, ChainResult, TxId};

use super::{SolanaChain, associated_token_account, classify, memo_program, token_program};

/// The most bytes a transaction may have on the wire (IPv6 MTU minus
/// headers).
pub const PACKET_BYTES: usize = 1232;

/// The most accounts one transaction may lock.
pub const ACCOUNT_LOCKS: usize = 64;

/// The most compute units one transaction may ask for.
pub const MAX_UNITS: u32 = 1_400_000;

/// Compute units budgeted per `transfer_checked` line (the SPL Token
/// program measured about 6,200 on the local validator; this is the bound
/// asked for).
pub const LINE_UNITS: u32 = 9_000;

/// Compute units budgeted per creation of an associated token account
/// (measured about 21,000-27,000 when it creates; 5,000 when it exists).
pub const CREATE_UNITS: u32 = 34_000;

/// Compute units budgeted per memo, plus per memo byte.
/// (The memo program validates and logs its text: a 107-byte memo ran
/// out of 19,595 units on the local validator, so at least 183 a byte.)
const MEMO_UNITS: u32 = 2_000;
const MEMO_UNITS_PER_BYTE: u32 = 250;

/// Compute units budgeted for a memo of `bytes`.
pub(crate) fn memo_units(bytes: usize) -> u32 {
    let bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
    MEMO_UNITS.saturating_add(bytes.saturating_mul(MEMO_UNITS_PER_BYTE))
}

/// The two compute budget instructions and slack.
const BASE_UNITS: u32 = 1_000;

/// The bytes of an SPL token account (for rent and to tell token accounts
/// from wallets).
pub const TOKEN_ACCOUNT_BYTES: usize = 165;

/// A transaction's instructions and budget, as the lane stores them (its
/// payload), before a fence and fees make it a signed attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutPlan {
    /// Compute unit limit asked for.
    pub cu_limit: u32,
    /// Lamports the transaction spends beyond fees (rent of the token
    /// accounts it creates), counted in its cost.
    pub rent: u64,
    /// Token accounts it creates.
    pub creates: u32,
    /// The instructions after the compute budget ones.
    pub instructions: Vec<PlanIx>,
}

/// One instruction, in a stable encoding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanIx {
    /// Program id.
    pub program: [u8; 32],
    /// (account, signer, writable).
    pub accounts: Vec<([u8; 32], bool, bool)>,
    /// Instruction data.
    pub data: Vec<u8>,
}

impl PlanIx {
    pub(crate) fn from_ix(ix: &Instruction) -> Self {
        Self {
            program: ix.program_id.to_bytes(),
            accounts: ix
                .accounts
                .iter()
                .map(|a| (a.pubkey.to_bytes(), a.is_signer, a.is_writable))
                .collect(),
            data: ix.data.clone(),
        }
    }

    fn to_ix(&self) -> Instruction {
        Instruction {
            program_id: Pubkey::new_from_array(self.program),
            accounts: self
                .accounts
                .iter()
                .map(|(k, signer, writable)| {
                    let k = Pubkey::new_from_array(*k);
                    if *writable {
                        AccountMeta::new(k, *signer)
                    } else {
                        AccountMeta::new_readonly(k, *signer)
                    }
                })
                .collect(),
            data: self.data.clone(),
        }
    }
}

impl PayoutPlan {
    /// Encodes the plan as the lane's payload.
    pub fn encode(&self) -> Vec<u8> {
        // A plain struct of integers, arrays and vectors: bincode cannot
        // fail on it.
        bincode::serialize(self).unwrap_or_default()
    }

    /// Decodes a stored payload.
    pub fn decode(payload: &[u8]) -> ChainResult<Self> {
        bincode::deserialize(payload)
            .map_err(|e| ChainError::Malformed(format!("stored Solana payload: {e}")))
    }

    /// The full instruction list: compute budget first.
    pub fn instructions(&self, cu_price: u64) -> Vec<Instruction> {
        let mut ixs = Vec::with_capacity(self.instructions.len() + 2);
        ixs.push(ComputeBudgetInstruction::set_compute_unit_limit(
            self.cu_limit,
        ));
        ixs.push(ComputeBudgetInstruction::set_compute_unit_price(cu_price));
        ixs.extend(self.instructions.iter().map(PlanIx::to_ix));
        ixs
    }
}

/// Whether a recipient needs its token account created, and whether it is
/// a wallet at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipient {
    /// A wallet (or an address with no account yet) whose associated token
    /// account exists.
    Ready,
    /// A wallet whose associated token account must be created.
    NeedsAccount,
    /// The address is itself a token account (SPL Token or Token-2022):
    /// paying "its" associated token account would strand the funds.
    TokenAccount,
    /// Its associated token account cannot receive this mint (frozen, or
    /// another mint): why.
    Unusable(String),
}

/// The Token-2022 program: its accounts are token accounts too.
const TOKEN_2022: Pubkey = solana_sdk::pubkey!("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb");

/// What a recipient needs, from its own account and the account at its
/// associated token account address (both as read, `None` when absent).
pub(crate) fn classify_recipient(
    wallet: Option<&Account>,
    ata: Option<&Account>,
    mint: &Pubkey,
) -> Recipient {
    let token_owned = |a: &Account| a.owner == token_program() || a.owner == TOKEN_2022;
    if wallet.is_some_and(|w| token_owned(w) && w.data.len() >= TOKEN_ACCOUNT_BYTES) {
        return Recipient::TokenAccount;
    }
    let Some(a) = ata else {
        return Recipient::NeedsAccount;
    };
    if a.owner != token_program() {
        // Lamports sent to the address, or nothing there yet: the
        // idempotent creation makes it a token account.
        return Recipient::NeedsAccount;
    }
    match spl_token_interface::state::Account::unpack(&a.data) {
        Ok(t) if t.mint != *mint => Recipient::Unusable(format!(
            "its token account holds mint {}, not {mint}",
            t.mint
        )),
        Ok(t) if t.state == spl_token_interface::state::AccountState::Frozen => {
            Recipient::Unusable("its token account is frozen".into())
        }
        Ok(_) => Recipient::Ready,
        Err(_) => Recipient::NeedsAccount,
    }
}

/// Wire size of a legacy transaction with `message`.
fn wire_size(message: &Message) -> usize {
    let sigs = usize::from(message.header.num_required_signatures);
    let tx = Transaction {
        signatures: vec![Signature::default(); sigs],
        message: message.clone(),
    };
    bincode::serialized_size(&tx)
        .ok()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(usize::MAX)
}

impl SolanaChain {
    /// What each of `recipients` (wallet addresses) needs, read at
    /// `confirmed`: whether it is a token account, and whether its
    /// associated token account exists.
    pub async fn recipients(&self, recipients: &[Pubkey]) -> ChainResult<Vec<Recipient>> {
        let mut out = Vec::with_capacity(recipients.len());
        for chunk in recipients.chunks(50) {
            let mut keys: Vec<Pubkey> = chunk.to_vec();
            keys.extend(
                chunk
                    .iter()
                    .map(|r| associated_token_account(r, &self.mint)),
            );
            let accounts = self
                .rpc
                .get_multiple_accounts_with_commitment(&keys, CommitmentConfig::confirmed())
                .await
                .map_err(classify)?
                .value;
            if accounts.len() != keys.len() {
                return Err(ChainError::Malformed(format!(
                    "asked for {} accounts, got {}",
                    keys.len(),
                    accounts.len()
                )));
            }
            let (wallets, atas) = accounts.split_at(chunk.len());
            for (w, a) in wallets.iter().zip(atas) {
                out.push(classify_recipient(w.as_ref(), a.as_ref(), &self.mint));
            }
        }
        Ok(out)
    }

    fn line_instructions(
        &self,
        line: &PayoutLine,
        recipient: &Pubkey,
        create: bool,
    ) -> ChainResult<(Vec<Instruction>, u32)> {
        let amount = u64::try_from(line.amount).map_err(|_| {
            ChainError::Malformed(format!(
                "payout {}: {} does not fit a u64",
                line.id, line.amount
            ))
        })?;
        let payer = self.payer();
        let ata = associated_token_account(recipient, &self.mint);
        let mut ixs = Vec::with_capacity(3);
        let mut units = LINE_UNITS;
        if create {
            ixs.push(
                spl_associated_token_account_interface::instruction::create_associated_token_account_idempotent(
                    &payer,
                    recipient,
                    &self.mint,
                    &token_program(),
                ),
            );
            units = units.saturating_add(CREATE_UNITS);
        }
        ixs.push(
            spl_token_interface::instruction::transfer_checked(
                &token_program(),
                &self.float_account(),
                &self.mint,
                &ata,
                &payer,
                &[],
                amount,
                self.decimals,
            )
            .map_err(|e| ChainError::Malformed(format!("transfer_checked: {e}")))?,
        );
        if let Some(memo) = line.memo.as_deref().filter(|m| !m.is_empty()) {
            ixs.push(spl_memo_interface::instruction::build_memo(
                &memo_program(),
                memo.as_bytes(),
                &[],
            ));
            units = units.saturating_add(memo_units(memo.len()));
        }
        Ok((ixs, units))
    }

    /// The plan paying `lines`, given what each recipient needs.
    fn plan(
        &self,
        lines: &[PayoutLine],
        needs: &[Recipient],
        rent: u64,
    ) -> ChainResult<PayoutPlan> {
        let mut instructions = Vec::new();
        let mut units = BASE_UNITS;
        let mut creates = 0u32;
        for (line, need) in lines.iter().zip(needs) {
            let recipient = parse_wallet(&line.recipient, &line.id)?;
            match need {
                Recipient::TokenAccount => {
                    return Err(ChainError::WouldRevert(format!(
                        "payout {}: {} is a token account, not a wallet",
                        line.id, line.recipient
                    )));
                }
                Recipient::Unusable(why) => {
                    return Err(ChainError::WouldRevert(format!(
                        "payout {}: {} cannot receive: {why}",
                        line.id, line.recipient
                    )));
                }
                Recipient::Ready | Recipient::NeedsAccount => {}
            }
            let create = *need == Recipient::NeedsAccount;
            let (ixs, u) = self.line_instructions(line, &recipient, create)?;
            creates += u32::from(create);
            units = units.saturating_add(u);
            instructions.extend(ixs.iter().map(PlanIx::from_ix));
        }
        Ok(PayoutPlan {
            // Not capped: a plan over MAX_UNITS does not fit (see `fits`).
            cu_limit: units,
            rent: rent.saturating_mul(u64::from(creates)),
            creates,
            instructions,
        })
    }

    /// Whether `plan` fits one transaction: its wire size, its account
    /// locks and its compute budget.
    fn fits(&self, plan: &PayoutPlan) -> bool {
        let payer = self.payer();
        let message = Message::new(&plan.instructions(1), Some(&payer));
        wire_size(&message) <= PACKET_BYTES
            && message.account_keys.len() <= ACCOUNT_LOCKS
            && plan.cu_limit <= MAX_UNITS
    }

    /// Rent-exempt minimum of a token account, in lamports.
    pub async fn token_account_rent(&self) -> ChainResult<u64> {
        self.rpc
            .get_minimum_balance_for_rent_exemption(TOKEN_ACCOUNT_BYTES)
            .await
            .map_err(classify)
    }

    /// How many of `lines`, from the first, fit one transaction.
    pub async fn fit_lines(&self, lines: &[PayoutLine]) -> ChainResult<usize> {
        let wallets = lines
            .iter()
            .map(|l| parse_wallet(&l.recipient, &l.id))
            .collect::<ChainResult<Vec<_>>>()?;
        // Only as many as could possibly fit are looked up.
        let most = lines.len().min(PACKET_BYTES / 40);
        let needs = self.recipients(&wallets[..most]).await?;
        let mut fit = 0;
        for k in 1..=most {
            // A line that can never be paid ends the batch before it; alone,
            // it is the error.
            let plan = match self.plan(&lines[..k], &needs[..k], 0) {
                Ok(p) => p,
                Err(e) if k == 1 => return Err(e),
                Err(_) => break,
            };
            if !self.fits(&plan) {
                break;
            }
            fit = k;
        }
        Ok(fit)
    }

    /// The plan paying all of `lines` in one transaction; an error if they
    /// do not fit.
    pub async fn payout_plan(&self, lines: &[PayoutLine]) -> ChainResult<PayoutPlan> {
        let wallets = lines
            .iter()
            .map(|l| parse_wallet(&l.recipient, &l.id))
            .collect::<ChainResult<Vec<_>>>()?;
        let needs = self.recipients(&wallets).await?;
        let rent = self.token_account_rent().await?;
        let plan = self.plan(lines, &needs, rent)?;
        if !self.fits(&plan) {
            return Err(ChainError::Malformed(format!(
                "{} payout lines do not fit one transaction",
                lines.len()
            )));
        }
        Ok(plan)
    }

    /// Per-line outcomes of the finalized transaction `id`.
    pub async fn line_outcomes(
        &self,
        id: &TxId,
        lines: &[PayoutLine],
    ) -> ChainResult<Vec<LineOutcome>> {
        let sig = signature(id)?;
        let tx = self.final_tx(&sig).await?;
        if let Some(err) = tx.err {
            return Ok(lines
                .iter()
                .map(|_| LineOutcome::NotPaid(format!("transaction {sig} failed: {err}")))
                .collect());
        }
        let sums = |list: &[(usize, Option<String>, u128)]| {
            let mut m: std::collections::HashMap<usize, u128> = std::collections::HashMap::new();
            for (i, _, v) in list {
                let e = m.entry(*i).or_default();
                *e = e.saturating_add(*v);
            }
            m
        };
        let (pre, post, keys) = (sums(&tx.pre), sums(&tx.post), tx.keys);
        // Lines to one recipient share its token account: compare sums.
        let mut expected: std::collections::HashMap<Pubkey, u128> =
            std::collections::HashMap::new();
        for l in lines {
            let ata = associated_token_account(&parse_wallet(&l.recipient, &l.id)?, &self.mint);
            let e = expected.entry(ata).or_default();
            *e = e
                .checked_add(l.amount)
                .ok_or_else(|| ChainError::Malformed("amount overflow".into()))?;
        }
        let mut out = Vec::with_capacity(lines.len());
        for l in lines {
            let ata = associated_token_account(&parse_wallet(&l.recipient, &l.id)?, &self.mint);
            let want = expected.get(&ata).copied().unwrap_or(0);
            let got = keys.iter().position(|k| *k == ata).map(|i| {
                let before = pre.get(&i).copied().unwrap_or(0);
                let after = post.get(&i).copied().unwrap_or(0);
                after.checked_sub(before)
            });
            out.push(match got {
                Some(Some(d)) if d == want => LineOutcome::Paid,
                Some(Some(d)) => LineOutcome::NotPaid(format!(
                    "token account {ata} rose by {d}, expected {want}"
                )),
                Some(None) => LineOutcome::NotPaid(format!("token account {ata} fell")),
                None => {
                    LineOutcome::NotPaid(format!("token account {ata} is not in transaction {sig}"))
                }
            });
        }
        Ok(out)
    }
}

/// A wallet address of a payout line.
pub(super) fn parse_wallet(s: &str, id: &str) -> ChainResult<Pubkey> {
    s.parse::<Pubkey>()
        .map_err(|_| ChainError::Malformed(format!("payout {id}: {s:?} is not a Solana address")))
}

/// The signature a [`TxId`] holds.
pub(super) fn signature(id: &TxId) -> ChainResult<Signature> {
    let b: [u8; 64] =
        id.0.as_slice()
            .try_into()
            .map_err(|_| ChainError::Malformed("a Solana transaction id is 64 bytes".into()))?;
    Ok(Signature::from(b))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use solana_sdk::signature::Keypair;

    use super::*;
    use crate::solana::{SolanaFeePolicy, new_wallet};

    fn chain() -> SolanaChain {
        SolanaChain::with_decimals(
            "http://127.0.0.1:1",
            Arc::new(Keypair::new()),
            new_wallet(),
            6,
            SolanaFeePolicy::default(),
        )
    }

    fn lines(n: usize, memo: Option<&str>) -> Vec<PayoutLine> {
        (0..n)
            .map(|i| PayoutLine {
                id: format!("po_{i}"),
                recipient: new_wallet().to_string(),
                amount: 1_000_000,
                memo: memo.map(str::to_owned),
            })
            .collect()
    }

    /// The most lines of one kind that fit, by the same computation `fit`
    /// makes (the token account lookups aside).
    fn most(c: &SolanaChain, need: Recipient, memo: Option<&str>) -> usize {
        let ls = lines(40, memo);
        let needs = vec![need; ls.len()];
        (1..=ls.len())
            .take_while(|k| c.fits(&c.plan(&ls[..*k], &needs[..*k], 0).unwrap()))
            .last()
            .unwrap_or(0)
    }

    #[test]
    fn how_many_lines_fit_is_computed_from_the_packet_size() {
        let c = chain();
        let ready = most(&c, Recipient::Ready, None);
        let create = most(&c, Recipient::NeedsAccount, None);
        let memo = most(&c, Recipient::Ready, Some("order 123456"));
        println!(
            "fit: {ready} transfers, {create} with account creation, {memo} with a 12-byte memo"
        );
        // A transfer_checked line: a new 32-byte account key plus a
        // compiled instruction; creation adds the owner's key and an
        // instruction with six accounts.
        assert!((18..=24).contains(&ready), "{ready} transfers fit");
        assert!(
            (8..=12).contains(&create),
            "{create} creating transfers fit"
        );
        assert!(
            memo < ready && memo > create,
            "{memo} transfers with memos fit"
        );
        // The computed size is the real wire size: the next line passes
        // 1,232 bytes.
        let ls = lines(ready + 1, None);
        let plan = c.plan(&ls, &vec![Recipient::Ready; ls.len()], 0).unwrap();
        let message = Message::new(&plan.instructions(1), Some(&c.payer()));
        assert!(wire_size(&message) > PACKET_BYTES);
        let plan = c
            .plan(&ls[..ready], &vec![Recipient::Ready; ready], 0)
            .unwrap();
        let message = Message::new(&plan.instructions(1), Some(&c.payer()));
        assert!(wire_size(&message) <= PACKET_BYTES);
    }

    #[test]
    fn a_token_account_as_recipient_is_refused_and_amounts_past_u64_too() {
        let c = chain();
        let ls = lines(1, None);
        assert!(matches!(
            c.plan(&ls, &[Recipient::TokenAccount], 0),
            Err(ChainError::WouldRevert(m)) if m.contains("token account")
        ));
        let mut big = lines(1, None);
        big[0].amount = u128::from(u64::MAX) + 1;
        assert!(matches!(
            c.plan(&big, &[Recipient::Ready], 0),
            Err(ChainError::Malformed(_))
        ));
    }

    fn account(owner: Pubkey, data: Vec<u8>) -> Account {
        Account {
            lamports: 2_039_280,
            data,
            owner,
            executable: false,
            rent_epoch: 0,
        }
    }

    fn token_account(mint: &Pubkey, state: spl_token_interface::state::AccountState) -> Account {
        let t = spl_token_interface::state::Account {
            mint: *mint,
            owner: new_wallet(),
            amount: 0,
            state,
            ..Default::default()
        };
        let mut data = vec![0u8; TOKEN_ACCOUNT_BYTES];
        spl_token_interface::state::Account::pack(t, &mut data).unwrap();
        account(token_program(), data)
    }

    #[test]
    fn a_recipient_is_ready_only_with_an_initialized_token_account_of_this_mint() {
        use spl_token_interface::state::AccountState;
        let mint = new_wallet();
        let ok = token_account(&mint, AccountState::Initialized);
        assert_eq!(classify_recipient(None, Some(&ok), &mint), Recipient::Ready);
        assert_eq!(
            classify_recipient(None, None, &mint),
            Recipient::NeedsAccount
        );
        // Somebody sent lamports to the address: no token account there yet.
        let lamports = account(solana_system_interface::program::ID, vec![]);
        assert_eq!(
            classify_recipient(None, Some(&lamports), &mint),
            Recipient::NeedsAccount
        );
        // Frozen, or another mint: it can never receive this payout.
        let frozen = token_account(&mint, AccountState::Frozen);
        assert!(matches!(
            classify_recipient(None, Some(&frozen), &mint),
            Recipient::Unusable(_)
        ));
        let other = token_account(&new_wallet(), AccountState::Initialized);
        assert!(matches!(
            classify_recipient(None, Some(&other), &mint),
            Recipient::Unusable(_)
        ));
    }

    #[test]
    fn token_accounts_of_either_token_program_are_not_wallets() {
        let mint = new_wallet();
        let classic = account(token_program(), vec![0; TOKEN_ACCOUNT_BYTES]);
        assert_eq!(
            classify_recipient(Some(&classic), None, &mint),
            Recipient::TokenAccount
        );
        let t22 = account(TOKEN_2022, vec![0; TOKEN_ACCOUNT_BYTES + 50]);
        assert_eq!(
            classify_recipient(Some(&t22), None, &mint),
            Recipient::TokenAccount
        );
        // A wallet with SOL is a wallet.
        let wallet = account(solana_system_interface::program::ID, vec![]);
        assert_eq!(
            classify_recipient(Some(&wallet), None, &mint),
            Recipient::NeedsAccount
        );
    }

    #[test]
    fn a_plan_survives_its_encoding_and_counts_rent_per_created_account() {
        let c = chain();
        let ls = lines(3, Some("memo"));
        let plan = c
            .plan(
                &ls,
                &[
                    Recipient::NeedsAccount,
                    Recipient::Ready,
                    Recipient::NeedsAccount,
                ],
                2_039_280,
            )
            .unwrap();
        assert_eq!(plan.creates, 2);
        assert_eq!(plan.rent, 2 * 2_039_280);
        assert_eq!(PayoutPlan::decode(&plan.encode()).unwrap(), plan);
        assert!(PayoutPlan::decode(b"garbage").is_err());
    }
}
