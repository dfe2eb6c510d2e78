//! The states of payouts, payout batches, hops, transfers and webhook
//! deliveries, stored as [`crate::TxState`] is: each type owns its names. Statements name them
//! through the constants of [`sql`] (`format!("... state = {PAYOUT_ROUTED}")`)
//! or bind them as parameters (they are `ToSql`/`FromSql`); code compares
//! and matches the enums. No state name is written anywhere else.

use std::fmt;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

/// A state stored by its name.
pub trait StoredState: Copy + Sized + 'static {
    /// Every state, in lifecycle order.
    const ALL: &'static [Self];
    /// Its stored name.
    fn as_str(self) -> &'static str;

    /// The state named `s`, if any.
    fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|x| x.as_str() == s)
    }

    /// Every stored name, in lifecycle order.
    fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|s| s.as_str()).collect()
    }
}

macro_rules! stored_state {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl StoredState for $name {
            const ALL: &'static [Self] = &[$(Self::$variant,)+];
            fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl $name {
            /// Its stored name.
            pub fn as_str(self) -> &'static str {
                StoredState::as_str(self)
            }

            /// Its stored name as an SQL string literal (`'queued'`), for
            /// the constants of [`sql`].
            pub const fn sql_literal(self) -> &'static str {
                match self {
                    $(Self::$variant => concat!("'", $text, "'"),)+
                }
            }

            /// The state named `s`, if any.
            pub fn parse(s: &str) -> Option<Self> {
                <Self as StoredState>::parse(s)
            }

            /// Every stored name, in lifecycle order.
            pub fn names() -> Vec<&'static str> {
                <Self as StoredState>::names()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $name {
            fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
                let s = v.as_str()?;
                Self::parse(s).ok_or_else(|| {
                    FromSqlError::Other(format!(concat!("unknown ", stringify!($name), " {:?}"), s).into())
                })
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == other.as_str()
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.as_str()
            }
        }
    };
}

stored_state! {
    /// Where a payout item stands (see the payout module).
    PayoutState {
        /// Stored, not yet routed.
        Queued = "queued",
        /// Its chain has the float: waits for a batch.
        Routed = "routed",
        /// Waits: for approval, the governor, a float top-up, a pause.
        Held = "held",
        /// In a written batch.
        Batched = "batched",
        /// Its batch is on the lane.
        Submitted = "submitted",
        /// Paid in an included transaction, not yet final.
        Confirmed = "confirmed",
        /// Paid, final.
        Final = "final",
        /// Can never be paid (rejected, or invalid on chain).
        Failed = "failed",
        /// Cancelled by the merchant before batching.
        Cancelled = "cancelled",
    }
}

stored_state! {
    /// Where a payout batch stands.
    BatchState {
        /// Signed and stored, not yet on a lane.
        Written = "written",
        /// Its transaction is on the lane.
        Submitted = "submitted",
        /// Being cancelled on chain (its items go back to the queue).
        Voiding = "voiding",
        /// Executed, final.
        Final = "final",
        /// Cancelled on chain, final.
        Void = "void",
    }
}

stored_state! {
    /// Where one hop of a transfer stands.
    HopState {
        /// Not started.
        Pending = "pending",
        /// Deposit on its way.
        Depositing = "depositing",
        /// Deposit final; release not yet sent.
        Deposited = "deposited",
        /// Release on its way.
        Releasing = "releasing",
        /// Released, final.
        Done = "done",
        /// Being refunded on the source.
        Refunding = "refunding",
        /// Refunded, final.
        Refunded = "refunded",
        /// Can never complete.
        Failed = "failed",
    }
}

stored_state! {
    /// Where a transfer stands.
    TransferState {
        /// Waits for a second operator's approval before anything runs
        /// (a large transfer of the relayer's own funds).
        AwaitingApproval = "awaiting_approval",
        /// Hops still to run.
        Pending = "pending",
        /// Every hop done.
        Done = "done",
        /// A hop failed or was refunded.
        Failed = "failed",
    }
}

/// The states as SQL string literals, to be named in statements with
/// `format!` (`state IN ({PAYOUT_QUEUED}, {PAYOUT_HELD})`).
pub mod sql {
    use super::{BatchState, DeliveryStatus, HopState, PayoutState, TransferState};
    use crate::lane::TxState;

    /// `'pending'`.
    pub const DELIVERY_PENDING: &str = DeliveryStatus::Pending.sql_literal();
    /// `'delivered'`.
    pub const DELIVERY_DELIVERED: &str = DeliveryStatus::Delivered.sql_literal();
    /// `'dead'`.
    pub const DELIVERY_DEAD: &str = DeliveryStatus::Dead.sql_literal();

    /// `'reserved'`.
    pub const TX_RESERVED: &str = TxState::Reserved.sql_literal();
    /// `'signed'`.
    pub const TX_SIGNED: &str = TxState::Signed.sql_literal();
    /// `'sent'`.
    pub const TX_SENT: &str = TxState::Sent.sql_literal();
    /// `'included'`.
    pub const TX_INCLUDED: &str = TxState::Included.sql_literal();
    /// `'final'`.
    pub const TX_FINAL: &str = TxState::Final.sql_literal();

