//! Webhook signing throughput: ours against plain `hmac` + `sha2` computing
//! the same MACs.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tower_claude_webhook::{Scheme, WebhookSecret, sign::Signer};

/// The secret every scenario signs with.
pub const SECRET: &str = "benchmark-secret-0123456789abcdef";
/// The timestamp every scenario signs.
pub const TIMESTAMP: u64 = 1_764_000_000;
/// The body sizes measured.
pub const SIZES: [usize; 2] = [1024, 1024 * 1024];

/// A body of `len` bytes.
pub fn body(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Plain HMAC-SHA256 of `"<timestamp>." + body`, keyed per call, hex-encoded:
/// what a hand-written sender does for `X-Webhook-Signature-256`.
pub fn plain_hmac(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(TIMESTAMP.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex(&mac.finalize().into_bytes())
}

/// The same twice over, with the body-only MAC too: the `X-Webhook-*` scheme's two
/// headers by hand.
pub fn plain_hmac_both(body: &[u8]) -> (String, String) {
    let mut plain = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    plain.update(body);
    (plain_hmac(body), hex(&plain.finalize().into_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Our signer for a scenario: `x-webhook-256` (timestamped header only), `x-webhook`
/// (both headers) or `standard`.
pub fn signer(scenario: &str) -> Signer {
    let secret = WebhookSecret::new(SECRET).expect("a secret");
    match scenario {
        "x-webhook-256" => Signer::x_webhook(secret).body_signature(false),
        "x-webhook" => Signer::x_webhook(secret),
        "standard" => Signer::with_secrets(Scheme::Standard, [secret]),
        other => panic!("unknown signer {other}"),
    }
}
