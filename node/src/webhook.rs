//! Webhook deliveries of payout events: POSTed as JSON, signed with
//! HMAC-SHA256, retried with exponential backoff (`backon`), every attempt
//! recorded in the store.
//!
//! Headers:
//! - `Switchyard-Event-Id`: the delivery id (stable across retries; a
//!   receiver deduplicates on it).
//! - `Switchyard-Signature: t=<unix seconds>,v1=<hex>` where `<hex>` is
//!   HMAC-SHA256 with the shared secret over `"<t>.<body>"`. A receiver
//!   recomputes it and rejects old timestamps to stop replays.

use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use dashmap::DashSet;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use switchyard_relayer::{Delivery, Outbox};

/// The signature header value for `body` at unix time `t`.
pub fn signature(secret: &[u8], t: u64, body: &str) -> String {
    // HMAC accepts keys of any length: `new_from_slice` cannot fail here.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!(
        "t={t},v1={}",
        alloy_primitives::hex::encode(mac.finalize().into_bytes())
    )
}

/// Sends due deliveries.
#[derive(Debug)]
pub struct Webhooks {
    outbox: Arc<Outbox>,
    url: String,
    secret: Vec<u8>,
    max_attempts: u32,
    client: reqwest::Client,
    in_flight: DashSet<i64>,
}

impl Webhooks {
    /// Deliveries to `url` signed with `secret`.
    pub fn new(
        outbox: Arc<Outbox>,
        url: String,
        secret: Vec<u8>,
        max_attempts: u32,
        timeout: Duration,
    ) -> eyre::Result<Self> {
        let client = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(Self {
            outbox,
            url,
            secret,
            max_attempts,
            client,
            in_flight: DashSet::new(),
        })
    }

    /// Starts a task for every due delivery not already in flight.
    pub fn send_due(self: &Arc<Self>) {
        let due = match self.outbox.due(256) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "reading due webhook deliveries");
                return;
            }
        };
        for d in due {
            if !self.in_flight.insert(d.id) {
                continue;
            }
            let me = Arc::clone(self);
            tokio::spawn(async move {
                me.deliver(&d).await;
                me.in_flight.remove(&d.id);
            });
        }
    }

    async fn attempt(&self, d: &Delivery) -> Result<u16, (Option<u16>, String)> {
        let t = switchyard_core::now_ms() / 1000;
        let r = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Switchyard-Event-Id", d.id.to_string())
            .header("Switchyard-Signature", signature(&self.secret, t, &d.body))
            .body(d.body.clone())
            .send()
            .await
            .map_err(|e| (None, e.to_string()))?;
        let status = r.status().as_u16();
        if r.status().is_success() {
            Ok(status)
        } else {
            Err((Some(status), format!("HTTP {status}")))
        }
    }

    async fn deliver(&self, d: &Delivery) {
        let left = self.max_attempts.saturating_sub(d.attempts).max(1);
        let policy = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(30))
            .with_max_times((left - 1) as usize);
        let outcome = (|| self.attempt(d))
            .retry(policy)
            .notify(|e: &(Option<u16>, String), wait: Duration| {
                tracing::info!(delivery = d.id, error = %e.1, wait_ms = wait.as_millis(), "webhook attempt failed; retrying");
                if let Err(err) = self.outbox.record(d.id, Err(e.clone()), false) {
                    tracing::warn!(error = %err, "recording a webhook attempt");
                }
            })
            .await;
        let give_up = outcome.is_err();
        if give_up {
            tracing::warn!(delivery = d.id, "webhook delivery gave up");
        }
        if let Err(err) = self.outbox.record(d.id, outcome, give_up) {
            tracing::warn!(error = %err, "recording a webhook attempt");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_an_independent_hmac_sha256() {
        // Python: hmac.new(b"secret", b'1700000000.{"a":1}', sha256).hexdigest()
        assert_eq!(
            signature(b"secret", 1_700_000_000, r#"{"a":1}"#),
            "t=1700000000,v1=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686"
        );
        assert_ne!(
            signature(b"other", 1_700_000_000, r#"{"a":1}"#),
            signature(b"secret", 1_700_000_000, r#"{"a":1}"#)
        );
    }
}