    /// `'queued'`.
    pub const PAYOUT_QUEUED: &str = PayoutState::Queued.sql_literal();
    /// `'routed'`.
    pub const PAYOUT_ROUTED: &str = PayoutState::Routed.sql_literal();
    /// `'held'`.
    pub const PAYOUT_HELD: &str = PayoutState::Held.sql_literal();
    /// `'batched'`.
    pub const PAYOUT_BATCHED: &str = PayoutState::Batched.sql_literal();
    /// `'submitted'`.
    pub const PAYOUT_SUBMITTED: &str = PayoutState::Submitted.sql_literal();
    /// `'confirmed'`.
    pub const PAYOUT_CONFIRMED: &str = PayoutState::Confirmed.sql_literal();
    /// `'final'`.
    pub const PAYOUT_FINAL: &str = PayoutState::Final.sql_literal();
    /// `'failed'`.
    pub const PAYOUT_FAILED: &str = PayoutState::Failed.sql_literal();
    /// `'cancelled'`.
    pub const PAYOUT_CANCELLED: &str = PayoutState::Cancelled.sql_literal();
    /// `'written'`.
    pub const BATCH_WRITTEN: &str = BatchState::Written.sql_literal();
    /// `'submitted'`.
    pub const BATCH_SUBMITTED: &str = BatchState::Submitted.sql_literal();
    /// `'voiding'`.
    pub const BATCH_VOIDING: &str = BatchState::Voiding.sql_literal();
    /// `'final'`.
    pub const BATCH_FINAL: &str = BatchState::Final.sql_literal();
    /// `'void'`.
    pub const BATCH_VOID: &str = BatchState::Void.sql_literal();
    /// `'pending'`.
    pub const HOP_PENDING: &str = HopState::Pending.sql_literal();
    /// `'depositing'`.
    pub const HOP_DEPOSITING: &str = HopState::Depositing.sql_literal();
    /// `'deposited'`.
    pub const HOP_DEPOSITED: &str = HopState::Deposited.sql_literal();
    /// `'releasing'`.
    pub const HOP_RELEASING: &str = HopState::Releasing.sql_literal();
    /// `'done'`.
    pub const HOP_DONE: &str = HopState::Done.sql_literal();
    /// `'refunding'`.
    pub const HOP_REFUNDING: &str = HopState::Refunding.sql_literal();
    /// `'refunded'`.
    pub const HOP_REFUNDED: &str = HopState::Refunded.sql_literal();
    /// `'failed'`.
    pub const HOP_FAILED: &str = HopState::Failed.sql_literal();
    /// `'pending'`; also the state of a funding row (a transfer's).
    pub const TRANSFER_PENDING: &str = TransferState::Pending.sql_literal();
    /// `'awaiting_approval'`.
    pub const TRANSFER_AWAITING_APPROVAL: &str = TransferState::AwaitingApproval.sql_literal();
    /// `'done'`.
    pub const TRANSFER_DONE: &str = TransferState::Done.sql_literal();
    /// `'failed'`.
    pub const TRANSFER_FAILED: &str = TransferState::Failed.sql_literal();
}

stored_state! {
    /// Where an intent of a VM lane stands (see [`crate::vmlane`]).
    IntentState {
        /// Stored; no attempt is alive (none yet, or every one is proven
        /// dead): the next tick signs one under a fresh fence.
        Reserved = "reserved",
        /// An attempt is signed and stored; maybe broadcast.
        Signed = "signed",
        /// An attempt is broadcast, not yet seen in a block.
        Sent = "sent",
        /// An attempt is in a block that is not final yet.
        Included = "included",
        /// An attempt is in a final, canonical block (it may have failed:
        /// see the intent's `success`).
        Final = "final",
        /// Withdrawn before anything could execute: no attempt exists or
        /// every one is proven dead, and none will be made.
        Dead = "dead",
    }
}

stored_state! {
    /// Where one signed attempt of a VM lane intent stands.
    AttemptState {
        /// Signed and stored, not known to be broadcast.
        Signed = "signed",
        /// Broadcast at least once.
        Sent = "sent",
        /// Seen in a block.
        Included = "included",
        /// Proven never to be included (the proof is kept on the row).
        Dead = "dead",
    }
}

stored_state! {
    /// Where one webhook delivery stands.
    DeliveryStatus {
        /// Not yet delivered; attempted again when due.
        Pending = "pending",
        /// Delivered (the receiver answered 2xx).
        Delivered = "delivered",
        /// Given up after its attempts.
        Dead = "dead",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_refused() {
        for s in PayoutState::ALL {
            assert_eq!(PayoutState::parse(s.as_str()), Some(*s));
        }
        for s in HopState::ALL {
            assert_eq!(HopState::parse(s.as_str()), Some(*s));
        }
        assert_eq!(PayoutState::parse("paid"), None);
        // Every SQL constant is its state's stored name, quoted: the lane's
        // are written by hand beside `TxState::as_str`.
        let quoted = |name: &str| format!("'{name}'");
        for (c, s) in [
            (sql::TX_RESERVED, crate::TxState::Reserved.to_string()),
            (sql::TX_SIGNED, crate::TxState::Signed.to_string()),
            (sql::TX_SENT, crate::TxState::Sent.to_string()),
            (sql::TX_INCLUDED, crate::TxState::Included.to_string()),
            (sql::TX_FINAL, crate::TxState::Final.to_string()),
        ] {
            assert_eq!(c, quoted(&s));
        }
        for s in PayoutState::ALL {
            assert_eq!(s.sql_literal(), quoted(s.as_str()));
        }
        assert_eq!(sql::PAYOUT_QUEUED, "'queued'");
        assert_eq!(sql::HOP_REFUNDING, "'refunding'");
    }
}
