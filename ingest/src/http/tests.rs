//! The listener against real sockets on 127.0.0.1: the connection limit's
//! 503, the graceful stop, the body bound and TLS (certificate made by the
//! `openssl` command, checked by `curl`), each over HTTP/1.1 and HTTP/2
//! (`curl --http2` by ALPN, `--http2-prior-knowledge` for h2c).

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::*;

fn config(max_connections: usize) -> HttpServerConfig {
    HttpServerConfig {
        addr: "127.0.0.1:0".into(),
        max_connections,
        timeouts: Timeouts {
            first_byte: Duration::from_secs(5),
            idle: Duration::from_secs(5),
            request: Duration::from_secs(5),
        },
        tls: None,
    }
}

fn router() -> Router {
    Router::new()
        .route("/", get(|| async { "hello" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "slow"
            }),
        )
        .route(
            "/echo",
            post(|body: axum::body::Body| async move {
                let mut into = Vec::new();
                match read_body(body, &mut into).await {
                    Ok(()) => format!("{} bytes", into.len()).into_response(),
                    Err(refused) => refused,
                }
            }),
        )
}

use axum::response::IntoResponse as _;

/// Runs `curl` with `args`, printing the body, the status and the HTTP
/// version; what it printed.
async fn curl(args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "10",
                "-w",
                " %{http_code} %{http_version}",
            ])
            .args(&args)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Serves `router()` with `config`; its address and the stop switch.
fn start(
    config: HttpServerConfig,
) -> (SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let server = HttpServer::bind(config).unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        server.serve(router(), shutdown).await.unwrap();
    });
    (addr, stop, task)
}

