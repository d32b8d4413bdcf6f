//! Receives signed webhooks: prints each verified one as a JSON line on
//! standard output and refuses the rest (401 with the reason).

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::body::Bytes;
use axum::routing::post;
use axum::{Extension, Router};
use clap::Parser;
use tower_claude_examples::serve::{Limits, serve};
use tower_claude_examples::{init_tracing, shutdown_signal};
use tower_claude_ratelimit::{Quota, RateLimitLayer};
use tower_claude_webhook::{
    WebhookSecret,
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
    /// on `/standard`.
    #[arg(long)]
    standard_secret: Option<String>,
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

#[tokio::main]
async fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    let secret = match WebhookSecret::new(cli.secret) {
        Ok(secret) => secret,
        Err(error) => {
            eprintln!("error: --secret: {error}");
            return ExitCode::from(2);
        }
    };
    let verifier = Verifier::x_webhook(secret).replay_cache(MemoryReplayCache::new(100_000));
    let mut app = Router::new().route("/", post(print).layer(VerifyWebhookLayer::new(verifier)));
    if let Some(standard) = cli.standard_secret {
        match WebhookSecret::standard(&standard) {
            Ok(secret) => {
                let verifier =
                    Verifier::standard(secret).replay_cache(MemoryReplayCache::new(100_000));
                app = app.route(
                    "/standard",
                    post(print).layer(VerifyWebhookLayer::new(verifier)),
                );
            }
            Err(error) => {
                eprintln!("error: --standard-secret: {error}");
                return ExitCode::from(2);
            }
        }
    }
    let listener = match tokio::net::TcpListener::bind(cli.bind).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: cannot listen on {}: {error}", cli.bind);
            return ExitCode::FAILURE;
        }
    };
    if let Ok(addr) = listener.local_addr() {
        eprintln!("webhook-receiver listening on http://{addr}");
    }
    // Per client address, so that one sender of forged messages cannot take
    // the receiver's body budget from everyone.
    let app = app.layer(RateLimitLayer::per_ip(Quota::per_minute(600)));
    serve(listener, app, Limits::default(), shutdown_signal()).await;
    ExitCode::SUCCESS
}
