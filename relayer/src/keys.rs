//! API keys: random bearer tokens, stored only as SHA-256 hashes, each
//! with a role and a name (the merchant or operator it belongs to).

use std::sync::Arc;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::store::Store;

/// What a key may do, from least to most.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Quotes.
    Wallet,
    /// Its own payouts and transfers.
    Merchant,
    /// Pauses, approvals, everyone's payouts.
    Operator,
    /// Keys and limits, and everything else.
    Admin,
}

impl Role {
    /// Parses `wallet`, `merchant`, `operator` or `admin`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "wallet" => Self::Wallet,
            "merchant" => Self::Merchant,
            "operator" => Self::Operator,
            "admin" => Self::Admin,
            _ => return None,
        })
    }

    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wallet => "wallet",
            Self::Merchant => "merchant",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }
}

/// A key as stored (never the token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ApiKey {
    /// `key_` + 8 hex digits.
    pub id: String,
    /// Its role.
    pub role: Role,
    /// Whose it is.
    pub name: String,
    /// Requests per second it may make.
    pub rate_per_s: u32,
    /// Creation time, unix ms.
    pub created_ms: i64,
    /// Revocation time, if revoked.
    pub revoked_ms: Option<i64>,
}

/// The key table.
#[derive(Clone, Debug)]
pub struct Keys {
    store: Arc<Store>,
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn now_ms() -> i64 {
    i64::try_from(switchyard_core::now_ms()).unwrap_or(i64::MAX)
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, u32, i64, Option<i64>)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn decode(
    (id, role, name, rate, created, revoked): (String, String, String, u32, i64, Option<i64>),
) -> Result<ApiKey> {
    Ok(ApiKey {
        id,
        role: Role::parse(&role).ok_or_else(|| Error::Corrupt(format!("role {role:?}")))?,
        name,
        rate_per_s: rate,
        created_ms: created,
        revoked_ms: revoked,
    })
}

impl Keys {
    /// Keys in `store`.
    pub fn new(store: Arc<Store>) -> Self {
        Self { store }
    }

    /// Creates a key; returns it, its token (shown once, never stored) and
    /// the audit entry naming `actor`, written in the same SQLite
    /// transaction as the key.
    pub fn create(
        &self,
        role: Role,
        name: &str,
        rate_per_s: u32,
        actor: &str,
    ) -> Result<(ApiKey, String, crate::AuditEntry)> {
        // ThreadRng: ChaCha seeded from the OS, a CSPRNG.
        let secret: [u8; 32] = rand::Rng::random(&mut rand::rng());
        let token = format!(
            "sy_{}_{}",
            role.as_str(),
            alloy::primitives::hex::encode(secret)
        );
        let id = format!("key_{}", alloy::primitives::hex::encode(&hash(&token)[..4]));
        let now = now_ms();
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        t.execute(
            "INSERT INTO api_key (id, hash, role, name, rate_per_s, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, hash(&token), role.as_str(), name, rate_per_s, now],
        )?;
        let audit = crate::ops::Ops::append(
            &t,
            actor,
            "key_create",
            &id,
            &format!("{} key for {name}", role.as_str()),
        )?;
        t.commit()?;
        Ok((
            ApiKey {
                id,
                role,
                name: name.to_owned(),
                rate_per_s,
                created_ms: now,
                revoked_ms: None,
            },
            token,
            audit,
        ))
    }

    /// The live key a token belongs to.
    pub fn resolve(&self, token: &str) -> Result<Option<ApiKey>> {
        let r = self
            .store
            .conn()
            .query_row(
                "SELECT id, role, name, rate_per_s, created_ms, revoked_ms FROM api_key WHERE hash = ?1 AND revoked_ms IS NULL",
                params![hash(token)],
                row,
            )
            .optional()?;
        r.map(decode).transpose()
    }

    /// Revokes a key, audited in the same SQLite transaction. `Ok(None)`:
    /// no such live key.
    pub fn revoke(&self, id: &str, actor: &str) -> Result<Option<crate::AuditEntry>> {
        let mut conn = self.store.conn();
        let t = conn.transaction()?;
        let n = t.execute(
            "UPDATE api_key SET revoked_ms = ?1 WHERE id = ?2 AND revoked_ms IS NULL",
            params![now_ms(), id],
        )?;
        if n == 0 {
            return Ok(None);
        }
        let audit = crate::ops::Ops::append(&t, actor, "key_revoke", id, "revoked")?;
        t.commit()?;
        Ok(Some(audit))
    }

    /// Every key, oldest first.
    pub fn list(&self) -> Result<Vec<ApiKey>> {
        let conn = self.store.conn();
        let mut stmt = conn.prepare(
            "SELECT id, role, name, rate_per_s, created_ms, revoked_ms FROM api_key ORDER BY created_ms, id",
        )?;
        let rows = stmt
            .query_map([], row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(decode).collect()
    }
}
