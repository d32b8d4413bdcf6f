//! Starting the programs as processes on free ports, shared by the process tests.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running program; killed when dropped.
pub struct Running {
    pub child: Child,
    pub addr: std::net::SocketAddr,
    pub token: Option<String>,
    pub stdout: Option<mpsc::Receiver<String>>,
    /// Lines of stderr after the listening line.
    pub stderr: Option<mpsc::Receiver<String>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `program` with `args` and waits for its "listening on" line.
pub fn start(program: &str, args: &[&str]) -> Running {
    start_logging(program, args, "warn")
}

/// [`start`] with `RUST_LOG` set to `log`.
pub fn start_logging(program: &str, args: &[&str], log: &str) -> Running {
    start_configured(program, args, log, &[])
}

/// [`start`] with environment variables set.
pub fn start_with_env(program: &str, args: &[&str], env: &[(&str, &str)]) -> Running {
    start_configured(program, args, "warn", env)
}

fn start_configured(program: &str, args: &[&str], log: &str, env: &[(&str, &str)]) -> Running {
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .env_remove("TOWER_CLAUDE_PASSWORD")
        .env_remove("TOWER_CLAUDE_PASSWORD_HASH")
        .env("RUST_LOG", log)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let (Some(stderr), Some(stdout)) = (child.stderr.take(), child.stdout.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{program}: no pipes");
    };
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let (out_lines, out_received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = out_lines.send(line);
        }
    });
    // Owned by the guard from here on, so a panic below still kills it.
    let mut running = Running {
        child,
        addr: std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
        token: None,
        stdout: Some(out_received),
        stderr: None,
    };
    loop {
        let line = received
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("{program} did not say where it listens"));
        if let Some(t) = line.strip_prefix("Development token: ") {
            running.token = Some(t.to_owned());
        }
        if let Some(url) = line.split("listening on http://").nth(1) {
            running.addr = url.trim().parse().unwrap();
            // Kept, so the reader keeps draining the pipe and the program never
            // blocks on a full stderr.
            running.stderr = Some(received);
            return running;
        }
    }
}

pub fn reference_server(args: &[&str]) -> Running {
    let mut all = vec!["--bind", "127.0.0.1:0"];
    all.extend_from_slice(args);
    start(env!("CARGO_BIN_EXE_reference-server"), &all)
}
