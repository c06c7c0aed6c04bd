//! Against a real `nats-server -js` on a free port of 127.0.0.1, with
//! nats-py as the independent client on the other side.

use std::io::{BufRead as _, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::*;
use crate::broker::{BrokerInput, OutputOptions};
use crate::sink::LineBatches;

/// A `nats-server -js` of its own, killed when dropped.
pub(crate) struct NatsServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

/// The `nats-server` binary: on PATH, or Debian's in /usr/sbin.
fn nats_server_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file());
    let path = on_path.unwrap_or_else(|| PathBuf::from("/usr/sbin/nats-server"));
    assert!(
        path.is_file(),
        "nats-server is not installed (scripts/setup.sh)"
    );
    path
}

impl NatsServer {
    /// Starts one on a free port, JetStream stored in a temp dir.
    pub(crate) fn start() -> NatsServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = NatsServer {
            child: None,
            port,
            dir: tempfile::tempdir().unwrap(),
        };
        server.restart();
        server
    }

    /// Starts it again (after [`NatsServer::stop`]) on the same port and
    /// store.
    pub(crate) fn restart(&mut self) {
        let child = Command::new(nats_server_binary())
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills it.
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `SCHEME://127.0.0.1:PORT/REST`.
    pub(crate) fn url(&self, scheme: &str, rest: &str) -> String {
        format!("{scheme}://127.0.0.1:{}/{rest}", self.port)
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// nats-py helpers: `dump PORT SUBJECT` prints every stored message of the
/// stream capturing SUBJECT as `PAYLOAD\tMSG-ID`; `sub PORT SUBJECT N`
/// prints `ready`, then the payloads of N messages; `pub PORT SUBJECT
/// PAYLOAD...` publishes.
const PY: &str = r#"
import asyncio, sys, nats
async def main(cmd, port, subject, *rest):
    nc = await nats.connect(f"nats://127.0.0.1:{port}")
    if cmd == "dump":
        js = nc.jetstream()
        name = await js.find_stream_name_by_subject(subject)
        info = await js.stream_info(name)
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            m = await js.get_msg(name, seq)
            print(m.data.decode() + "\t" + (m.headers or {}).get("Nats-Msg-Id", ""))
    elif cmd == "sub":
        sub = await nc.subscribe(subject)
        await nc.flush()
        print("ready", flush=True)
        for _ in range(int(rest[0])):
            m = await sub.next_msg(timeout=10)
            print(m.data.decode(), flush=True)
    elif cmd == "pub":
        for p in rest:
            await nc.publish(subject, p.encode())
        await nc.flush()
    await nc.close()
asyncio.run(main(*sys.argv[1:]))
"#;

fn py(args: &[&str]) -> Command {
    let mut command = Command::new("python3");
    command.arg("-c").arg(PY).args(args);
    command
}

/// The stream's messages as (payload, Nats-Msg-Id).
fn dump(server: &NatsServer, subject: &str) -> Vec<(String, String)> {
    let out = py(&["dump", &server.port.to_string(), subject])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (payload, id) = l.split_once('\t').unwrap();
            (payload.to_owned(), id.to_owned())
        })
        .collect()
}

/// Lines `{"n":I}` for I in `range`, as one batch.
fn batch(range: std::ops::Range<usize>) -> Vec<u8> {
    range
        .map(|i| format!("{{\"n\":{i}}}\n"))
        .collect::<String>()
        .into_bytes()
}

fn payloads(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{{\"n\":{i}}}")).collect()
}

