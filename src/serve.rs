//! `switchyard serve`: the config with the command line's overrides, the
//! runtime, and the daemon ([`switchyard_node::serve`]) until SIGINT or
//! SIGTERM.

use eyre::WrapErr;
use switchyard_core::config::DaemonConfig;
use switchyard_node::serve::{init_tracing, serve, wait_for_signal};
use tokio_util::sync::CancellationToken;

use crate::Failure;
use crate::cli::{LogFormat, ServeArgs};

/// Loads the config named by `args`, with flag overrides applied.
pub fn load_config(args: &ServeArgs) -> Result<DaemonConfig, Failure> {
    let mut cfg = DaemonConfig::load(&args.config, std::env::vars())?;
    if let Some(l) = args.listen {
        cfg.server.listen = l;
    }
    if let Some(t) = &args.topology {
        cfg.topology = t.clone();
    }
    cfg.validate()?;
    Ok(cfg)
}

/// Logs as `--log-format` asks, see [`init_tracing`].
pub fn start_logging() {
    init_tracing(crate::log_format() == LogFormat::Json);
}

/// Entry point of `switchyard serve`.
pub fn run_blocking(args: &ServeArgs) -> Result<(), Failure> {
    let cfg = load_config(args)?;
    start_logging();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .wrap_err("starting the async runtime")?;
    let served = rt.block_on(async {
        let shutdown = CancellationToken::new();
        let signal = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            signal.cancel();
        });
        serve(cfg, shutdown).await
    });
    // A store step still running on the blocking pool is not waited for
    // past this: what it did is in the store, and the next start resumes.
    rt.shutdown_timeout(std::time::Duration::from_secs(10));
    served
}
