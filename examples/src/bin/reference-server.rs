//! The reference server: axum with all four layers, in the documented order.
//!
//! `reference-server --help` lists the options; with none it binds
//! 127.0.0.1:8080 and prints a development token once.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use tower_claude_examples::config::ServerArgs;
use tower_claude_examples::oauth::OAuthArgs;
use tower_claude_examples::observe::{MetricsArgs, ObserveArgs, serve_metrics, startup_error};
use tower_claude_examples::serve::{Limits, serve};
use tower_claude_examples::web::reference_app_full;
use tower_claude_examples::{init_tracing, listen, shutdown_signal};
use tower_claude_webhook::deliver::RetryPolicy;

#[derive(Parser)]
#[command(
    name = "reference-server",
    version,
    about = "axum with tower-claude's headers, rate-limit, auth and webhook layers"
)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    observe: ObserveArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
    #[command(flatten)]
    oauth: OAuthArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.observe.log_format);
    if let Err(error) = serve_metrics("reference-server", &cli.metrics).await {
        startup_error(format_args!("{error}"));
        return ExitCode::from(2);
    }
    let app = match reference_app_full(&cli.server, &cli.oauth, RetryPolicy::default()) {
        Ok(app) => app,
        Err(error) => {
            startup_error(format_args!("{error}"));
            return ExitCode::from(2);
        }
    };
    let bind = cli
        .server
        .bind
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080)));
    let listener = match listen("reference-server", bind, app.stack.dev_token.as_deref()).await {
        Ok(listener) => listener,
        Err(code) => return code,
    };
    if let Err(error) = app.stack.check_redis(&cli.server).await {
        startup_error(format_args!("{error}"));
        return ExitCode::from(2);
    }
    serve(listener, app.router, Limits::default(), shutdown_signal()).await;
    ExitCode::SUCCESS
}
