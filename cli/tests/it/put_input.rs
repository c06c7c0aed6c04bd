//! Bad input to `osprey put` (files, stdin, the TCP listener) and to the
//! binary's arguments, through the real binary: text that is not UTF-8 is
//! refused per record and never comes out as invalid JSON, CSV values keep
//! their digits, an unterminated CSV quote is reported with its line, and a
//! file name that is not UTF-8 gets one `osprey:` line.

use std::ffi::{OsStr, OsString};
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

use serde_json::Value;

use crate::common::{PATIENCE, Run, osprey, output, to_run};

/// Runs osprey with `args` in `dir` against the store in `dir/data`,
/// feeding `stdin` (any bytes); stdout is kept as bytes in `raw`.
fn os(dir: &Path, args: &[&OsStr], stdin: &[u8]) -> (Run, Vec<u8>) {
    let out = output(
        osprey()
            .args(args)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .current_dir(dir),
        stdin,
    );
    let raw = out.stdout.clone();
    (to_run(out), raw)
}

/// [`os`] with text arguments.
fn run(dir: &Path, args: &[&str], stdin: &[u8]) -> Run {
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    os(dir, &args, stdin).0
}

/// Every record of stream `s`, after checking that `read` wrote UTF-8 and
/// one valid JSON object a line.
fn read_all(dir: &Path) -> Vec<Value> {
    let (r, raw) = os(dir, &[OsStr::new("read"), OsStr::new("s")], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::str::from_utf8(&raw)
        .unwrap_or_else(|e| panic!("read wrote bytes that are not UTF-8 ({e}): {raw:?}"));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("invalid JSON {l:?}: {e}")))
        .collect()
}

fn stream(dir: &Path) {
    run(dir, &["stream", "create", "s"], b"").success();
}

#[test]
fn put_refuses_lines_that_are_not_utf8() {
    let dir = tempfile::tempdir().unwrap();
    stream(dir.path());
    let input = b"{\"n\":1}\n{\"n\":2,\"s\":\"caf\xe9\"}\n{\"n\":3}\n\xff\xfe{}\n";
    let r = run(dir.path(), &["put", "s", "--partition-key", "k"], input);
    assert_eq!(r.code, 5, "{}", r.stderr);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "osprey: stdin:2: invalid UTF-8 at byte 16 of line 2",
            "osprey: stdin:4: invalid UTF-8 at byte 1 of line 4",
            "osprey: put 2 records into \"s\", 2 refused",
            "osprey: 2 of 4 records were refused (see the lines above); the others were stored",
        ],
        "{}",
        r.stderr
    );
    let csv = dir.path().join("latin1.csv");
    std::fs::write(&csv, b"dev,city\nd1,Paris\nd2,M\xfcnchen\n").unwrap();
    let r = run(dir.path(), &["put", "s", csv.to_str().unwrap()], b"");
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "latin1.csv:3: invalid UTF-8 in column \"city\" at byte 2 of its value (line 3)"
        ),
        "{}",
        r.stderr
    );
    let all = read_all(dir.path());
    let ns: Vec<&Value> = all.iter().map(|r| &r["data"]["n"]).collect();
    assert_eq!(ns, [&Value::from(1), &Value::from(3), &Value::Null]);
    assert_eq!(all[2]["data"]["city"], "Paris");
}

#[test]
fn tcp_listener_answers_lines_that_are_not_utf8_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    stream(dir.path());
    let (_server, port) = crate::stream::listen(dir.path(), "s", &[]);
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(PATIENCE)).unwrap();
    sock.write_all(b"{\"n\":1}\n{\"s\":\"\xc3\x28\"}\n{\"n\":3}\n")
        .unwrap();
    sock.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answers = String::new();
    sock.read_to_string(&mut answers).unwrap();
    let answers = crate::common::parse_ndjson(&answers);
    assert_eq!(answers.len(), 3, "{answers:?}");
    assert!(answers[0]["seq"].is_u64(), "{answers:?}");
    assert_eq!(answers[1]["line"], 2);
    assert_eq!(answers[1]["error"], "invalid UTF-8 at byte 7 of line 2");
    assert_eq!(answers[1]["retryable"], false);
    assert!(answers[2]["seq"].is_u64(), "{answers:?}");
    assert_eq!(read_all(dir.path()).len(), 2);
}

/// A record put through the Kinesis API as binary data that looks like
/// JSON (a string holding the byte 0xff) comes out of `read` as
/// `data_base64`, so the line stays valid JSON.
#[test]
fn read_writes_binary_data_as_base64_even_when_it_looks_like_json() {
    let dir = tempfile::tempdir().unwrap();
    stream(dir.path());
    let (server, url) = crate::kinesis::serve(dir.path(), &[]);
    let url = url.trim_start_matches("http://");
    // {"a":"<0xff>"} in base64.
    let body = r#"{"StreamName":"s","PartitionKey":"k","Data":"eyJhIjoi/yJ9"}"#;
    let mut sock = TcpStream::connect(url).unwrap();
    sock.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        sock,
        "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Kinesis_20131202.PutRecord\r\n\
         Content-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    sock.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let all = read_all(dir.path());
    drop(server);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["data_base64"], "eyJhIjoi/yJ9", "{all:?}");
    assert!(all[0].get("data").is_none(), "{all:?}");
}

