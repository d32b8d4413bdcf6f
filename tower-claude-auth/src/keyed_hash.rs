//! A keyed 128-bit hash of tokens: for constant-time comparison and cache keys.
//!
//! The key is random per store, so the hashes mean nothing outside this process
//! and cannot be precomputed. SipHash-2-4 is a PRF: without the key an attacker
//! can neither find two tokens with one hash nor learn anything from timing the
//! 16-byte comparison. It costs ~300 instructions per token, where SHA-256
//! costs ~3,600 on a CPU without SHA extensions.

use std::hash::{BuildHasher, Hasher};

use siphasher::sip128::{Hasher128, SipHasher24};
use subtle::ConstantTimeEq;

#[derive(Clone)]
pub(crate) struct TokenHasher {
    k0: u64,
    k1: u64,
}

impl TokenHasher {
    pub(crate) fn random() -> Self {
        let mut key = [0u8; 16];
        if getrandom::fill(&mut key).is_err() {
            // The OS refused randomness (no getrandom syscall and no
            // /dev/urandom). std's RandomState draws its keys from the OS too, by
            // other means; hashing through two of them still yields keys nobody
            // outside the process knows.
            let a = std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64);
            let b = std::collections::hash_map::RandomState::new().hash_one(0xfeed_u64);
            key[..8].copy_from_slice(&a.to_le_bytes());
            key[8..].copy_from_slice(&b.to_le_bytes());
        }
        let (k0, k1) = key.split_at(8);
        Self {
            k0: u64::from_le_bytes(k0.try_into().unwrap_or_default()),
            k1: u64::from_le_bytes(k1.try_into().unwrap_or_default()),
        }
    }

    pub(crate) fn hash(&self, token: &[u8]) -> TokenHash {
        let mut hasher = SipHasher24::new_with_keys(self.k0, self.k1);
        hasher.write(token);
        TokenHash(hasher.finish128().as_u128())
    }
}

/// The keyed hash of one token.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TokenHash(u128);

impl TokenHash {
    /// Equality in constant time.
    pub(crate) fn ct_eq(&self, other: &Self) -> bool {
        self.0.to_le_bytes().ct_eq(&other.0.to_le_bytes()).into()
    }
}

/// A `BuildHasher` for maps keyed by [`TokenHash`]: it passes the keyed hash
/// through instead of hashing it again.
#[derive(Clone, Copy, Default)]
pub(crate) struct PassThrough;

impl BuildHasher for PassThrough {
    type Hasher = PassThroughHasher;
    fn build_hasher(&self) -> PassThroughHasher {
        PassThroughHasher(0)
    }
}

pub(crate) struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().take(8) {
            self.0 = self.0 << 8 | u64::from(b);
        }
    }
    fn write_u128(&mut self, value: u128) {
        self.0 = value as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_and_deterministic_per_key() {
        let a = TokenHasher::random();
        let b = TokenHasher::random();
        assert!(a.hash(b"token").ct_eq(&a.hash(b"token")));
        assert!(!a.hash(b"token").ct_eq(&a.hash(b"token2")));
        assert!(!a.hash(b"token").ct_eq(&b.hash(b"token")));
    }
}
