//! Keys in a PKCS#11 token (an HSM; SoftHSM2 in tests) through `cryptoki`:
//! generated inside the token, marked sensitive and not extractable, used
//! by label. The PIN comes from [`PIN_ENV`].
//!
//! secp256k1: the token signs a 32-byte digest with `CKM_ECDSA` (`r || s`);
//! `s` is normalised to the low half and `v` found by recovering against
//! the key's public point, giving the 65-byte signature the contracts
//! accept. ed25519: `CKM_EDDSA` over the message.

use std::path::Path;
use std::sync::Mutex;

use alloy::primitives::{Address, B256, U256, keccak256};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use switchyard_core::{Error, Result};

use crate::keys::{KeyBackend, KeyKind};

/// Where the token's user PIN is read.
pub const PIN_ENV: &str = "SWITCHYARD_PKCS11_PIN";

/// DER of the secp256k1 curve OID (1.3.132.0.10).
const SECP256K1: [u8; 7] = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];
/// DER of the Ed25519 curve OID (1.3.101.112).
const ED25519: [u8; 5] = [0x06, 0x03, 0x2b, 0x65, 0x70];

fn err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::invalid("pkcs11", format!("{what}: {e}"))
}

fn pin() -> Result<AuthPin> {
    std::env::var(PIN_ENV)
        .ok()
        .filter(|p| !p.is_empty())
        .map(AuthPin::from)
        .ok_or_else(|| Error::invalid(PIN_ENV, "is not set: it opens the PKCS#11 token"))
}

/// A logged-in session on the token labelled `token` of `module`.
fn session(module: &Path, token: &str) -> Result<Session> {
    let p = Pkcs11::new(module).map_err(|e| err(&format!("loading {}", module.display()), e))?;
    p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(|e| err("initialising", e))?;
    let slot = p
        .get_slots_with_token()
        .map_err(|e| err("listing slots", e))?
        .into_iter()
        .find(|s| p.get_token_info(*s).is_ok_and(|i| i.label() == token))
        .ok_or_else(|| Error::invalid("pkcs11.token", format!("no token labelled {token:?}")))?;
    let s = p
        .open_rw_session(slot)
        .map_err(|e| err("opening a session", e))?;
    s.login(UserType::User, Some(&pin()?))
        .map_err(|e| err("logging in", e))?;
    Ok(s)
}

/// The public EC point of a key: the DER OCTET STRING around the point.
fn ec_point(s: &Session, key: ObjectHandle) -> Result<Vec<u8>> {
    let attrs = s
        .get_attributes(key, &[AttributeType::EcPoint])
        .map_err(|e| err("reading the public key", e))?;
    let Some(Attribute::EcPoint(der)) = attrs.into_iter().next() else {
        return Err(Error::invalid("pkcs11", "the public key has no EC point"));
    };
    // 0x04 <len> <point>, short or one-byte long form.
    let body = match der.as_slice() {
        [0x04, 0x81, _, rest @ ..] => rest,
        [0x04, _, rest @ ..] => rest,
        _ => return Err(Error::invalid("pkcs11", "unexpected EC point encoding")),
    };
    Ok(body.to_vec())
}

fn find(s: &Session, class: ObjectClass, label: &str) -> Result<Option<ObjectHandle>> {
    Ok(s.find_objects(&[
        Attribute::Class(class),
        Attribute::Label(label.as_bytes().to_vec()),
    ])
    .map_err(|e| err("finding the key", e))?
    .into_iter()
    .next())
}

/// Generates a key pair labelled `label` in the token; returns its public
/// identity (EVM address, or ed25519 public key hex). Refuses a label in
/// use.
pub fn generate(module: &Path, token: &str, label: &str, kind: KeyKind) -> Result<String> {
    let s = session(module, token)?;
    if find(&s, ObjectClass::PRIVATE_KEY, label)?.is_some() {
        return Err(Error::invalid(
            "pkcs11.label",
            format!("{label:?} exists already"),
        ));
    }
    let (mech, params) = match kind {
        KeyKind::Secp256k1 => (Mechanism::EccKeyPairGen, SECP256K1.to_vec()),
        KeyKind::Ed25519 => (Mechanism::EccEdwardsKeyPairGen, ED25519.to_vec()),
    };
    let id = label.as_bytes().to_vec();
    let public = [
        Attribute::Token(true),
        Attribute::Verify(true),
        Attribute::EcParams(params),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.clone()),
    ];
    let private = [
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id),
    ];
    s.generate_key_pair(&mech, &public, &private)
        .map_err(|e| err("generating the key pair", e))?;
    drop(s);
    let key = open(module, token, label, kind)?;
    key.self_check()?;
    Ok(key.public())
}

