//! Sends one signed webhook to a URL, with retries, and prints the delivery
//! report as JSON. The body comes from `--data` or standard input.

use std::io::Read;
use std::process::ExitCode;

use bytes::Bytes;
use clap::Parser;
use tower_claude_examples::init_tracing;
use tower_claude_examples::notify::Notifier;
use tower_claude_webhook::deliver::RetryPolicy;

#[derive(Parser)]
#[command(
    name = "webhook-sender",
    version,
    about = "send one signed webhook, with retries"
)]
struct Cli {
    /// Where to send it.
    #[arg(long, env = "TOWER_CLAUDE_WEBHOOK_URL")]
    url: String,
    /// The signing secret.
    #[arg(long, env = "TOWER_CLAUDE_WEBHOOK_SECRET", hide_env_values = true)]
    secret: String,
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
}

#[tokio::main]
async fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    let body = match cli.data {
        Some(data) => data.into_bytes(),
        None => {
            let mut buffer = Vec::new();
            if let Err(error) = std::io::stdin().read_to_end(&mut buffer) {
                eprintln!("error: reading the body from standard input: {error}");
                return ExitCode::FAILURE;
            }
            buffer
        }
    };
    let notifier = match Notifier::new(
        &cli.url,
        &cli.secret,
        cli.allow_insecure,
        RetryPolicy::default(),
    ) {
        Ok(notifier) => notifier,
        Err(error) => {
            eprintln!("error: {error}");
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
