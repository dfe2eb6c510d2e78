//! The vault signers' check, the payload encoding and the receipt's address.
use super::*;
use solana_compute_budget_interface::ComputeBudgetInstruction;

fn ctx() -> (VaultContext, ReleaseCheck) {
    let mint = Pubkey::new_unique();
    let multisig = Pubkey::new_unique();
    let signers: Vec<Pubkey> = (0..3).map(|_| Pubkey::new_unique()).collect();
    let ctx = VaultContext {
        vault: associated_token_account(&multisig, &mint),
        multisig,
        mint,
        decimals: 6,
        payer: Pubkey::new_unique(),
        threshold: 2,
        signers: signers.clone(),
    };
    let check = ReleaseCheck {
        source_domain: 31337,
        deposit_id: [7; 32],
        recipient: Pubkey::new_unique().to_bytes(),
        amount: 25_000_000,
        signers: signers[..2].iter().map(|s| s.to_bytes()).collect(),
    };
    (ctx, check)
}

fn message(ctx: &VaultContext, ixs: &[Instruction]) -> Message {
    let mut all = vec![
        ComputeBudgetInstruction::set_compute_unit_limit(RELEASE_UNITS),
        ComputeBudgetInstruction::set_compute_unit_price(1_000),
    ];
    all.extend_from_slice(ixs);
    Message::new(&all, Some(&ctx.payer))
}

#[test]
fn the_signers_sign_exactly_the_release_they_were_told_of() {
    let (ctx, check) = ctx();
    let ixs = release_instructions(&ctx, &check, 897_840).unwrap();
    assert_eq!(check_release(&ctx, &check, &message(&ctx, &ixs)), Ok(()));

    // Another amount, recipient or deposit in the instructions than in
    // what the signers were told: refused.
    for tamper in [
        ReleaseCheck {
            amount: check.amount + 1,
            ..check.clone()
        },
        ReleaseCheck {
            recipient: Pubkey::new_unique().to_bytes(),
            ..check.clone()
        },
        ReleaseCheck {
            deposit_id: [8; 32],
            ..check.clone()
        },
    ] {
        let forged = release_instructions(&ctx, &tamper, 897_840).unwrap();
        assert!(
            check_release(&ctx, &check, &message(&ctx, &forged)).is_err(),
            "{tamper:?}"
        );
    }
    // Without its receipt (so it could pay twice), with a second
    // transfer out of the vault, or with a stranger's instruction.
    let mut no_receipt = ixs.clone();
    no_receipt.remove(2);
    assert!(check_release(&ctx, &check, &message(&ctx, &no_receipt)).is_err());
    let mut twice = ixs.clone();
    twice.push(ixs[3].clone());
    assert!(check_release(&ctx, &check, &message(&ctx, &twice)).is_err());
    let mut extra = ixs.clone();
    extra.push(solana_system_interface::instruction::transfer(
        &ctx.payer,
        &Pubkey::new_unique(),
        1,
    ));
    assert!(check_release(&ctx, &check, &message(&ctx, &extra)).is_err());
    // Another fee payer (the receipts' base) is refused.
    let other = Message::new(&ixs, Some(&Pubkey::new_unique()));
    assert!(check_release(&ctx, &check, &other).is_err());
    // Fewer signers than the vault needs.
    let one = ReleaseCheck {
        signers: check.signers[..1].to_vec(),
        ..check.clone()
    };
    let ixs1 = release_instructions(&ctx, &one, 897_840).unwrap();
    assert!(check_release(&ctx, &one, &message(&ctx, &ixs1)).is_err());
}

#[test]
fn a_deposits_receipt_does_not_depend_on_who_pays_the_fees() {
    // Another hot wallet (a rotated key, a restored store) releasing
    // the same deposit must hit the same receipt, or the vault pays
    // twice.
    let (ctx, check) = ctx();
    let rotated = VaultContext {
        payer: Pubkey::new_unique(),
        ..ctx.clone()
    };
    assert_eq!(
        release_receipt(&ctx, check.source_domain, &check.deposit_id).unwrap(),
        release_receipt(&rotated, check.source_domain, &check.deposit_id).unwrap()
    );
    let ixs = release_instructions(&rotated, &check, 897_840).unwrap();
    assert_eq!(
        check_release(&rotated, &check, &message(&rotated, &ixs)),
        Ok(())
    );
}

#[test]
fn a_release_payload_round_trips_and_a_payout_plan_reads_as_before() {
    let (ctx, check) = ctx();
    let plan = PayoutPlan {
        cu_limit: RELEASE_UNITS,
        rent: 1,
        creates: 1,
        instructions: release_instructions(&ctx, &check, 1)
            .unwrap()
            .iter()
            .map(PlanIx::from_ix)
            .collect(),
    };
    let p = Payload {
        plan: plan.clone(),
        release: Some(check),
    };
    assert_eq!(Payload::decode(&p.encode()).unwrap(), p);
    let old = plan.encode();
    assert_eq!(
        Payload::decode(&old).unwrap(),
        Payload {
            plan,
            release: None
        }
    );
    assert!(receipt_seed(1, &[0; 32]).len() <= 32);
    assert_ne!(receipt_seed(1, &[0; 32]), receipt_seed(2, &[0; 32]));
}
