//! Keys at rest: Web3 Secret Storage files (scrypt key derivation,
//! AES-128-CTR, a keccak MAC), for secp256k1 keys and, in the same scheme,
//! for ed25519 seeds. The passphrase comes from the environment
//! ([`PASSPHRASE_ENV`]); the key exists decrypted only in the co-signer's
//! memory.
//!
//! Behind [`KeyBackend`], so a hardware token can take the file's place;
//! the README reports what was tried with PKCS#11 (SoftHSM2).

use std::path::Path;

use alloy::primitives::{Address, B256};
use switchyard_chains::evm::eip712::Eip712Signer;
use switchyard_core::{Error, Result};

/// Where a co-signer reads its keystore's passphrase.
pub const PASSPHRASE_ENV: &str = "SWITCHYARD_COSIGNER_PASSPHRASE";

/// A key's curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// EVM (EIP-712 signatures).
    Secp256k1,
    /// Solana, TON.
    Ed25519,
}

/// A signing key, wherever it lives.
pub trait KeyBackend: Send + Sync + std::fmt::Debug {
    /// Its curve.
    fn kind(&self) -> KeyKind;
    /// Public identity: an EVM address for secp256k1, the 32-byte public
    /// key (hex) for ed25519.
    fn public(&self) -> String;
    /// A secp256k1 signature of a 32-byte digest (`r || s || v`), or an
    /// ed25519 signature of `message`.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>>;
}

/// A decrypted secp256k1 key.
#[derive(Debug)]
pub struct Secp256k1Key(Eip712Signer);

impl Secp256k1Key {
    /// The key of `signer`.
    pub fn new(signer: Eip712Signer) -> Self {
        Self(signer)
    }

    /// Its EVM address.
    pub fn address(&self) -> Address {
        self.0.address()
    }
}

impl KeyBackend for Secp256k1Key {
    fn kind(&self) -> KeyKind {
        KeyKind::Secp256k1
    }
    fn public(&self) -> String {
        self.0.address().to_string()
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let d =
            B256::try_from(message).map_err(|_| Error::invalid("digest", "expected 32 bytes"))?;
        Ok(self.0.sign_digest(&d)?.to_vec())
    }
}

/// A decrypted ed25519 key.
pub struct Ed25519Key(ed25519_dalek::SigningKey);

impl std::fmt::Debug for Ed25519Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ed25519Key({})", self.public())
    }
}

impl Ed25519Key {
    /// The key of a 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(ed25519_dalek::SigningKey::from_bytes(seed))
    }
}

impl KeyBackend for Ed25519Key {
    fn kind(&self) -> KeyKind {
        KeyKind::Ed25519
    }
    fn public(&self) -> String {
        self.0
            .verifying_key()
            .to_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        use ed25519_dalek::Signer;
        Ok(self.0.sign(message).to_bytes().to_vec())
    }
}

fn passphrase() -> Result<String> {
    std::env::var(PASSPHRASE_ENV)
        .ok()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Error::invalid(PASSPHRASE_ENV, "is not set: it decrypts the keystore"))
}

/// Writes a new random key of `kind` to `path`, encrypted with the
/// passphrase from [`PASSPHRASE_ENV`]; returns its public identity.
pub fn create(path: &Path, kind: KeyKind) -> Result<String> {
    let pass = passphrase()?;
    let secret: [u8; 32] = loop {
        let s = rand08::random::<[u8; 32]>();
        // Any 32 bytes are an ed25519 seed; a secp256k1 key must be below
        // the group order (and non-zero), which this checks.
        if kind == KeyKind::Ed25519
            || alloy::signers::local::PrivateKeySigner::from_slice(&s).is_ok()
        {
            break s;
        }
    };
    write(path, &secret, &pass)?;
    Ok(open_with(path, kind, &pass)?.public())
}

