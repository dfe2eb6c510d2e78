//! Bridge protocol adapters: one module per protocol, each turning a routed
//! leg into the transactions its contracts expect.
//!
//! Dependencies point one way: `core` for the domain, `chains` for the
//! VM's calldata and message signing. The relayer drives these adapters;
//! they do no I/O themselves.
//!
//! Executable today: [`escrow`], the devnet `EscrowBridge`. Every other
//! protocol in a topology (CCTP, Stargate, USDT0, ...) is quoted and
//! routed but refused for execution with [`Unsupported`].

pub mod escrow;

/// A routed protocol this build cannot execute.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "bridge {bridge}: protocol {protocol:?} is quote-only in this build (executable: escrow, vault)"
)]
pub struct Unsupported {
    /// Bridge id.
    pub bridge: String,
    /// Its protocol.
    pub protocol: String,
}

/// Whether legs of `protocol` can be executed.
pub fn executable(protocol: &str) -> bool {
    protocol == escrow::PROTOCOL || protocol == VAULT
}

/// The topology's `protocol` of a bridge between an EVM chain's
/// `EscrowBridge` and a Solana chain's vault (an SPL token account of an
/// SPL Token multisig of the same signer set,
/// `switchyard_chains::solana::vault`).
pub const VAULT: &str = "vault";
