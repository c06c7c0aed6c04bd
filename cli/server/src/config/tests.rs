//! Unit tests of the server's configuration file.

use super::*;

fn parse_str(text: &str) -> Result<ServerConfig, ConfigError> {
    parse(Path::new("dir/osprey.toml"), text)
}

const SMALLEST: &str = r#"data_dir = "osprey-data"
[http]
listen = "127.0.0.1:8080"
[[cameras]]
name = "cam1"
uri = "rtsp://127.0.0.1:8554/cam"
kernels = ["motion", "scene"]
"#;

#[test]
fn the_smallest_config_reads() {
    let c = parse_str(SMALLEST).unwrap();
    assert_eq!(c.data_dir, Path::new("dir/osprey-data"));
    assert_eq!(c.http.listen, "127.0.0.1:8080");
    assert_eq!(c.cameras.len(), 1);
    let cam = &c.cameras[0];
    assert_eq!(cam.name, "cam1");
    assert_eq!(cam.source.kernels.as_deref(), Some("motion,scene"));
    assert_eq!(
        (cam.frames_stream.as_str(), cam.events_stream.as_str()),
        ("frames", "events")
    );
    let k = cam.checked.options.backend.kernels;
    assert!(k.motion && k.scene && !k.stats);
    assert!(cam.checked.live && cam.live_source().name == "cam1");
    assert_eq!(c.summary(), "1 camera, 0 streams, 0 queries, 0 deliveries");
}

fn error(text: &str) -> String {
    parse_str(text).unwrap_err().to_string()
}

#[test]
fn errors_name_the_key_and_line() {
    let e = error(&format!("{SMALLEST}colour = \"red\"\n"));
    assert!(
        e.starts_with("dir/osprey.toml:8: camera \"cam1\": unknown field `colour`"),
        "{e}"
    );
    let e = error(&format!(
        "{SMALLEST}[[cameras]]\nname = \"cam1\"\nuri = \"test:ball\"\n"
    ));
    assert!(
        e.starts_with("dir/osprey.toml:9: camera name \"cam1\" is given twice"),
        "{e}"
    );
    let e = error(&SMALLEST.replace("\"scene\"", "\"sceen\""));
    assert!(
        e.starts_with("dir/osprey.toml:7: camera \"cam1\": kernels: unknown kernel \"sceen\""),
        "{e}"
    );
    let e = error(&SMALLEST.replace("uri = \"rtsp://127.0.0.1:8554/cam\"\n", ""));
    assert!(e.contains("missing field `uri`"), "{e}");
    assert!(
        e.starts_with("dir/osprey.toml:4: ") || e.starts_with("dir/osprey.toml:5: "),
        "{e}"
    );
    let e = error(&SMALLEST.replace("rtsp://127", "rtsp://u:pw@127"));
    assert!(
        e.starts_with("dir/osprey.toml:6: camera \"cam1\": uri holds a password"),
        "{e}"
    );
    assert!(!e.contains("pw@"), "{e}");
    let e = error(&SMALLEST.replace("127.0.0.1:8080", "localhost"));
    assert!(
        e.starts_with("dir/osprey.toml:3: http: listen must be IP:PORT"),
        "{e}"
    );
    let e = error(&SMALLEST.replace("[http]\n", "[http]\ntoken = \"t\"\ntoken_env = \"T\"\n"));
    assert!(
        e.starts_with("dir/osprey.toml:4: http: give token or token_env"),
        "{e}"
    );
    let e = error(&SMALLEST.replace("[http]\n", "[http]\ntls_cert = \"c.pem\"\n"));
    assert!(
        e.starts_with("dir/osprey.toml:3: http: tls_cert needs tls_key"),
        "{e}"
    );
    let e = error(&SMALLEST.replace("kernels = [\"motion\", \"scene\"]", "fps = 0"));
    assert!(
        e.starts_with("dir/osprey.toml:7: camera \"cam1\": fps must be above 0"),
        "{e}"
    );
    let e = error(&format!("backend = \"tpu\"\n{SMALLEST}"));
    assert!(
        e.starts_with("dir/osprey.toml:1: backend must be auto, gpu or cpu"),
        "{e}"
    );
    let e = error(&format!("{SMALLEST}clip_pre = \"5s\"\n"));
    assert!(
        e.starts_with("dir/osprey.toml:8: camera \"cam1\": clip_pre needs record"),
        "{e}"
    );
    let e = error(&format!(
        "{SMALLEST}record = \"rec\"\nclip_post = \"soon\"\n"
    ));
    assert!(
        e.starts_with("dir/osprey.toml:9: camera \"cam1\": clip_post "),
        "{e}"
    );
    let c = parse_str(&format!(
        "{SMALLEST}record = \"rec\"\nclip_pre = \"5s\"\nloop = false\n"
    ))
    .unwrap();
    assert_eq!(
        c.cameras[0].clips,
        Some(crate::analyze::clips::ClipWindow {
            pre: std::time::Duration::from_secs(5),
            post: std::time::Duration::ZERO,
        })
    );
    let e = error("data_dir = 3\n");
    assert!(e.starts_with("dir/osprey.toml:1: "), "{e}");
    let e = error("[[cameras]\n");
    assert!(e.starts_with("dir/osprey.toml:1: "), "{e}");
}

const QUERY: &str = r#"
[[streams]]
name = "frames"
shards = 2

[[queries]]
name = "motion_per_minute"
input = "frames"
sql = "SELECT source, avg(motion) AS motion FROM frames GROUP BY source, TUMBLE(ts, INTERVAL '1' MINUTE)"
output = "stream:motion_minutes"