/// Encrypts `secret` into `path` (which must not exist).
pub fn write(path: &Path, secret: &[u8; 32], passphrase: &str) -> Result<()> {
    let field = path.display().to_string();
    if path.exists() {
        return Err(Error::invalid(
            field,
            "exists already; not overwriting a key",
        ));
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::invalid(field.clone(), "not a file name"))?;
    std::fs::create_dir_all(dir).map_err(|e| Error::invalid(field.clone(), e.to_string()))?;
    eth_keystore::encrypt_key(
        dir,
        &mut rand08::thread_rng(),
        secret,
        passphrase,
        Some(name),
    )
    .map_err(|e| Error::invalid(field, format!("cannot write the keystore: {e}")))?;
    Ok(())
}

/// Decrypts `path` with the passphrase from [`PASSPHRASE_ENV`].
pub fn open(path: &Path, kind: KeyKind) -> Result<Box<dyn KeyBackend>> {
    open_with(path, kind, &passphrase()?)
}

fn open_with(path: &Path, kind: KeyKind, passphrase: &str) -> Result<Box<dyn KeyBackend>> {
    let field = path.display().to_string();
    let secret = eth_keystore::decrypt_key(path, passphrase).map_err(|e| {
        Error::invalid(
            field.clone(),
            match e {
                eth_keystore::KeystoreError::MacMismatch => {
                    "wrong passphrase (MAC mismatch)".to_owned()
                }
                e => format!("cannot decrypt: {e}"),
            },
        )
    })?;
    let bytes: [u8; 32] = secret
        .as_slice()
        .try_into()
        .map_err(|_| Error::invalid(field.clone(), "not a 32-byte key"))?;
    Ok(match kind {
        KeyKind::Secp256k1 => {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            Box::new(Secp256k1Key(Eip712Signer::from_hex(&field, &hex)?))
        }
        KeyKind::Ed25519 => Box::new(Ed25519Key(ed25519_dalek::SigningKey::from_bytes(&bytes))),
    })
}

/// Decrypts a secp256k1 keystore into the EIP-712 signer (co-signers, and
/// the daemon's identity and fee keys when they are kept in files).
pub fn open_secp256k1(path: &Path, passphrase: &str) -> Result<Eip712Signer> {
    let field = path.display().to_string();
    let secret = eth_keystore::decrypt_key(path, passphrase)
        .map_err(|e| Error::invalid(field.clone(), format!("cannot decrypt: {e}")))?;
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    Eip712Signer::from_hex(&field, &hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_kinds_round_trip_and_a_wrong_passphrase_is_named() {
        let dir = std::env::temp_dir().join(format!("sy-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (name, kind) in [
            ("k1.json", KeyKind::Secp256k1),
            ("ed.json", KeyKind::Ed25519),
        ] {
            let p = dir.join(name);
            write(&p, &[7u8; 32], "correct horse").unwrap();
            let text = std::fs::read_to_string(&p).unwrap();
            assert!(text.contains("\"scrypt\""), "{text}");
            assert!(!text.contains(&"07".repeat(32)));
            let k = open_with(&p, kind, "correct horse").unwrap();
            assert_eq!(k.kind(), kind);
            let msg = [1u8; 32];
            let sig = k.sign(&msg).unwrap();
            match kind {
                KeyKind::Secp256k1 => {
                    assert_eq!(sig.len(), 65);
                    let who = crate::request::recover(&B256::from(msg), &sig).unwrap();
                    assert_eq!(who.to_string(), k.public());
                }
                KeyKind::Ed25519 => {
                    use ed25519_dalek::Verifier;
                    let vk = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]).verifying_key();
                    let s = ed25519_dalek::Signature::from_slice(&sig).unwrap();
                    vk.verify(&msg, &s).unwrap();
                }
            }
            let e = open_with(&p, kind, "wrong").unwrap_err().to_string();
            assert!(e.contains("wrong passphrase"), "{e}");
            assert!(
                write(&p, &[8u8; 32], "x").is_err(),
                "never overwrites a key"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
