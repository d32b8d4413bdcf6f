//! What a token is checked against: plaintext, a SHA-256 digest, or a bcrypt hash.

use std::fmt;
use std::str::FromStr;

use zeroize::Zeroizing;

/// bcrypt reads at most 72 bytes of a password and silently ignores the rest, so
/// a token this long or longer is refused rather than truncated.
pub const BCRYPT_MAX_TOKEN_LEN: usize = 72;

/// A secret a bearer token is checked against.
///
/// `Debug` never prints the secret.
#[derive(Clone)]
pub struct Credential {
    kind: Kind,
}

#[derive(Clone)]
pub(crate) enum Kind {
    /// The token itself, for development. Compared in constant time through a
    /// keyed 128-bit hash, so neither its content nor its length leaks.
    Plaintext(Zeroizing<Vec<u8>>),
    /// The SHA-256 digest of a high-entropy machine key.
    Sha256([u8; 32]),
    /// A bcrypt hash (`$2a$`, `$2b$` or `$2y$`), validated at construction.
    Bcrypt(Box<str>),
}

impl Credential {
    /// A plaintext token, for development: anyone who reads the configuration
    /// can authenticate. Prefer [`bcrypt`](Self::bcrypt) or [`sha256_hex`](Self::sha256_hex).
    pub fn plaintext(token: impl Into<String>) -> Self {
        Self {
            kind: Kind::Plaintext(Zeroizing::new(token.into().into_bytes())),
        }
    }

    /// The lowercase or uppercase hex SHA-256 digest of a random machine key (at
    /// least 128 bits of entropy). Fast, and safe where the token is random: a
    /// digest of a guessable password is not (use bcrypt for those).
    ///
    /// # Errors
    /// [`CredentialError::InvalidSha256`] unless `hex` is 64 hex digits.
    pub fn sha256_hex(hex: &str) -> Result<Self, CredentialError> {
        let digest = tower_claude_core::encoding::decode_hex::<32>(hex.trim())
            .ok_or(CredentialError::InvalidSha256)?;
        Ok(Self {
            kind: Kind::Sha256(digest),
        })
    }

    /// A bcrypt hash such as one made by `htpasswd -B` or the `hash-password`
    /// example (`$2b$12$...`).
    ///
    /// # Errors
    /// [`CredentialError::InvalidBcrypt`] when the hash is malformed, uses the
    /// buggy `$2x$` variant, or has a cost outside 4..=31: a hash that cannot
    /// verify is caught now, not as a 500 on the first request.
    pub fn bcrypt(hash: &str) -> Result<Self, CredentialError> {
        let hash = hash.trim();
        let invalid = |reason| CredentialError::InvalidBcrypt(reason);
        let parts = bcrypt::HashParts::from_str(hash)
            .map_err(|_| invalid("not a 60-character bcrypt hash in modular crypt format"))?;
        if !(hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$")) {
            return Err(invalid(
                "only the $2a$, $2b$ and $2y$ variants are accepted",
            ));
        }
        if !(4..=31).contains(&parts.get_cost()) {
            return Err(invalid("the cost must be between 4 and 31"));
        }
        Ok(Self {
            kind: Kind::Bcrypt(hash.into()),
        })
    }

