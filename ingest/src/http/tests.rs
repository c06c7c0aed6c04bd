//! The listener against real sockets on 127.0.0.1: the connection limit's
//! 503, the graceful stop, the body bound and TLS (certificate made by the
//! `openssl` command, checked by `curl`).

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
    let ca = cert.clone();
    let curl = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args(["-sS", "--max-time", "10", "--cacert"])
            .arg(&ca)
            .arg(format!("https://localhost:{port}/"))
            .arg("--resolve")
            .arg(format!("localhost:{port}:127.0.0.1"))
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(curl.status.success(), "{curl:?}");
    assert_eq!(curl.stdout, b"hello");
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