/// Sends `request` on a new connection and reads until the server closes.
async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got)).await;
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_past_the_limit_is_answered_503_and_a_freed_slot_is_taken() {
    let (addr, stop, task) = start(config(1));
    let mut held = TcpStream::connect(addr).await.unwrap();
    held.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    while !got.ends_with(b"hello") {
        let mut buf = [0; 1024];
        let n = held.read(&mut buf).await.unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let refused = exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(refused.starts_with("HTTP/1.1 503 "), "{refused}");
    assert!(
        refused.contains("ProvisionedThroughputExceededException"),
        "{refused}"
    );
    drop(held);
    let mut served = String::new();
    for _ in 0..50 {
        served = exchange(
            addr,
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        if served.starts_with("HTTP/1.1 200 ") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served.ends_with("hello"), "{served}");
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_past_the_limit_are_refused_413() {
    let (addr, stop, task) = start(config(4));
    let announced = format!(
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        MAX_BODY + 1
    );
    let got = exchange(addr, announced.as_bytes()).await;
    assert!(got.starts_with("HTTP/1.1 413 "), "{got}");
    assert!(got.contains("connection: close"), "{got}");
    // Chunked: the bound holds without a length.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    let chunk = vec![b'a'; 1 << 20];
    let mut got = Vec::new();
    for _ in 0..9 {
        let head = format!("{:x}\r\n", chunk.len());
        if s.write_all(head.as_bytes()).await.is_err()
            || s.write_all(&chunk).await.is_err()
            || s.write_all(b"\r\n").await.is_err()
        {
            break;
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got)).await;
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 413 "), "{got}");
    // A body within it is read whole.
    let got = exchange(
        addr,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    )
    .await;
    assert!(got.ends_with("5 bytes"), "{got}");
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_lets_the_request_in_flight_finish_and_closes_the_listener() {
    let (addr, stop, task) = start(config(4));
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).await.unwrap();
    let got = String::from_utf8_lossy(&got);
    assert!(
        got.starts_with("HTTP/1.1 200 ") && got.ends_with("slow"),
        "{got}"
    );
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_is_served_with_a_pem_certificate_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let mut tls = config(4);
    tls.tls = Some(TlsFiles {
        cert: cert.clone(),
        key,
    });
    let server = HttpServer::bind(tls).unwrap();
    assert_eq!(server.scheme(), "https");
    let port = server.local_addr().port();
    let task = tokio::spawn(server.serve(router(), async {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }));
    for (version, shown) in [("--http1.1", "1.1"), ("--http2", "2")] {
        let got = curl(&[
            version,
            "--cacert",
            &cert.display().to_string(),
            &format!("https://localhost:{port}/"),
            "--resolve",
            &format!("localhost:{port}:127.0.0.1"),
        ])
        .await;
        assert_eq!(got, format!("hello 200 {shown}"));
    }
    task.abort();
    // A key that is not PEM is refused at bind with the file's name.
    let mut bad = config(1);
    bad.tls = Some(TlsFiles {
        cert: cert.clone(),
        key: cert,
    });
    let err = HttpServer::bind(bad).unwrap_err().to_string();
    assert!(err.contains("cert.pem"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_with_prior_knowledge_and_http1_share_the_port_and_bodies_stay_bounded() {
    let (addr, stop, task) = start(config(4));
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big");
    std::fs::write(&big, vec![b'a'; MAX_BODY + 1]).unwrap();
    let big = format!("@{}", big.display());
    let (root, echo) = (format!("http://{addr}/"), format!("http://{addr}/echo"));
    let h2c = "--http2-prior-knowledge";
    assert_eq!(curl(&[h2c, &root]).await, "hello 200 2");
    assert_eq!(curl(&["--http1.1", &root]).await, "hello 200 1.1");
    assert_eq!(
        curl(&[h2c, "--data-binary", "hello", &echo]).await,
        "5 bytes 200 2"
    );
    // Past the bound, announced (413 before the body is read) or not (the
    // body fails as it grows): the stream is answered 413 and reset while
    // curl still sends, which curl shows as a reset (exit 92).
    for announced in [true, false] {
        let length = if announced {
            "X-Announced: 1"
        } else {
            "Content-Length:"
        };
        let out = std::process::Command::new("curl")
            .args(["-sS", "--max-time", "10", h2c, "-H", length])
            .args(["--data-binary", &big, &echo])
            .output()
            .unwrap();
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("bytes"),
            "{out:?}"
        );
    }
    stop.send(()).unwrap();
    task.await.unwrap();
}

/// An HTTP/2 peer that opens 150 streams at once (before it reads the
/// server's SETTINGS) with a window of 0, so that it never takes an answer.
const GREEDY: &str = r#"
import socket, sys, time, h2.config, h2.connection, h2.events, h2.settings
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
c.local_settings = h2.settings.Settings(client=True, initial_values={
    h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
c.initiate_connection()
for _ in range(150):
    c.send_headers(c.get_next_available_stream_id(), [(":method", "GET"), (":scheme", "http"),
                   (":authority", "x"), (":path", "/slow")], end_stream=True)
s.sendall(c.data_to_send())
heads = refused = 0
start = time.time()
while True:
    try:
        data = s.recv(65536)
    except ConnectionResetError:
        data = b""
    if not data:
        break
    for e in c.receive_data(data):
        if isinstance(e, h2.events.ResponseReceived):
            heads += 1
        elif isinstance(e, h2.events.StreamReset) and e.error_code == 7:
            refused += 1
    s.sendall(c.data_to_send())
took = time.time() - start
print(heads, refused, round(took))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_peer_with_too_many_streams_that_never_reads_is_bounded() {
    let mut quick = config(1);
    quick.timeouts = Timeouts {
        first_byte: Duration::from_secs(1),
        idle: Duration::from_secs(1),
        request: Duration::from_secs(2),
    };
    let (addr, stop, task) = start(quick);
    let port = addr.port().to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args(["-c", GREEDY, &port])
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    let got = String::from_utf8_lossy(&out.stdout);
    let got: Vec<u64> = got.split_whitespace().map(|n| n.parse().unwrap()).collect();
    // At most MAX_STREAMS served (their heads sent, their bodies stuck), the
    // rest refused; then the connection closed at the idle timeout.
    let (heads, refused, took) = (got[0], got[1], got[2]);
    assert_eq!(refused, 150 - u64::from(MAX_STREAMS), "{got:?}");
    assert!(heads <= u64::from(MAX_STREAMS), "{got:?}");
    assert!(took <= 4, "{got:?}");
    // Its slot is free again.
    assert_eq!(
        curl(&["--http2-prior-knowledge", &format!("http://{addr}/")]).await,
        "hello 200 2"
    );
    stop.send(()).unwrap();
    task.await.unwrap();
}
