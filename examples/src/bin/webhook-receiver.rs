//! Receives signed webhooks: prints each verified one as a JSON line on
//! standard output and refuses the rest (401 with the reason).

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::body::Bytes;
use axum::routing::post;
use axum::{Extension, Router};
use clap::Parser;
use tower_claude_examples::observe::{
    MetricsArgs, ObserveArgs, announce, serve_metrics, startup_error,
};
use tower_claude_examples::serve::{Limits, serve};
use tower_claude_examples::{init_tracing, shutdown_signal};
use tower_claude_ratelimit::{Quota, RateLimitLayer};
use tower_claude_webhook::{
    StandardPublicKey, WebhookSecret,
    replay::MemoryReplayCache,
    verify::{VerifiedWebhook, Verifier, VerifyWebhookLayer},
};

#[derive(Parser)]
#[command(
    name = "webhook-receiver",
    version,
    about = "print verified webhooks, refuse the rest"
)]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "TOWER_CLAUDE_BIND", default_value = "127.0.0.1:8090")]
    bind: SocketAddr,
    /// The signing secret.
    #[arg(long, env = "TOWER_CLAUDE_WEBHOOK_SECRET", hide_env_values = true)]
    secret: String,
    /// Also accept Standard Webhooks (`webhook-signature`) with this `whsec_` secret
    /// on `/standard` (`v1`).
    #[arg(long)]
    standard_secret: Option<String>,
    /// Also accept Standard Webhooks signed by this `whpk_` Ed25519 public key
    /// on `/standard` (`v1a`; repeatable, for a rotation).
    #[arg(long = "standard-public-key", env = "TOWER_CLAUDE_STANDARD_PUBLIC_KEY")]
    standard_public_keys: Vec<String>,
    #[command(flatten)]
    observe: ObserveArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
}

async fn print(Extension(hook): Extension<VerifiedWebhook>, body: Bytes) -> &'static str {
    let line = serde_json::json!({
        "event": hook.event,
        "delivery_id": hook.delivery_id,
        "timestamp": hook.timestamp,
        "body": String::from_utf8_lossy(&body),
    });
    println!("{line}");
    "ok"
}

/// The verifier of `/standard`: `v1` with the secret, `v1a` with the public
/// keys, or both; none when neither is given.
fn standard_verifier(
    secret: Option<&str>,
    public_keys: &[String],
) -> Result<Option<Verifier>, String> {
    let mut keys = public_keys
        .iter()
        .map(|key| StandardPublicKey::new(key).map_err(|e| format!("--standard-public-key: {e}")));
    let verifier = match secret {
        Some(secret) => Verifier::standard(
            WebhookSecret::standard(secret).map_err(|e| format!("--standard-secret: {e}"))?,
        ),
        None => match keys.next() {
            Some(key) => Verifier::standard_public_key(key?),
            None => return Ok(None),
        },
    };
    keys.try_fold(verifier, |verifier, key| {
        verifier
            .try_also_public_key(key?)
            .map_err(|e| format!("--standard-public-key: {e}"))
    })
    .map(Some)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.observe.log_format);
    if let Err(error) = serve_metrics("webhook-receiver", &cli.metrics).await {
        startup_error(format_args!("{error}"));
        return ExitCode::from(2);
    }
    let secret = match WebhookSecret::new(cli.secret) {
        Ok(secret) => secret,
        Err(error) => {
            startup_error(format_args!("--secret: {error}"));
            return ExitCode::from(2);
        }
    };
    let verifier = Verifier::x_webhook(secret).replay_cache(MemoryReplayCache::new(100_000));
    let mut app = Router::new().route("/", post(print).layer(VerifyWebhookLayer::new(verifier)));
    match standard_verifier(cli.standard_secret.as_deref(), &cli.standard_public_keys) {
        Ok(Some(verifier)) => {
            let verifier = verifier.replay_cache(MemoryReplayCache::new(100_000));
            app = app.route(
                "/standard",
                post(print).layer(VerifyWebhookLayer::new(verifier)),
            );
        }
        Ok(None) => {}
        Err(error) => {
            startup_error(format_args!("{error}"));
            return ExitCode::from(2);
        }
    }
    let listener = match tokio::net::TcpListener::bind(cli.bind).await {
        Ok(listener) => listener,
        Err(error) => {
            startup_error(format_args!("cannot listen on {}: {error}", cli.bind));
            return ExitCode::FAILURE;
        }
    };
    if let Ok(addr) = listener.local_addr() {
        let url = format!("http://{addr}");
        announce(
            "INFO",
            &format!("webhook-receiver listening on {url}"),
            &[("program", "webhook-receiver"), ("url", &url)],
        );
    }
    // Per client address, so that one sender of forged messages cannot take
    // the receiver's body budget from everyone.
    let app = app.layer(RateLimitLayer::per_ip(Quota::per_minute(600)));
    serve(listener, app, Limits::default(), shutdown_signal()).await;
    ExitCode::SUCCESS
}
