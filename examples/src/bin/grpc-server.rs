//! The gRPC server: tonic with tower-claude's rate-limit and auth layers on
//! `grpc.health.v1.Health` (Check is public) and `echo.v1.Echo/Say`.

use std::process::ExitCode;

use clap::Parser;
use tower_claude_examples::config::ServerArgs;
use tower_claude_examples::grpc::{DEFAULT_BIND, PUBLIC_RPCS, serve};
use tower_claude_examples::observe::{MetricsArgs, ObserveArgs, serve_metrics, startup_error};
use tower_claude_examples::stack::Stack;
use tower_claude_examples::tls::TlsArgs;
use tower_claude_examples::{init_tracing, listen_as, shutdown_signal};

#[derive(Parser)]
#[command(
    name = "grpc-server",
    version,
    about = "tonic with tower-claude's rate-limit and auth layers"
)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    observe: ObserveArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
    #[command(flatten)]
    tls: TlsArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.observe.log_format);
    if let Err(error) = serve_metrics("grpc-server", &cli.metrics).await {
        startup_error(format_args!("{error}"));
        return ExitCode::from(2);
    }
    let stack = match Stack::new(&cli.server, &PUBLIC_RPCS) {
        Ok(stack) => stack,
        Err(error) => {
            startup_error(format_args!("{error}"));
            return ExitCode::from(2);
        }
    };
    let tls = match cli.tls.acceptor(&[b"h2"]) {
        Ok(tls) => tls,
        Err(error) => {
            startup_error(format_args!("{error}"));
            return ExitCode::from(2);
        }
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let bind = cli.server.bind.unwrap_or(DEFAULT_BIND);
    let listener = match listen_as("grpc-server", scheme, bind, stack.dev_token.as_deref()).await {
        Ok(listener) => listener,
        Err(code) => return code,
    };
    if let Err(error) = stack.check_redis(&cli.server).await {
        startup_error(format_args!("{error}"));
        return ExitCode::from(2);
    }
    match serve(stack, listener, tls, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(never) => match never {},
    }
}