/// A subscriber started and ready: its stdout, one payload a line.
fn subscriber(server: &NatsServer, subject: &str, n: usize) -> (Child, BufReader<ChildStdout>) {
    let mut child = py(&["sub", &server.port.to_string(), subject, &n.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut ready = String::new();
    out.read_line(&mut ready).unwrap();
    assert_eq!(ready, "ready\n");
    (child, out)
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn core_nats_out_and_in() {
    let server = NatsServer::start();
    // Out: every line, in order, to an independent subscriber.
    let (mut child, out) = subscriber(&server, "osprey.core", 1000);
    let mut lines = NatsLines::connect(
        &server.url("nats", "osprey.core"),
        false,
        &OutputOptions::default(),
    )
    .unwrap();
    assert_eq!(lines.send(&batch(0..600)).unwrap(), 600);
    assert_eq!(lines.send(&batch(600..1000)).unwrap(), 400);
    assert!(lines.drain(Duration::from_secs(10)));
    let got: Vec<String> = out.lines().map(Result::unwrap).collect();
    assert!(child.wait().unwrap().success());
    assert_eq!(got, payloads(0..1000));
    assert_eq!(lines.stats().published, 1000);

    // In: a wildcard subscription, the subject with each message.
    let mut input = NatsInput::subscribe(&server.url("nats", "osprey.in.*"), false, "d").unwrap();
    // Subscribed once a first call has been answered.
    assert!(
        input
            .next(10, Duration::from_millis(200))
            .unwrap()
            .is_empty()
    );
    let status = py(&["pub", &server.port.to_string(), "osprey.in.a", "1", "2"])
        .status()
        .unwrap();
    assert!(status.success());
    let status = py(&["pub", &server.port.to_string(), "osprey.in.b", "3"])
        .status()
        .unwrap();
    assert!(status.success());
    let mut got = Vec::new();
    wait_for("three messages in", || {
        got.extend(input.next(10, Duration::from_millis(500)).unwrap());
        got.len() >= 3
    });
    let got: Vec<(&str, &[u8])> = got
        .iter()
        .map(|m| (m.topic.as_str(), &m.payload[..]))
        .collect();
    assert_eq!(
        got,
        [
            ("osprey.in.a", &b"1"[..]),
            ("osprey.in.a", b"2"),
            ("osprey.in.b", b"3")
        ]
    );
    input.ack().unwrap();
}

#[test]
fn jetstream_out_restart_dedup_and_durable_in() {
    let mut server = NatsServer::start();
    let options = OutputOptions::default();
    let mut a = NatsLines::connect(&server.url("jetstream", "osprey.a"), true, &options).unwrap();
    a.send(&batch(0..200)).unwrap();
    assert!(a.drain(Duration::from_secs(10)));

    // The server goes away: `a` queues, `b` keeps its newest 10 and counts
    // the rest; both deliver once it is back.
    server.stop();
    a.send(&batch(200..500)).unwrap();
    let mut b = NatsLines::connect(
        &server.url("jetstream", "osprey.b?queue=10&window=5"),
        true,
        &options,
    )
    .unwrap();
    let started = Instant::now();
    b.send(&batch(0..100)).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "send waits while the server is away"
    );
    let stats = b.stats();
    assert!(stats.dropped >= 85, "{stats:?}");
    assert_eq!(stats.dropped + stats.queued, 100, "{stats:?}");
    server.restart();
    assert!(a.drain(Duration::from_secs(20)), "{:?}", a.stats());
    assert!(b.drain(Duration::from_secs(20)), "{:?}", b.stats());
    let a_stored = dump(&server, "osprey.a");
    let got: Vec<String> = a_stored.iter().map(|(p, _)| p.clone()).collect();
    // Every record once, in order across the outage: a publish the client
    // kept and sent on reconnect after lost ones is refused by its
    // expected last message id, and goes again in order.
    assert_eq!(got, payloads(0..500), "every record once, in order");
    for (payload, id) in &a_stored {
        assert_eq!(*id, msg_id(payload.as_bytes()));
    }
    let kept = usize::try_from(stats.queued).unwrap();
    let got: Vec<String> = dump(&server, "osprey.b")
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(got, payloads(100 - kept..100), "the newest, in order");

    // The same records again: JetStream keeps them once.
    let mut again =
        NatsLines::connect(&server.url("jetstream", "osprey.a"), true, &options).unwrap();
    again.send(&batch(0..200)).unwrap();
    assert!(again.drain(Duration::from_secs(10)));
    let stats = again.stats();
    assert_eq!((stats.published, stats.duplicates), (200, 200), "{stats:?}");
    assert_eq!(dump(&server, "osprey.a").len(), 500);
    drop((a, b, again));

    // A durable consumer goes on after what it acked.
    let url = server.url("jetstream", "osprey.a");
    let mut input = NatsInput::subscribe(&url, true, "reader").unwrap();
    let mut seen = Vec::new();
    wait_for("100 messages", || {
        seen.extend(
            input
                .next(100 - seen.len(), Duration::from_millis(500))
                .unwrap(),
        );
        seen.len() >= 100
    });
    input.ack().unwrap();
    let unacked = input.next(50, Duration::from_secs(2)).unwrap();
    assert!(!unacked.is_empty());
    drop(input);
    let mut input = NatsInput::subscribe(&url, true, "reader").unwrap();
    wait_for("the other 400", || {
        seen.extend(input.next(500, Duration::from_millis(500)).unwrap());
        seen.len() >= 500
    });
    input.ack().unwrap();
    assert!(
        input
            .next(10, Duration::from_millis(300))
            .unwrap()
            .is_empty(),
        "all acked"
    );
    let got: Vec<String> = seen
        .iter()
        .map(|m| String::from_utf8(m.payload.clone()).unwrap())
        .collect();
    assert_eq!(got, payloads(0..500), "none twice, none missed");
    assert!(seen.iter().all(|m| m.topic == "osprey.a"));
}

#[test]
fn a_missing_stream_without_create_is_said_and_waited_for() {
    let server = NatsServer::start();
    let url = server.url("jetstream", "osprey.none?create=0&queue=5&window=2");
    let mut lines = NatsLines::connect(&url, true, &OutputOptions::default()).unwrap();
    lines.send(&batch(0..20)).unwrap();
    assert!(!lines.drain(Duration::from_millis(300)));
    let stats = lines.stats();
    assert_eq!(stats.published, 0);
    assert_eq!(stats.dropped + stats.queued, 20, "{stats:?}");
    assert_eq!(lines.close(Duration::ZERO).published, 0);
}
