//! Per-request CSP nonces.
//!
//! A nonce must be unpredictable and must not repeat. Asking the operating
//! system for 16 bytes per request is a system call per request; here each
//! thread keeps a 256-bit key drawn from the operating system, and a nonce is
//! 16 bytes of ChaCha12 keystream (the generator `rand`'s `StdRng` is built
//! on) under that key, at the thread's draw count, in the stream named by the
//! monotonic clock's nanoseconds (on Linux read through the vDSO, without a
//! system call). So:
//! - the key is replaced from the operating system every [`RESEED_EVERY`]
//!   nonces, so a key read out of this process's memory covers a bounded
//!   number of nonces (and its holder must still guess each one's clock
//!   reading);
//! - a process forked after drawing (a pre-fork server whose parent served)
//!   holds the same key and count in parent and child, but the two draw at
//!   different clock readings, so ChaCha gives them unrelated nonces: they
//!   could collide only by drawing the same count in the same clock tick
//!   (1 ns on Linux; coarser on some platforms and virtual machines).

use std::cell::RefCell;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand_chacha::ChaCha12Rng;
use rand_core::{RngCore, SeedableRng};

/// Nonces per key: 64 KiB of nonce bytes, the interval at which `rand`'s thread
/// generator reseeds too.
pub(crate) const RESEED_EVERY: u64 = 4096;

/// The CSP nonce of this request: 128 random bits, base64. The layer puts it in
/// the request extensions for the handler's template
/// (`<script nonce="{nonce}">`) and into `script-src` and `style-src` of the
/// response's policy.
#[derive(Clone, PartialEq, Eq)]
pub struct CspNonce(Arc<str>);

impl CspNonce {
    /// A fresh nonce, or `None` if the operating system refused a key.
    pub(crate) fn generate() -> Option<Self> {
        // `try_with`: a thread being torn down gets no nonce, not a panic.
        let bytes = NONCES
            .try_with(|generator| generator.borrow_mut().draw())
            .ok()??;
        // Encoded on the stack: the `Arc` is the nonce's one allocation.
        let mut text = [0u8; 24];
        let len = STANDARD.encode_slice(bytes, &mut text).ok()?;
        let text = std::str::from_utf8(&text[..len]).ok()?;
        Some(Self(text.into()))
    }

    /// The nonce as it goes into the `nonce` attribute.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

thread_local! {
    static NONCES: RefCell<Generator> = const { RefCell::new(Generator::empty()) };
}

/// One thread's nonce generator.
pub(crate) struct Generator {
    key: Option<[u8; 32]>,
    drawn: u64,
}

impl Generator {
    pub(crate) const fn empty() -> Self {
        Self {
            key: None,
            drawn: 0,
        }
    }

    /// 16 bytes: the keystream at this key's draw count, in the stream of
    /// the current nanosecond.
    pub(crate) fn draw(&mut self) -> Option<[u8; 16]> {
        // The first draw of every key: a refusal leaves the count where it
        // is, so the next draw asks again rather than using an old key.
        if self.drawn.is_multiple_of(RESEED_EVERY) {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).ok()?;
            self.key = Some(key);
        }
        // A generator fresh from its key has nothing buffered, so choosing the
        // stream costs nothing and only the position computes keystream (one
        // refill, where repositioning a used generator would compute two).
        let mut rng = ChaCha12Rng::from_seed(self.key?);
        rng.set_stream(nanoseconds());
        // Four 32-bit words per nonce: draw n reads words 4n to 4n+3.
        rng.set_word_pos(u128::from(self.drawn % RESEED_EVERY) * 4);
        self.drawn = self.drawn.wrapping_add(1);
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        Some(bytes)
    }
}

/// Nanoseconds on the monotonic clock since the process first asked.
fn nanoseconds() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

impl fmt::Display for CspNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CspNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CspNonce").field(&&*self.0).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn nonces_do_not_repeat_across_reseeds_and_threads() {
        let draw_many = || {
            (0..RESEED_EVERY * 2 + 10)
                .map(|_| CspNonce::generate().expect("the OS gives randomness"))
                .collect::<Vec<_>>()
        };
        let others = std::thread::spawn(draw_many)
            .join()
            .expect("the drawing thread finishes");
        let mine = draw_many();
        let all: HashSet<&str> = mine.iter().chain(&others).map(CspNonce::as_str).collect();
        assert_eq!(all.len(), mine.len() + others.len());
        assert!(mine.iter().all(|n| n.as_str().len() == 24));
    }

    /// A forked child holds its parent's generator: the same key, the same
    /// count. Drawn at different nanoseconds, the two give different nonces.
    #[test]
    fn a_copied_generator_draws_other_nonces_later() {
        let mut parent = Generator::empty();
        parent.draw().expect("a key from the OS");
        let mut child = Generator {
            key: parent.key,
            drawn: parent.drawn,
        };
        let first = parent.draw();
        // The monotonic clock moves on before the child draws.
        let before = nanoseconds();
        while nanoseconds() == before {}
        assert_ne!(child.draw(), first);
    }

    /// The same key, count and nanosecond give the same bytes: the stream, not
    /// chance, is what separates parent and child above.
    #[test]
    fn the_stream_is_what_separates_copies() {
        let mut a = ChaCha12Rng::from_seed([7; 32]);
        let mut b = a.clone();
        let draw = |rng: &mut ChaCha12Rng, stream| {
            rng.set_stream(stream);
            rng.set_word_pos(0);
            let mut bytes = [0u8; 16];
            rng.fill_bytes(&mut bytes);
            bytes
        };
        assert_eq!(draw(&mut a, 1), draw(&mut b, 1));
        assert_ne!(draw(&mut a, 1), draw(&mut b, 2));
    }
}
