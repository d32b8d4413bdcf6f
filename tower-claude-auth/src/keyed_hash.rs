//! A keyed 128-bit hash of tokens: for constant-time comparison and cache keys.
//!
//! The key is random per store, so the hashes mean nothing outside this process
//! and cannot be precomputed, and no hash ever leaves it: an attacker sees
//! neither outputs nor anything but a fixed-time 16-byte comparison of them.
//! What the hash must give is that two tokens collide only by chance, which
//! keyed SipHash-1-3 (the function std's `HashMap` relies on against chosen
//! keys) gives with 128 bits of output. It costs ~170 instructions per token;
//! SHA-256 costs ~3,600 on a CPU without SHA extensions.

use std::hash::{BuildHasher, Hasher};

use siphasher::sip128::{Hasher128, SipHasher13};
use subtle::ConstantTimeEq;

#[derive(Clone)]
pub(crate) struct TokenHasher {
    k0: u64,
    k1: u64,
}

impl TokenHasher {
    pub(crate) fn random() -> Self {
        // Nobody outside the process can aim two tokens at one cache slot.
        let (k0, k1) = tower_claude_core::random::random_key();
        Self { k0, k1 }
    }

    pub(crate) fn hash(&self, token: &[u8]) -> TokenHash {
        let mut hasher = SipHasher13::new_with_keys(self.k0, self.k1);
        hasher.write(token);
        TokenHash(hasher.finish128().as_u128())
    }
}

/// The keyed hash of one token.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TokenHash(u128);

impl TokenHash {
    /// Equality in constant time, one 64-bit word at a time.
    pub(crate) fn ct_eq(&self, other: &Self) -> bool {
        let (a, b) = (self.0, other.0);
        let high = ((a >> 64) as u64).ct_eq(&((b >> 64) as u64));
        let low = (a as u64).ct_eq(&(b as u64));
        (high & low).into()
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
