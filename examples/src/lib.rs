//! Reference servers and tools for the tower-claude layers.
//!
//! The binaries (`reference-server`, `grpc-server`, `hyper-server`,
//! `webhook-sender`, `webhook-receiver`, `hash-password`) are thin `main`s over
//! this library, so the cross-crate tests can build the very same stacks.
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used, clippy::expect_used)]

pub mod config;
pub mod echo;
pub mod grpc;
pub mod hyper_app;
pub mod notify;
pub mod oauth;
pub mod observe;
pub mod redis;
pub mod serve;
pub mod stack;
pub mod store;
pub mod tls;
pub mod web;

pub use observe::init_tracing;

/// Binds `bind`, prints the development token if one was generated, and the
/// address it listens on (`<program> listening on http://...`, which the
/// process tests wait for). A bind failure is printed and becomes the exit code.
///
/// # Errors
/// The exit code to return when `bind` cannot be bound.
pub async fn listen(
    program: &str,
    bind: std::net::SocketAddr,
    dev_token: Option<&str>,
) -> Result<tokio::net::TcpListener, std::process::ExitCode> {
    listen_as(program, "http", bind, dev_token).await
}

/// [`listen`], announcing `scheme` (`https` for a server over TLS).
///
/// # Errors
/// The exit code to return when `bind` cannot be bound.
pub async fn listen_as(
    program: &str,
    scheme: &str,
    bind: std::net::SocketAddr,
    dev_token: Option<&str>,
) -> Result<tokio::net::TcpListener, std::process::ExitCode> {
    let listener = match tokio::net::TcpListener::bind(bind).await {
        Ok(listener) => listener,
        Err(error) => {
            observe::startup_error(format_args!("cannot listen on {bind}: {error}"));
            return Err(std::process::ExitCode::FAILURE);
        }
    };
    if let Some(token) = dev_token {
        stack::announce_dev_token(token);
    }
    match listener.local_addr() {
        Ok(addr) => {
            let url = format!("{scheme}://{addr}");
            observe::announce(
                "INFO",
                &format!("{program} listening on {url}"),
                &[("program", program), ("url", &url)],
            );
        }
        Err(error) => observe::announce(
            "WARN",
            &format!("{program} listening (address unknown: {error})"),
            &[],
        ),
    }
    Ok(listener)
}

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
