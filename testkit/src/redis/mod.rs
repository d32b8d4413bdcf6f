//! A real `redis-server` for tests: started on a free loopback port in a
//! temporary directory, with persistence off, and stopped on drop.
//!
//! Where `redis-server` is missing the tests fail with the install command:
//! they never pass by skipping.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod cluster;

pub use cluster::{ClusterNode, RedisCluster, key_slot};

const INSTALL: &str = "redis-server is not installed: run `bash scripts/test.sh`, which installs it \
    (or `apt-get install -y redis-server`)";

/// One `redis-server` process.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
    extra: Vec<String>,
    /// Frozen by [`pause`](RedisServer::pause): `redis-cli` would wait on
    /// it for ever, so it is not asked.
    paused: bool,
}

/// A free loopback port (bound, then released for the server to take).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn temp_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir =
        std::env::temp_dir().join(format!("tower-claude-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers `PING`.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server with extra `redis-server` arguments.
    pub fn start_with(extra: &[&str]) -> Self {
        let port = free_port();
        let mut server = Self {
            port,
            dir: temp_dir(&format!("redis-{port}")),
            child: None,
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            paused: false,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let port = self.port.to_string();
        let mut command = Command::new("redis-server");
        command
            .args([
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--dir", &self.dir.to_string_lossy()])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = match command.spawn() {
            Ok(child) => child,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => panic!("{INSTALL}"),
            Err(error) => panic!("cannot start redis-server: {error}"),
        };
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.cli(&["PING"]).stdout.starts_with(b"PONG") {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "redis-server on port {} did not answer PING within 10 s",
            self.port
        );
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Runs `redis-cli` against this server.
    pub fn cli(&self, args: &[&str]) -> Output {
        if self.paused || self.child.is_none() {
            return Output {
                status: std::os::unix::process::ExitStatusExt::from_raw(1 << 8),
                stdout: Vec::new(),
                stderr: b"the server is paused or stopped".to_vec(),
            };
        }
        let port = self.port.to_string();
        match Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port])
            .args(args)
            .output()
        {
            Ok(output) => output,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => panic!("{INSTALL}"),
            Err(error) => panic!("cannot run redis-cli: {error}"),
        }
    }

    /// `redis-cli` output as trimmed text.
    pub fn cli_text(&self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.cli(args).stdout)
            .trim()
            .to_owned()
    }

    /// Stops the server (the port stays reserved for [`restart`](Self::restart)).
    pub fn stop(&mut self) {
        self.paused = false;
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the process (`SIGSTOP`): a network stall, as its peers see
    /// it. Until [`resume`](Self::resume), `cli` answers empty at once.
    pub fn pause(&mut self) {
        self.signal("-STOP");
        self.paused = true;
    }

    /// Lets a [`pause`](Self::pause)d process run again (`SIGCONT`).
    pub fn resume(&mut self) {
        self.signal("-CONT");
        self.paused = false;
    }

    fn signal(&self, signal: &str) {
        let Some(child) = &self.child else {
            return;
        };
        let sent = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .map(|status| status.success());
        assert!(
            matches!(sent, Ok(true)),
            "kill {signal} {} failed",
            child.id()
        );
    }

    /// Starts the server again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Calls of one command since start or `CONFIG RESETSTAT`, from `INFO commandstats`.
    pub fn command_calls(&self, command: &str) -> u64 {
        let info = self.cli_text(&["INFO", "commandstats"]);
        let prefix = format!("cmdstat_{}:calls=", command.to_ascii_lowercase());
        info.lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
