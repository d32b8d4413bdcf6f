//! Keys nobody outside the process knows.

use std::hash::BuildHasher;

/// `N` random bytes from the operating system. Should it refuse (no
/// `getrandom` system call and no `/dev/urandom`), std's `RandomState`, which
/// draws its keys by other means, fills them: still unknown outside the
/// process, which is what hash keys and ids need.
///
/// Not for secrets that must be cryptographically strong on their own (a
/// webhook secret); those fail when the OS refuses.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if getrandom::fill(&mut bytes).is_err() {
        let state = std::collections::hash_map::RandomState::new();
        for (n, chunk) in bytes.chunks_mut(8).enumerate() {
            let word = state.hash_one(n as u64).to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
    bytes
}

/// Two random words, a SipHash key.
pub fn random_key() -> (u64, u64) {
    let bytes = random_bytes::<16>();
    let (k0, k1) = bytes.split_at(8);
    let word = |half: &[u8]| u64::from_le_bytes(half.try_into().unwrap_or_default());
    (word(k0), word(k1))
}
