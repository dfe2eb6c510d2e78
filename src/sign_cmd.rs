//! `switchyard sign payout-batch`: the EIP-712 digest and signature of a
//! batch file, with the key from `SWITCHYARD_SIGNER_KEY`.

use serde_json::json;
use switchyard_chains::evm::eip712::{Eip712Signer, PayoutBatchFile, domain, payout_batch_digest};
use switchyard_core::Address;
use switchyard_core::address::ChainKind;

use crate::Failure;
use crate::cli::SignPayoutBatchArgs;

/// Environment variable holding the signer's hex private key.
pub const SIGNER_KEY_ENV: &str = "SWITCHYARD_SIGNER_KEY";

pub(crate) fn payout_batch(args: &SignPayoutBatchArgs) -> Result<(), Failure> {
    let key = std::env::var(SIGNER_KEY_ENV).map_err(|_| {
        Failure::Usage(format!(
            "missing {SIGNER_KEY_ENV}: set it to the signer's hex private key"
        ))
    })?;
    let signer = Eip712Signer::from_hex(SIGNER_KEY_ENV, &key)?;
    signer.check_chain("--chain-id", args.chain_id)?;
    let contract = match Address::parse(ChainKind::Evm, "--contract", &args.contract)? {
        Address::Evm(a) => a,
        _ => {
            return Err(Failure::Usage(
                "invalid --contract: not an EVM address".into(),
            ));
        }
    };
    let text = std::fs::read_to_string(&args.batch).map_err(|e| {
        Failure::Usage(format!("cannot read --batch {}: {e}", args.batch.display()))
    })?;
    let batch = PayoutBatchFile::from_json(&text)?.validate()?;
    let digest = payout_batch_digest(&batch, &domain(args.chain_id, contract));
    let signature = signer.sign_digest(&digest)?;
    let sig_hex = format!("0x{}", to_hex(&signature));
    if args.json {
        let out = json!({
            "digest": digest.to_string(),
            "signature": sig_hex,
            "signer": signer.address().to_checksum(None),
            "chain_id": args.chain_id,
            "contract": contract.to_checksum(None),
            "batch_id": batch.batchId.to_string(),
            "payouts": batch.payouts.len(),
        });
        println!("{out}");
    } else {
        println!("digest     {digest}");
        println!("signer     {}", signer.address().to_checksum(None));
        println!("signature  {sig_hex}");
    }
    Ok(())
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
