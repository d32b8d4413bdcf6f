//! Bearer parsing and the credential check: no `Authorization` header other
//! than `Bearer <the configured token>` is ever accepted.

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use arbitrary::{Arbitrary, Unstructured};
use http::{HeaderValue, Request, Response, StatusCode};
use tower_claude_auth::{BearerAuthLayer, Credential};
use tower_service::Service;

const TOKEN: &str = "s3cret-Token_42.x~y+z/w=";

#[derive(Debug, Arbitrary)]
enum Value {
    /// Arbitrary bytes.
    Raw(Vec<u8>),
    /// A scheme, spaces, and something near the token.
    Shaped {
        scheme: u8,
        spaces: u8,
        token: Token,
    },
}

#[derive(Debug, Arbitrary)]
enum Token {
    Exact,
    Prefix(u8),
    Extended(Vec<u8>),
    Flipped(u8, u8),
    Other(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
struct Input {
    values: Vec<Value>,
}

fn render(value: &Value) -> Vec<u8> {
    match value {
        Value::Raw(bytes) => bytes.clone(),
        Value::Shaped {
            scheme,
            spaces,
            token,
        } => {
            let scheme = ["Bearer", "bearer", "BEARER", "Basic", "Bearer\t", "Bearer:"]
                [usize::from(*scheme) % 6];
            let mut out = scheme.as_bytes().to_vec();
            out.extend(std::iter::repeat_n(b' ', usize::from(spaces % 4)));
            let token_bytes = TOKEN.as_bytes();
            match token {
                Token::Exact => out.extend_from_slice(token_bytes),
                Token::Prefix(n) => {
                    out.extend_from_slice(&token_bytes[..usize::from(*n) % token_bytes.len()]);
                }
                Token::Extended(more) => {
                    out.extend_from_slice(token_bytes);
                    out.extend_from_slice(more);
                }
                Token::Flipped(at, xor) => {
                    let mut t = token_bytes.to_vec();
                    let i = usize::from(*at) % t.len();
                    t[i] ^= xor;
                    out.extend_from_slice(&t);
                }
                Token::Other(bytes) => out.extend_from_slice(bytes),
            }
            out
        }
    }
}

/// Whether `value` is exactly `Bearer`, one or more spaces, and the token.
fn is_the_token(value: &[u8]) -> bool {
    let Some(rest) = value
        .get(..6)
        .filter(|s| s.eq_ignore_ascii_case(b"bearer"))
        .map(|_| &value[6..])
    else {
        return false;
    };
    let token = rest.trim_ascii_start();
    rest.len() > token.len()
        && rest[..rest.len() - token.len()].iter().all(|&b| b == b' ')
        && token == TOKEN.as_bytes()
}

/// Seed format: one `Authorization` value.
pub fn check(data: &[u8]) {
    let values: Vec<Vec<u8>> = match crate::seed(data) {
        Some(value) => vec![value.into_bytes()],
        None => match Input::arbitrary_take_rest(Unstructured::new(data)) {
            Ok(input) => input.values.iter().take(4).map(render).collect(),
            Err(_) => return,
        },
    };
    let mut request = Request::get("/api/data").body(()).unwrap_or_default();
    let mut sent = Vec::new();
    for bytes in values {
        if let Ok(header) = HeaderValue::from_bytes(&bytes) {
            request
                .headers_mut()
                .append(http::header::AUTHORIZATION, header);
            sent.push(bytes);
        }
    }
    // One layer for every input, as in a server.
    static LAYER: OnceLock<BearerAuthLayer> = OnceLock::new();
    let layer = LAYER.get_or_init(|| BearerAuthLayer::new(Credential::plaintext(TOKEN)));
    let handler = tower::service_fn(|_: Request<()>| {
        std::future::ready(Ok::<_, Infallible>(Response::new(())))
    });
    let mut service = tower_layer::Layer::layer(layer, handler);
    let status = match poll_once(service.call(request)) {
        Some(Ok(response)) => response.status(),
        Some(Err(never)) => match never {},
        None => panic!("a plaintext check must answer at once"),
    };
    if status == StatusCode::OK {
        assert!(
            sent.len() == 1 && is_the_token(&sent[0]),
            "accepted {:?}",
            sent.iter()
                .map(|b| String::from_utf8_lossy(b))
                .collect::<Vec<_>>()
        );
    } else if sent.len() == 1 && is_the_token(&sent[0]) {
        panic!("refused the configured token: {status}");
    }
}

fn poll_once<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}