    /// The credential named by the environment: `{PREFIX}_PASSWORD_HASH` (a
    /// bcrypt hash, preferred), else `{PREFIX}_PASSWORD` (plaintext, with a
    /// `tracing` warning that it is for development). Empty values count as unset.
    ///
    /// ```
    /// use tower_claude_auth::Credential;
    ///
    /// let missing = Credential::from_env("TOWER_CLAUDE_DOC_EXAMPLE").unwrap_err();
    /// assert!(missing.to_string().contains("TOWER_CLAUDE_DOC_EXAMPLE_PASSWORD_HASH"));
    /// ```
    ///
    /// # Errors
    /// [`CredentialError::NotConfigured`] naming both variables when neither is
    /// set; [`CredentialError::InvalidBcrypt`] when the hash is malformed.
    pub fn from_env(prefix: &str) -> Result<Self, CredentialError> {
        Self::from_lookup(prefix, |name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) with the variables read through `lookup`
    /// (a config file, a secrets manager, a test).
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn from_lookup(
        prefix: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, CredentialError> {
        let hash_var = format!("{prefix}_PASSWORD_HASH");
        let plain_var = format!("{prefix}_PASSWORD");
        let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if let Some(hash) = set(&hash_var) {
            return Self::bcrypt(&hash);
        }
        if let Some(password) = set(&plain_var) {
            tracing::warn!(
                variable = %plain_var,
                "using a plaintext bearer token: fine for development, but set {hash_var} \
                 to a bcrypt hash in production"
            );
            return Ok(Self::plaintext(password));
        }
        Err(CredentialError::NotConfigured {
            hash_var,
            plain_var,
        })
    }

    /// Whether verifying this credential runs bcrypt.
    pub fn is_bcrypt(&self) -> bool {
        matches!(self.kind, Kind::Bcrypt(_))
    }

    pub(crate) fn kind(&self) -> &Kind {
        &self.kind
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Plaintext(_) => "plaintext",
            Kind::Sha256(_) => "sha256",
            Kind::Bcrypt(_) => "bcrypt",
        };
        f.debug_struct("Credential")
            .field("kind", &kind)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A credential could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialError {
    /// The bcrypt hash was refused; the reason says why.
    InvalidBcrypt(&'static str),
    /// A SHA-256 credential must be 64 hex digits.
    InvalidSha256,
    /// Neither environment variable was set.
    NotConfigured {
        /// The variable for a bcrypt hash.
        hash_var: String,
        /// The variable for a plaintext token.
        plain_var: String,
    },
}

impl fmt::Display for CredentialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidBcrypt(reason) => write!(f, "invalid bcrypt hash: {reason}"),
            Self::InvalidSha256 => {
                f.write_str("invalid SHA-256 credential: expected 64 hex digits")
            }
            Self::NotConfigured {
                hash_var,
                plain_var,
            } => write!(
                f,
                "no credential configured: set {hash_var} to a bcrypt hash (preferred) or \
                 {plain_var} to a plaintext token (development only)"
            ),
        }
    }
}

impl std::error::Error for CredentialError {}

#[cfg(test)]
mod tests {
    use super::*;

    // Made with `bcrypt::hash("hunter2", 4)` (bcrypt 0.19.3).
    const HASH: &str = "$2b$04$cDS1BLNjZeug.2W0UdtQAOb.DkeJ/Dfpzk2ny/5YegIwrk2E6BUji";

    #[test]
    fn accepts_and_refuses_bcrypt_hashes() {
        assert!(Credential::bcrypt(HASH).unwrap().is_bcrypt());
        assert!(Credential::bcrypt(&HASH.replacen("$2b$", "$2y$", 1)).is_ok());
        assert!(Credential::bcrypt(&HASH.replacen("$2b$", "$2x$", 1)).is_err());
        assert!(Credential::bcrypt(&HASH.replacen("$04$", "$99$", 1)).is_err());
        assert!(Credential::bcrypt(&HASH.replacen("$04$", "$03$", 1)).is_err());
        assert!(Credential::bcrypt(&HASH[..59]).is_err());
        assert!(Credential::bcrypt("hunter2").is_err());
        assert!(Credential::bcrypt("").is_err());
        assert!(Credential::bcrypt(&format!("{}é", &HASH[..58])).is_err());
    }

    #[test]
    fn sha256_hex_is_validated() {
        let hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert!(Credential::sha256_hex(hex).is_ok());
        assert!(Credential::sha256_hex(&hex.to_uppercase()).is_ok());
        assert!(Credential::sha256_hex(&hex[..63]).is_err());
        assert!(Credential::sha256_hex(&hex.replace('9', "g")).is_err());
    }

    #[test]
    fn debug_redacts() {
        let text = format!("{:?}", Credential::plaintext("s3cret-token"));
        assert!(!text.contains("s3cret"), "{text}");
        let text = format!("{:?}", Credential::bcrypt(HASH).unwrap());
        assert!(!text.contains("cDS1BLNj"), "{text}");
    }

    #[test]
    fn lookup_prefers_the_hash_and_names_both_variables() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let both = Credential::from_lookup(
            "APP",
            env(&[("APP_PASSWORD_HASH", HASH), ("APP_PASSWORD", "plain")]),
        )
        .unwrap();
        assert!(both.is_bcrypt());
        let plain = Credential::from_lookup("APP", env(&[("APP_PASSWORD", "plain")])).unwrap();
        assert!(!plain.is_bcrypt());
        let empty_hash = Credential::from_lookup(
            "APP",
            env(&[("APP_PASSWORD_HASH", "  "), ("APP_PASSWORD", "plain")]),
        )
        .unwrap();
        assert!(!empty_hash.is_bcrypt());
        let error = Credential::from_lookup("APP", env(&[])).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("APP_PASSWORD_HASH") && text.contains("APP_PASSWORD "),
            "{text}"
        );
        assert!(Credential::from_lookup("APP", env(&[("APP_PASSWORD_HASH", "nope")])).is_err());
    }
}
