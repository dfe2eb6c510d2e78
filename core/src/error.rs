//! The core error type. Every variant names the field or value it is about,
//! so a caller (CLI, RPC, config loader) can tell a person what to fix.

use thiserror::Error;

/// Result alias for core operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors raised while parsing or validating domain values and config.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// A value could not be parsed or is out of range.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Dotted path of the offending field (e.g. `bridge[3].fee_bps`).
        field: String,
        /// What is wrong, in words a person can act on.
        reason: String,
    },
    /// A reference to a chain, asset or bridge that does not exist.
    #[error("unknown {field}: {value}{}", did_you_mean(suggestions))]
    Unknown {
        /// The field that holds the reference.
        field: String,
        /// The value that matched nothing.
        value: String,
        /// The closest known names, best first (may be empty).
        suggestions: Vec<String>,
    },
    /// A file could not be read or parsed.
    #[error("cannot load {path}: {reason}")]
    Load {
        /// The file path.
        path: String,
        /// The reader's or parser's message.
        reason: String,
    },
}

impl Error {
    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::Unknown`].
    pub fn unknown(field: impl Into<String>, value: impl Into<String>) -> Self {
        Self::Unknown {
            field: field.into(),
            value: value.into(),
            suggestions: Vec::new(),
        }
    }

    /// [`Error::Unknown`] with the closest known names to offer.
    pub fn unknown_near(
        field: impl Into<String>,
        value: impl Into<String>,
        suggestions: Vec<String>,
    ) -> Self {
        Self::Unknown {
            field: field.into(),
            value: value.into(),
            suggestions,
        }
    }

    /// The field this error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid { field, .. } | Self::Unknown { field, .. } => Some(field),
            Self::Load { .. } => None,
        }
    }

    /// Returns a copy whose field path is prefixed by `prefix.`, for errors
    /// raised by a nested parser.
    pub fn within(self, prefix: &str) -> Self {
        match self {
            Self::Invalid { field, reason } => Self::Invalid {
                field: join_field(prefix, &field),
                reason,
            },
            Self::Unknown {
                field,
                value,
                suggestions,
            } => Self::Unknown {
                field: join_field(prefix, &field),
                value,
                suggestions,
            },
            other => other,
        }
    }

    /// Input errors are never retryable: the same input fails the same way.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

/// `; did you mean a, b or c?`, or nothing without suggestions.
fn did_you_mean(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => format!("; did you mean {one}?"),
        [init @ .., last] => format!("; did you mean {} or {last}?", init.join(", ")),
    }
}

fn join_field(prefix: &str, field: &str) -> String {
    if field.is_empty() {
        prefix.to_owned()
    } else {
        format!("{prefix}.{field}")
    }
}
