//! A key: a credential and the scopes it grants, and the rule for its name.

use std::fmt;

use crate::credential::Credential;

/// The longest key name.
pub(crate) const MAX_NAME_LEN: usize = 64;

/// A credential with the scopes it grants.
#[derive(Debug, Clone)]
pub struct Key {
    pub(super) credential: Credential,
    pub(super) scopes: Vec<Box<str>>,
}

impl Key {
    /// A key with no scopes.
    pub fn new(credential: Credential) -> Self {
        Self {
            credential,
            scopes: Vec::new(),
        }
    }

    /// The scopes the key grants (replacing any given before).
    #[must_use]
    pub fn scopes(mut self, scopes: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        self.scopes = scopes
            .into_iter()
            .map(|scope| Box::from(scope.as_ref()))
            .collect();
        self
    }
}

impl From<Credential> for Key {
    fn from(credential: Credential) -> Self {
        Self::new(credential)
    }
}

/// A key name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// Names are 1 to 64 characters of `A-Z a-z 0-9 _ -`: they prefix tokens
    /// as `<name>.<secret>`, so they cannot hold a dot.
    InvalidName(String),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidName(name) => write!(
                f,
                "invalid key name {name:?}: use 1 to 64 characters of A-Z, a-z, 0-9, `_` and `-`"
            ),
        }
    }
}

impl std::error::Error for KeyError {}

pub(crate) fn is_valid_name(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