/// A key in a token.
pub struct Pkcs11Key {
    session: Mutex<Session>,
    key: ObjectHandle,
    kind: KeyKind,
    public: Vec<u8>,
}

impl std::fmt::Debug for Pkcs11Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pkcs11Key({})", self.public())
    }
}

/// Opens the key labelled `label`.
pub fn open(module: &Path, token: &str, label: &str, kind: KeyKind) -> Result<Pkcs11Key> {
    let s = session(module, token)?;
    let key = find(&s, ObjectClass::PRIVATE_KEY, label)?
        .ok_or_else(|| Error::invalid("pkcs11.label", format!("no private key {label:?}")))?;
    let pubkey = find(&s, ObjectClass::PUBLIC_KEY, label)?
        .ok_or_else(|| Error::invalid("pkcs11.label", format!("no public key {label:?}")))?;
    let public = ec_point(&s, pubkey)?;
    match (kind, public.len()) {
        (KeyKind::Secp256k1, 65) | (KeyKind::Ed25519, 32) => {}
        _ => {
            return Err(Error::invalid(
                "pkcs11.label",
                format!("{label:?} is not a {kind:?} key"),
            ));
        }
    }
    Ok(Pkcs11Key {
        session: Mutex::new(s),
        key,
        kind,
        public,
    })
}

/// Half the secp256k1 group order: signatures must have `s` at most this.
fn half_order() -> U256 {
    U256::from_be_bytes(alloy::hex!(
        "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0"
    ))
}

fn order() -> U256 {
    U256::from_be_bytes(alloy::hex!(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
    ))
}

impl Pkcs11Key {
    /// The EVM address of a secp256k1 key.
    pub fn address(&self) -> Option<Address> {
        (self.kind == KeyKind::Secp256k1)
            .then(|| Address::from_slice(&keccak256(&self.public[1..])[12..]))
    }
}

impl Pkcs11Key {
    /// Signs a fixed message and verifies the signature against the public
    /// key read from the token: what the token signs is what the chains
    /// will accept.
    pub fn self_check(&self) -> Result<()> {
        let probe = keccak256(b"switchyard pkcs11 self-check");
        let sig = self.sign(probe.as_slice())?;
        let ok = match self.kind {
            KeyKind::Secp256k1 => crate::request::recover(&probe, &sig) == self.address(),
            KeyKind::Ed25519 => {
                use ed25519_dalek::Verifier;
                let pk: [u8; 32] = self.public.as_slice().try_into().unwrap_or([0; 32]);
                match (
                    ed25519_dalek::VerifyingKey::from_bytes(&pk),
                    ed25519_dalek::Signature::from_slice(&sig),
                ) {
                    (Ok(vk), Ok(s)) => vk.verify(probe.as_slice(), &s).is_ok(),
                    _ => false,
                }
            }
        };
        if ok {
            Ok(())
        } else {
            Err(Error::invalid(
                "pkcs11",
                "the token's signature does not verify against its public key",
            ))
        }
    }
}

impl KeyBackend for Pkcs11Key {
    fn kind(&self) -> KeyKind {
        self.kind
    }

    fn public(&self) -> String {
        match self.address() {
            Some(a) => a.to_string(),
            None => self.public.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let s = self
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match self.kind {
            KeyKind::Ed25519 => s
                .sign(
                    &Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
                    self.key,
                    message,
                )
                .map_err(|e| err("signing", e)),
            KeyKind::Secp256k1 => {
                let digest = B256::try_from(message)
                    .map_err(|_| Error::invalid("digest", "expected 32 bytes"))?;
                let rs = s
                    .sign(&Mechanism::Ecdsa, self.key, digest.as_slice())
                    .map_err(|e| err("signing", e))?;
                if rs.len() != 64 {
                    return Err(Error::invalid("pkcs11", "ECDSA signature is not 64 bytes"));
                }
                let r = U256::from_be_slice(&rs[..32]);
                let mut sv = U256::from_be_slice(&rs[32..]);
                if sv > half_order() {
                    sv = order() - sv;
                }
                let me = self.address();
                for parity in [false, true] {
                    let sig = alloy::primitives::Signature::new(r, sv, parity);
                    if sig.recover_address_from_prehash(&digest).ok() == me {
                        return Ok(sig.as_bytes().to_vec());
                    }
                }
                Err(Error::invalid(
                    "pkcs11",
                    "the token's signature does not recover to its key",
                ))
            }
        }
    }
}
