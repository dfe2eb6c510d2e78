//! Crash drills, off unless `SWITCHYARD_CRASH_AT` is set:
//! `signed:<text>` or `broadcast:<text>` kills the process with SIGKILL
//! right after a transaction whose intent contains `<text>` is signed and
//! stored (not yet broadcast), or broadcast (not yet mined); on a chain
//! of the generic lane (Solana) also `included:<text>`, right after the
//! attempt's block is recorded;
//! `batch-written` and `batch-submitted` right after a payout batch is
//! written, or reserved on its lane; an operator action's name right after
//! it is committed. The end-to-end tests use them to prove that nothing is
//! lost or repeated. The supervisor's panic drill is
//! [`crate::tasks::panic_drill`].

use std::sync::Arc;
use std::time::Duration;

use switchyard_relayer::vmlane::{VmHook, VmStage};
use switchyard_relayer::{BatchHook, Hook, Stage};

fn kill_self(what: &str) -> ! {
    eprintln!("crash drill: SIGKILL at {what}");
    let pid = std::process::id().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status();
    // The signal is on its way; never return into the caller.
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// `SWITCHYARD_CRASH_AT=<point>`: SIGKILL right after the operator action
/// or state change named `point` is committed (`approve`, `reject`,
/// `key-create`, `key-revoke`, `hop-failed`, ...), before anything else
/// happens. Off unless set.
pub fn drill(point: &str) {
    if std::env::var("SWITCHYARD_CRASH_AT").is_ok_and(|s| s == point) {
        kill_self(point);
    }
}

/// `SWITCHYARD_CRASH_AT=batch-written` or `batch-submitted`: SIGKILL after
/// a payout batch is written to the store (not yet on a lane), or after its
/// transaction is reserved on the lane (not yet signed).
pub fn batch_hook() -> Option<BatchHook> {
    let spec = std::env::var("SWITCHYARD_CRASH_AT").ok()?;
    let stage = spec.strip_prefix("batch-")?.to_owned();
    tracing::warn!(%spec, "crash drill armed");
    Some(Arc::new(move |at, batch| {
        if at == stage {
            kill_self(&format!("batch {batch} {at}"));
        }
    }))
}

/// `SWITCHYARD_CRASH_AT=signed:<text>` or `broadcast:<text>`, see the
/// module docs.
pub fn crash_hook() -> Option<Hook> {
    let spec = std::env::var("SWITCHYARD_CRASH_AT").ok()?;
    let (stage, text) = spec.split_once(':')?;
    let stage = match stage {
        "signed" => Stage::Signed,
        "broadcast" => Stage::Broadcast,
        _ => return None,
    };
    let text = text.to_owned();
    tracing::warn!(%spec, "crash drill armed");
    Some(Arc::new(move |at, rec| {
        if at == stage && rec.intent.contains(&text) {
            kill_self(&format!(
                "{stage:?} of {} (nonce {})",
                rec.intent, rec.nonce
            ));
        }
    }))
}

/// `SWITCHYARD_CRASH_AT=signed:<text>`, `broadcast:<text>` or
/// `included:<text>` on a generic-lane chain (see the module docs).
pub fn vm_crash_hook() -> Option<VmHook> {
    let spec = std::env::var("SWITCHYARD_CRASH_AT").ok()?;
    let (stage, text) = spec.split_once(':')?;
    let stage = match stage {
        "signed" => VmStage::Signed,
        "broadcast" => VmStage::Broadcast,
        "included" => VmStage::Included,
        _ => return None,
    };
    let text = text.to_owned();
    tracing::warn!(%spec, "crash drill armed on the generic lanes");
    Some(Arc::new(move |at, intent| {
        if at == stage && intent.contains(&text) {
            kill_self(&format!("{stage:?} of {intent}"));
        }
    }))
}
