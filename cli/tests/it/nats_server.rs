//! A nats-server with JetStream for the tests that need one (the NATS
//! connector, the cluster mode): its own port and store folder.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::Proc;

/// A nats-server with JetStream on a free port of 127.0.0.1, killed when
/// dropped.
pub struct NatsServer {
    /// Killed when dropped.
    _proc: Proc,
    pub url: String,
}

impl NatsServer {
    pub fn start(dir: &Path) -> NatsServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let bin = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("nats-server");
        let store = dir.join("js");
        let mut cmd = Command::new(bin);
        cmd.args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(&store)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let proc = Proc::spawn(&mut cmd);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        NatsServer {
            _proc: proc,
            url: format!("nats://127.0.0.1:{port}"),
        }
    }
}
