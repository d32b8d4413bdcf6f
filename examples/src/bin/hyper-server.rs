//! The stack on a plain hyper 1 server: `GET /health`, `GET /api/whoami`.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use tower_claude_examples::config::ServerArgs;
use tower_claude_examples::hyper_app::serve;
use tower_claude_examples::observe::{ObserveArgs, startup_error};
use tower_claude_examples::stack::Stack;
use tower_claude_examples::{init_tracing, listen};

#[derive(Parser)]
#[command(
    name = "hyper-server",
    version,
    about = "plain hyper with tower-claude's layers"
)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    observe: ObserveArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.observe.log_format);
    let stack = match Stack::new(&cli.server, &[]) {
        Ok(stack) => stack,
        Err(error) => {
            startup_error(format_args!("{error}"));
            return ExitCode::from(2);
        }
    };
    let bind = cli
        .server
        .bind
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8081)));
    let listener = match listen("hyper-server", bind, stack.dev_token.as_deref()).await {
        Ok(listener) => listener,
        Err(code) => return code,
    };
    if let Err(error) = stack.check_redis(&cli.server).await {
        startup_error(format_args!("{error}"));
        return ExitCode::from(2);
    }
    tokio::select! {
        () = serve(stack, listener) => ExitCode::FAILURE,
        () = tower_claude_examples::shutdown_signal() => ExitCode::SUCCESS,
    }
}
