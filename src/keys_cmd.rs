//! `switchyard keys create|list|revoke`: API keys, straight in the store
//! the daemon's config names (the way to make the first admin key).

use std::sync::Arc;

use switchyard_core::config::DaemonConfig;
use switchyard_relayer::{Keys, Role, Store};

use crate::Failure;
use crate::cli::{KeysArgs, KeysCommand};

fn open(config: &std::path::Path) -> Result<Keys, Failure> {
    let cfg = DaemonConfig::load(config, std::env::vars())?;
    if cfg.auth.is_none() {
        eprintln!(
            "note: {} has no [auth] section: the daemon trusts every caller of its loopback port and checks no key until [auth] is added",
            config.display()
        );
    }
    let r = cfg.relayer.ok_or_else(|| {
        Failure::Usage("--config: no [relayer] section, so no store for keys".into())
    })?;
    if let Some(dir) = r.store.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let store = Arc::new(
        Store::open(&r.store)
            .map_err(|e| Failure::Usage(format!("relayer.store {}: {e}", r.store.display())))?,
    );
    Ok(Keys::new(store))
}

/// Entry point.
pub fn run(args: &KeysArgs) -> Result<(), Failure> {
    let keys = open(&args.config)?;
    let err = |e: switchyard_relayer::Error| Failure::Runtime(eyre::eyre!("{e}"));
    match &args.command {
        KeysCommand::Create { role, name, rate } => {
            let role = Role::parse(role).ok_or_else(|| {
                Failure::Usage("invalid --role: wallet, merchant, operator or admin".into())
            })?;
            if name.trim().is_empty() || name.len() > 64 || name.contains('/') {
                return Err(Failure::Usage(
                    "invalid --name: 1 to 64 characters, no '/'".into(),
                ));
            }
            let (key, token, _) = keys.create(role, name, *rate, "cli").map_err(err)?;
            println!("{}\t{}\t{}\t{token}", key.id, role.as_str(), key.name);
        }
        KeysCommand::List => {
            for k in keys.list().map_err(err)? {
                let state = if k.revoked_ms.is_some() {
                    "revoked"
                } else {
                    "live"
                };
                println!(
                    "{}\t{}\t{}\t{}/s\t{state}",
                    k.id,
                    k.role.as_str(),
                    k.name,
                    k.rate_per_s
                );
            }
        }
        KeysCommand::Revoke { id } => {
            if keys.revoke(id, "cli").map_err(err)?.is_none() {
                return Err(Failure::Usage(format!("invalid --id: no live key {id}")));
            }
            println!("revoked {id}");
        }
    }
    Ok(())
}
