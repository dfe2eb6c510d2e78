//! `switchyard signer serve|keygen|audit`: one co-signer process.

use std::sync::Arc;

use eyre::WrapErr;
use switchyard_cosigner::Cosigner;
use switchyard_cosigner::keys::{self, KeyKind};
use switchyard_cosigner::policy::Policy;
use switchyard_cosigner::store::Store;

use crate::Failure;
use crate::cli::SignerCommand;

/// Runs one `switchyard signer` command.
pub fn run(what: &SignerCommand) -> Result<(), Failure> {
    match what {
        SignerCommand::Keygen {
            out,
            kind,
            pkcs11,
            token,
            label,
        } => {
            let kind = match kind.as_str() {
                "secp256k1" => KeyKind::Secp256k1,
                "ed25519" => KeyKind::Ed25519,
                other => {
                    return Err(Failure::Input {
                        field: Some("--kind".into()),
                        message: format!("--kind: {other:?} is not secp256k1 or ed25519"),
                    });
                }
            };
            let public = match (pkcs11, out) {
                (Some(module), _) => switchyard_cosigner::pkcs11::generate(
                    module,
                    token.as_deref().unwrap_or_default(),
                    label.as_deref().unwrap_or_default(),
                    kind,
                )?,
                (None, Some(out)) => keys::create(out, kind)?,
                (None, None) => return Err(Failure::Usage("--out or --pkcs11 is required".into())),
            };
            println!("{public}");
            Ok(())
        }
        SignerCommand::Audit { config } => {
            let policy = Policy::load(config)?;
            let store = Store::open(&policy.store)
                .map_err(|e| Failure::Usage(format!("store {}: {e}", policy.store.display())))?;
            let mut after = 0;
            loop {
                let rows = store.audit(after, 500).wrap_err("reading the audit log")?;
                let Some(last) = rows.last() else { break };
                after = last.seq;
                for r in &rows {
                    println!("{}", serde_json::to_string(r).wrap_err("printing")?);
                }
            }
            match store.verify().wrap_err("verifying the audit log")? {
                Ok(n) => {
                    eprintln!("audit log: {n} entries, hash chain intact");
                    Ok(())
                }
                Err(seq) => Err(Failure::Runtime(eyre::eyre!(
                    "audit log: entry {seq} does not follow from the one before (altered)"
                ))),
            }
        }
        SignerCommand::Serve { config } => {
            crate::serve::start_logging();
            let c = Arc::new(Cosigner::load(config)?);
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .wrap_err("starting the async runtime")?;
            rt.block_on(async move {
                let address = c.address();
                let (handle, addr) = c.serve().await?;
                println!("co-signer {address} listening on {addr}");
                use std::io::Write;
                let _ = std::io::stdout().flush();
                switchyard_node::serve::wait_for_signal().await;
                let _ = handle.stop();
                handle.stopped().await;
                Ok::<(), Failure>(())
            })
        }
    }
}
