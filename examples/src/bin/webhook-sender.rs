//! Sends one signed webhook to a URL, with retries, and prints the delivery
//! report as JSON. The body comes from `--data` or standard input.
//!
//! `--secret` signs in the `X-Webhook-*` scheme; `--standard-secret` (`v1`)
//! and `--standard-signing-key` (`v1a`, Ed25519) in Standard Webhooks, alone
//! or together. `--generate-keypair` prints a new `whsk_`/`whpk_` pair.

use std::io::Read;
use std::process::ExitCode;

use bytes::Bytes;
use clap::Parser;
use tower_claude_examples::init_tracing;
use tower_claude_examples::notify::Notifier;
use tower_claude_examples::observe::{ObserveArgs, startup_error};
use tower_claude_webhook::deliver::RetryPolicy;
use tower_claude_webhook::sign::Signer;
use tower_claude_webhook::{StandardSigningKey, WebhookSecret};

#[derive(Parser)]
#[command(
    name = "webhook-sender",
    version,
    about = "send one signed webhook, with retries"
)]
struct Cli {
    /// Where to send it.
    #[arg(
        long,
        env = "TOWER_CLAUDE_WEBHOOK_URL",
        required_unless_present = "generate_keypair"
    )]
    url: Option<String>,
    /// The signing secret of the `X-Webhook-*` scheme.
    #[arg(
        long,
        env = "TOWER_CLAUDE_WEBHOOK_SECRET",
        hide_env_values = true,
        required_unless_present_any = ["standard_secret", "standard_signing_key", "generate_keypair"]
    )]
    secret: Option<String>,
    /// Sign in Standard Webhooks with this `whsec_` secret (`v1`).
    #[arg(long, env = "TOWER_CLAUDE_STANDARD_SECRET", hide_env_values = true)]
    standard_secret: Option<String>,
    /// Sign in Standard Webhooks with this `whsk_` Ed25519 key (`v1a`; beside
    /// `v1` when `--standard-secret` is given too).
    #[arg(
        long,
        env = "TOWER_CLAUDE_STANDARD_SIGNING_KEY",
        hide_env_values = true
    )]
    standard_signing_key: Option<String>,
    /// Print a new Ed25519 key pair (`whsk_` signing key, then `whpk_` public
    /// key, one a line) and exit.
    #[arg(long)]
    generate_keypair: bool,
    /// The event type.
    #[arg(long, default_value = "notify")]
    event: String,
    /// The body (default: standard input).
    #[arg(long)]
    data: Option<String>,
    /// The body's content type.
    #[arg(long, default_value = "application/json")]
    content_type: String,
    /// Permit an `http://` URL.
    #[arg(long)]
    allow_insecure: bool,
    #[command(flatten)]
    observe: ObserveArgs,
}

/// The signer the options ask for: Standard Webhooks when a Standard secret
/// or key is given, else the `X-Webhook-*` scheme.
fn signer(cli: &Cli) -> Result<Signer, String> {
    let standard_secret = cli
        .standard_secret
        .as_deref()
        .map(WebhookSecret::standard)
        .transpose()
        .map_err(|e| format!("--standard-secret: {e}"))?;
    let signing_key = cli
        .standard_signing_key
        .as_deref()
        .map(StandardSigningKey::new)
        .transpose()
        .map_err(|e| format!("--standard-signing-key: {e}"))?;
    match (standard_secret, signing_key, &cli.secret) {
        (Some(secret), Some(key), _) => Ok(Signer::standard(secret).also_signing_key(key)),
        (Some(secret), None, _) => Ok(Signer::standard(secret)),
        (None, Some(key), _) => Ok(Signer::standard_signing_key(key)),
        (None, None, Some(secret)) => WebhookSecret::new(secret.as_str())
            .map(Signer::x_webhook)
            .map_err(|e| format!("--secret: {e}")),
        (None, None, None) => {
            Err("give --secret, --standard-secret or --standard-signing-key to sign with".into())
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.observe.log_format);
    if cli.generate_keypair {
        return match StandardSigningKey::generate() {
            Ok(key) => {
                println!("{}", key.to_whsk());
                println!("{}", key.public_key());
                ExitCode::SUCCESS
            }
            Err(error) => {
                startup_error(format_args!("{error}"));
                ExitCode::FAILURE
            }
        };
    }
    let (signer, url) = match (signer(&cli), &cli.url) {
        (Ok(signer), Some(url)) => (signer, url),
        (Err(error), _) => {
            startup_error(format_args!("{error}"));
            return ExitCode::from(2);
        }
        (_, None) => {
            startup_error(format_args!("--url is required"));
            return ExitCode::from(2);
        }
    };
    let body = match &cli.data {
        Some(data) => data.clone().into_bytes(),
        None => {
            let mut buffer = Vec::new();
            if let Err(error) = std::io::stdin().read_to_end(&mut buffer) {
                startup_error(format_args!(
                    "reading the body from standard input: {error}"
                ));
                return ExitCode::FAILURE;
            }
            buffer
        }
    };
    let notifier = match Notifier::new(url, signer, cli.allow_insecure, RetryPolicy::default()) {
        Ok(notifier) => notifier,
        Err(error) => {
            startup_error(format_args!("{error}"));
            return ExitCode::from(2);
        }
    };
    let outcome = notifier
        .send(&cli.event, &cli.content_type, Bytes::from(body))
        .await;
    println!("{}", outcome.to_json());
    if outcome.delivered() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