[[queries]]
name = "count"
input = "frames"
flags = "--window tumbling:1m --agg 'count(*)'"
output = "counts.ndjson"

[[deliveries]]
name = "archive"
stream = "events"
to = "archive"
compression = "gzip"

[[deliveries]]
name = "hook"
stream = "events"
to = "http://127.0.0.1:9/hook"
headers = ["Authorization: Bearer x"]
"#;

#[test]
fn queries_and_deliveries_become_the_commands_arguments() {
    let c = parse_str(QUERY).unwrap();
    assert_eq!(c.streams[0].options().shards, 2);
    let c2 = parse_str(&QUERY.replace("shards = 2", "retention = \"168h\"")).unwrap();
    assert_eq!(c2.streams[0].options().retention_hours, 168);
    let q = c.queries[1].aggregate_args(&c.data_dir).unwrap();
    assert_eq!(q.input, "stream:frames");
    assert!(q.stream.follow);
    assert_eq!(q.stream.consumer.as_deref(), Some("count"));
    assert_eq!(q.agg.as_deref(), Some("count(*)"));
    assert_eq!(q.output, Path::new("dir/counts.ndjson"));
    let q = c.queries[0].aggregate_args(&c.data_dir).unwrap();
    assert!(q.sql.is_some());
    let d = c.deliveries[0].deliver_args(&c.data_dir).unwrap();
    assert_eq!(d.to, Path::new("dir/archive"));
    assert_eq!(d.consumer, "archive");
    assert!(d.follow);
    let d = c.deliveries[1].deliver_args(&c.data_dir).unwrap();
    assert_eq!(d.headers, ["Authorization: Bearer x"]);
}

#[test]
fn bad_queries_and_deliveries_name_their_key() {
    let e = error(&QUERY.replace("SELECT source", "SELEKT source"));
    assert!(
        e.starts_with("dir/osprey.toml:9: query \"motion_per_minute\": sql: "),
        "{e}"
    );
    let e = error(&QUERY.replace("tumbling:1m", "tumbling:soon"));
    assert!(
        e.starts_with("dir/osprey.toml:15: query \"count\": flags: "),
        "{e}"
    );
    let e = error(&QUERY.replace("compression = \"gzip\"", "compression = \"lz4\""));
    assert!(
        e.starts_with("dir/osprey.toml:22: delivery \"archive\": "),
        "{e}"
    );
    let e = error(&QUERY.replace("name = \"hook\"", "name = \"archive\""));
    assert!(
        e.starts_with("dir/osprey.toml:25: delivery name \"archive\" is given twice"),
        "{e}"
    );
    let e = error(&QUERY.replace("shards = 2", "shards = 2\nretention = \"90m\""));
    assert!(
        e.starts_with("dir/osprey.toml:5: stream \"frames\": retention must be whole hours"),
        "{e}"
    );
    let e = error(&QUERY.replace("shards = 2", "shards = 0"));
    assert!(
        e.starts_with("dir/osprey.toml:4: stream \"frames\": shards must be"),
        "{e}"
    );
}

#[test]
fn cameras_come_from_json_too() {
    let cam = camera_from_json(serde_json::json!({
        "name": "cam2", "uri": "test:ball", "kernels": "stats,motion", "events_stream": "ev"
    }))
    .unwrap();
    assert_eq!(cam.events_stream, "ev");
    assert!(cam.checked.options.backend.kernels.stats);
    let e = camera_from_json(serde_json::json!({"name": "c", "uri": "test:ball", "colour": 1}))
        .unwrap_err();
    assert!(e.contains("unknown field `colour`"), "{e}");
    let e =
        camera_from_json(serde_json::json!({"name": "c", "uri": "test:ball", "kernels": ["x"]}))
            .unwrap_err();
    assert!(e.starts_with("kernels: unknown kernel"), "{e}");
    assert!(camera_from_json(serde_json::json!([1])).is_err());
}

#[test]
fn tokens_stay_out_of_debug_output() {
    let c = parse_str(&SMALLEST.replace("[http]\n", "[http]\ntoken = \"s3cret\"\n")).unwrap();
    assert!(!format!("{c:?}").contains("s3cret"));
    assert!(!serde_json::to_string(&c.http).unwrap().contains("s3cret"));
    assert_eq!(c.http.bearer_token().unwrap().as_deref(), Some("s3cret"));
    let c =
        parse_str(&SMALLEST.replace("uri =", "user = \"u\"\npassword = \"pw1\"\nuri =")).unwrap();
    assert!(!format!("{c:?}").contains("pw1"));
    let c = parse_str(QUERY).unwrap();
    assert!(!format!("{c:?}").contains("Bearer"));
}

#[test]
fn the_streams_wanted_include_the_queries_stream_outputs() {
    let text = format!(
        "{SMALLEST}[[streams]]\nname = \"telemetry\"\nshards = 3\n\
         [[queries]]\nname = \"q1\"\ninput = \"frames\"\noutput = \"stream:minutes\"\n\
         flags = [\"--window\", \"tumbling:1m\", \"--agg\", \"count(*)\"]\n\
         [[queries]]\nname = \"q2\"\ninput = \"telemetry\"\noutput = \"rows.ndjson\"\n\
         flags = [\"--window\", \"tumbling:1m\", \"--agg\", \"count(*)\"]\n"
    );
    let c = parse_str(&text).unwrap();
    let wanted = crate::engine::streams::wanted(&c);
    let names: Vec<&str> = wanted.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["telemetry", "frames", "events", "minutes"]);
    assert_eq!(wanted[0].shards, Some(3));
}
