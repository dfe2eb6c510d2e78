//! The states of payouts, payout batches, hops and transfers, stored as
//! [`crate::TxState`] is: each type owns its names. SQL reads them through
//! [`StoredState::sql`] / [`sql_in`] and binds them as parameters; no
//! state name is written anywhere else.

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

    /// The name as an SQL string literal (`'queued'`).
    fn sql(self) -> String {
        format!("'{}'", self.as_str())
    }
}

/// `('a', 'b')`: an SQL list of states, for `state IN ...`.
pub fn sql_in<S: StoredState>(states: &[S]) -> String {
    let names: Vec<String> = states.iter().map(|s| s.sql()).collect();
    format!("({})", names.join(", "))
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
        /// Hops still to run.
        Pending = "pending",
        /// Every hop done.
        Done = "done",
        /// A hop failed or was refunded.
        Failed = "failed",
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
        assert_eq!(
            sql_in(&[PayoutState::Queued, PayoutState::Held]),
            "('queued', 'held')"
        );
    }
}