#[test]
fn csv_values_keep_their_digits() {
    let dir = tempfile::tempdir().unwrap();
    stream(dir.path());
    let csv = dir.path().join("n.csv");
    std::fs::write(
        &csv,
        "zip,count,big,max,neg,pi,t,zero,exp\n\
         007,42,12345678901234567890123,18446744073709551615,-01,3.14159265358979323846264,21.50,0,1e3\n",
    )
    .unwrap();
    run(dir.path(), &["put", "s", csv.to_str().unwrap()], b"").success();
    let all = read_all(dir.path());
    let d = &all[0]["data"];
    assert_eq!(d["zip"], "007", "{d}");
    assert_eq!(d["count"], 42, "{d}");
    assert_eq!(d["big"], "12345678901234567890123", "{d}");
    assert_eq!(d["max"], u64::MAX.to_string(), "past i64: {d}");
    assert_eq!(d["neg"], "-01", "{d}");
    assert_eq!(d["pi"], "3.14159265358979323846264", "{d}");
    assert_eq!(d["t"], 21.5, "{d}");
    assert_eq!(d["zero"], 0, "{d}");
    assert_eq!(d["exp"], 1000.0, "{d}");
}

#[test]
fn csv_unterminated_quote_is_reported_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    stream(dir.path());
    let csv = dir.path().join("q.csv");
    std::fs::write(
        &csv,
        "dev,note\nd1,\"fine, quoted\"\nd2,\"open\nd3,swallowed\nd4,too\n",
    )
    .unwrap();
    let r = run(dir.path(), &["put", "s", csv.to_str().unwrap()], b"");
    assert_eq!(r.code, 5, "{}", r.stderr);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "osprey: q.csv:3: unterminated quote: the quoted value that opens at line 3 \
             runs to the end of the input"
                .replace("q.csv", csv.to_str().unwrap())
                .as_str(),
            "osprey: put 1 records into \"s\", 1 refused",
            "osprey: 1 of 2 records were refused (see the lines above); the others were stored",
        ],
        "{}",
        r.stderr
    );
    let all = read_all(dir.path());
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["data"]["note"], "fine, quoted");
    // A quote left open in the header: the input is unusable.
    std::fs::write(&csv, "dev,\"note\nd1,x\n").unwrap();
    let line = run(dir.path(), &["put", "s", csv.to_str().unwrap()], b"").fails_with(3);
    assert!(
        line.ends_with("the CSV header has a quote opened at line 1 and never closed"),
        "{line}"
    );
    // A quote in the middle of an unquoted value is a character, and a
    // quoted value may span lines: neither is an unterminated quote.
    std::fs::write(&csv, "dev,note\nd5,a 5\" screen\nd6,\"two\nlines\"\n").unwrap();
    run(dir.path(), &["put", "s", csv.to_str().unwrap()], b"").success();
    let all = read_all(dir.path());
    assert_eq!(all[1]["data"]["note"], "a 5\" screen");
    assert_eq!(all[2]["data"]["note"], "two\nlines");
}

/// A quote never closed in a large input stops the put with an error
/// once the value passes the bound, instead of reading the rest of the
/// input into memory.
#[test]
fn csv_open_quote_in_a_large_input_stops_at_a_bound() {
    let dir = tempfile::tempdir().unwrap();
    stream(dir.path());
    let mut input = b"dev,note\nd1,ok\nd2,\"open\n".to_vec();
    input.extend(std::iter::repeat_n(b"d3,x\n".as_slice(), 1 << 20).flatten());
    let r = run(
        dir.path(),
        &["put", "s", "--format", "csv", "--partition-key", "k"],
        &input,
    );
    let line = r.fails_with(3);
    assert!(
        line.contains("the quoted value that opens at line 3 is still open after 4 MiB"),
        "{line}"
    );
}

/// An argument that is not UTF-8, a file name as the shell passes it,
/// gets exactly one `osprey:` line and a non-zero exit from every command
/// that takes a path.
#[test]
fn file_names_that_are_not_utf8_get_one_line() {
    let dir = tempfile::tempdir().unwrap();
    stream(dir.path());
    let bad = OsString::from(OsStr::from_bytes(b"\xff.ndjson"));
    let bad_mp4 = OsString::from(OsStr::from_bytes(b"\xffcam.mp4"));
    let cases: [(&[&OsStr], i32); 4] = [
        (&[OsStr::new("put"), OsStr::new("s"), &bad], 3),
        (&[OsStr::new("analyze"), &bad_mp4], 2),
        (
            &[
                OsStr::new("aggregate"),
                &bad,
                OsStr::new("--agg"),
                OsStr::new("count"),
            ],
            2,
        ),
        (
            &[
                OsStr::new("read"),
                OsStr::new("s"),
                OsStr::new("--from"),
                &bad,
            ],
            2,
        ),
    ];
    for (args, code) in cases {
        let (r, _) = os(dir.path(), args, b"");
        let line = r.fails_with(code);
        // A path is opened as it is (the file may exist) and named with
        // U+FFFD for the byte; another argument is refused and named.
        let named = if code == 3 {
            "\u{fffd}.ndjson"
        } else {
            "\\xFF"
        };
        assert!(line.contains(named), "{args:?}: {line}");
    }
}
