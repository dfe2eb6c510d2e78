//! Who is calling: the bearer token of the HTTP request (or of the
//! WebSocket upgrade) is put into the request's extensions by the HTTP
//! layer; the API's middleware asks [`AppState`], the daemon's
//! [`Gate`], for the role each method needs. Every refusal is a typed
//! error and is logged.

use std::time::Instant;

use dashmap::DashMap;
use jsonrpsee::Extensions;
use jsonrpsee::types::ErrorObjectOwned;
use switchyard_api::{Bearer, Caller, Gate};
use switchyard_relayer::{Keys, Role};

use super::AppState;
use super::errors;

/// Keys and per-key token buckets.
#[derive(Debug)]
pub struct Auth {
    /// The key table.
    pub keys: Keys,
    buckets: DashMap<String, (f64, Instant)>,
}

impl Auth {
    /// Authentication against `keys`.
    pub fn new(keys: Keys) -> Self {
        Self {
            keys,
            buckets: DashMap::new(),
        }
    }

    /// Takes one request from the key's bucket (`rate` per second, burst
    /// of `rate`); `Err(ms)`: wait that long.
    fn take(&self, id: &str, rate: u32) -> Result<(), u64> {
        let rate = f64::from(rate.max(1));
        let now = Instant::now();
        let mut b = self.buckets.entry(id.to_owned()).or_insert((rate, now));
        let (tokens, at) = *b;
        let tokens = (tokens + now.duration_since(at).as_secs_f64() * rate).min(rate);
        if tokens >= 1.0 {
            *b = (tokens - 1.0, now);
            Ok(())
        } else {
            *b = (tokens, now);
            Err(((1.0 - tokens) / rate * 1000.0).ceil() as u64)
        }
    }
}

impl AppState {
    /// Whether the key of a call's connection still may operate (for a
    /// subscription that outlives the call that opened it): checked
    /// without taking from the key's rate.
    pub fn still_operates(&self, ext: &Extensions) -> Result<(), String> {
        let Some(auth) = &self.auth else {
            return Ok(());
        };
        let Some(Bearer(token)) = ext.get::<Bearer>() else {
            return Err("unauthorized: no API key".into());
        };
        match auth.keys.resolve(token) {
            Ok(Some(k)) if k.role >= Role::Operator => Ok(()),
            Ok(Some(k)) => Err(format!(
                "forbidden: the key {} is now a {} key",
                k.name,
                k.role.as_str()
            )),
            Ok(None) => Err("unauthorized: the API key was revoked".into()),
            // The store busy: not a reason to cut an operator off.
            Err(_) => Ok(()),
        }
    }
}

impl Gate for AppState {
    /// The caller of `method`, if its key has at least `need`. Without an
    /// `[auth]` section everyone is the local administrator.
    fn authorize(
        &self,
        ext: &Extensions,
        need: Role,
        method: &str,
    ) -> Result<Caller, ErrorObjectOwned> {
        let Some(auth) = &self.auth else {
            return Ok(Caller {
                role: Role::Admin,
                name: "local".into(),
            });
        };
        let refuse = |e: ErrorObjectOwned, who: &str| {
            tracing::warn!(
                method,
                caller = who,
                code = e.code(),
                "refused: {}",
                e.message()
            );
            e
        };
        let Some(Bearer(token)) = ext.get::<Bearer>() else {
            return Err(refuse(
                errors::unauthorized("send an API key as Authorization: Bearer <key>"),
                "anonymous",
            ));
        };
        let key = auth
            .keys
            .resolve(token)
            .map_err(|e| errors::internal(&e.to_string()))?
            .ok_or_else(|| {
                refuse(
                    errors::unauthorized("unknown or revoked API key"),
                    "unknown",
                )
            })?;
        if key.role < need {
            return Err(refuse(
                errors::forbidden(method, key.role.as_str(), need.as_str()),
                &key.name,
            ));
        }
        auth.take(&key.id, key.rate_per_s)
            .map_err(|ms| refuse(errors::rate_limited(ms), &key.name))?;
        Ok(Caller {
            role: key.role,
            name: key.name,
        })
    }

    fn count(&self, method: &str, outcome: &str) {
        self.metrics.count_call(method, outcome);
    }
}
