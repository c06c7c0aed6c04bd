//! The handlers over a stand-in [`Control`] (the engine is another
//! module's; these need none) and a real store, through the whole router
//! as a client sees it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use osprey_ingest::kinesis::KinesisApi;
use osprey_ingest::store::{PutRecord, Store, StoreConfig, StreamOptions};
use tokio::sync::broadcast;
use tower::ServiceExt as _;

use crate::config::{CameraConfig, QueryConfig};
use crate::control::{Control, ControlError, QueryView, SourceView, StreamView};

/// What the engine would be: one source `cam1`, a store, an event feed.
struct Fixture {
    store: Arc<Store>,
    events: broadcast::Sender<Arc<str>>,
    jpeg: Mutex<Option<Vec<u8>>>,
    widths: Mutex<Vec<u32>>,
    ready: bool,
}

impl Control for Fixture {
    fn sources(&self) -> Vec<SourceView> {
        vec![SourceView {
            name: "cam1".into(),
            state: "up",
            uri: "test:ball".into(),
            kernels: vec!["scene".into()],
            codec: None,
            width: Some(320),
            height: Some(240),
            fps_in: 10.0,
            fps_analyzed: 10.0,
            frames_decoded: 5,
            frames_analyzed: 5,
            frames_dropped: 0,
            last_frame: None,
            reconnects: 0,
            backend: "cpu".into(),
            decoder: None,
            error: None,
            record: None,
        }]
    }
    fn put_camera(&self, camera: CameraConfig) -> Result<(), ControlError> {
        Err(ControlError::Invalid(format!("not here: {}", camera.name)))
    }
    fn remove_camera(&self, name: &str) -> Result<(), ControlError> {
        Err(ControlError::NotFound {
            kind: "source",
            name: name.into(),
        })
    }
    fn latest_jpeg(&self, name: &str, max_width: u32) -> Result<Option<Vec<u8>>, ControlError> {
        if name != "cam1" {
            return self.remove_camera(name).map(|()| None);
        }
        self.widths.lock().unwrap().push(max_width);
        Ok(self.jpeg.lock().unwrap().clone())
    }
    fn queries(&self) -> Vec<QueryView> {
        Vec::new()
    }
    fn put_query(&self, query: QueryConfig) -> Result<(), ControlError> {
        Err(ControlError::Invalid(format!("not here: {}", query.name)))
    }
    fn remove_query(&self, name: &str) -> Result<(), ControlError> {
        Err(ControlError::NotFound {
            kind: "query",
            name: name.into(),
        })
    }
    fn streams(&self) -> Vec<StreamView> {
        Vec::new()
    }
    fn store(&self) -> &Arc<Store> {
        &self.store
    }
    fn event_streams(&self) -> Vec<String> {
        vec!["events".into(), "missing".into()]
    }
    fn subscribe_events(&self) -> broadcast::Receiver<Arc<str>> {
        self.events.subscribe()
    }
    fn ready(&self) -> bool {
        self.ready
    }
}

/// A fixture over a new store in `dir`, with its event feed's capacity.
fn fixture(dir: &std::path::Path, feed: usize) -> Arc<Fixture> {
    let store = Store::open(dir, StoreConfig::default()).unwrap();
    Arc::new(Fixture {
        store: Arc::new(store),
        events: broadcast::channel(feed).0,
        jpeg: Mutex::new(None),
        widths: Mutex::new(Vec::new()),
        ready: false,
    })
}

/// The router over `f`, with the real Kinesis API and a metrics stand-in.
fn router(f: &Arc<Fixture>, token: Option<&str>) -> Router {
    let kinesis = KinesisApi::new(Arc::clone(&f.store), Duration::from_secs(300), None)
        .unwrap()
        .router();
    let metrics = Router::new().route("/metrics", get(|| async { "metrics" }));
    super::super::router::build(f.clone(), kinesis, metrics, token.map(Into::into))
}

/// Status, headers and body of `request`.
async fn call(router: &Router, request: Request<Body>) -> (StatusCode, header::HeaderMap, Vec<u8>) {
    let response = router.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = to_bytes(body, 1 << 20).await.unwrap();
    (parts.status, parts.headers, body.to_vec())
}

fn get_req(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

/// The `error` of a JSON refusal.
fn error_of(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    v["error"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn events_are_filtered_newest_first_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(dir.path(), 4);
    let options = StreamOptions {
        shards: 2,
        ..StreamOptions::default()
    };
    f.store.create_stream("events", options).unwrap();
    let line = |source: &str, kind: &str, frame: u32| {
        PutRecord::new(
            source,
            format!(r#"{{"kind":"event","source":"{source}","type":"{kind}","frame":{frame}}}"#),
        )
    };
    let mut records = Vec::new();
    for frame in 0..20 {
        records.push(line("cam1", "scene_cut", frame));
        records.push(line("cam2", "scene_cut", frame));
        records.push(line("cam1", "motion_start", frame));
    }
    records.push(PutRecord::new("cam1", "not json"));
    for outcome in f.store.put_records("events", &records).unwrap() {
        outcome.unwrap();
    }
    let r = router(&f, None);

    let (status, _, body) = call(
        &r,
        get_req("/api/events?source=cam1&type=scene_cut&limit=3"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let events: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
    let frames: Vec<_> = events
        .iter()
        .map(|e| e["event"]["frame"].as_u64().unwrap())
        .collect();
    assert_eq!(frames, [19, 18, 17]);
    assert!(
        events
            .iter()
            .all(|e| e["event"]["source"] == "cam1" && e["stream"] == "events")
    );

    let (_, _, body) = call(&r, get_req("/api/events?type=scene_cut,motion_start")).await;
    let events: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
    assert_eq!(events.len(), 60);

    let (_, _, body) = call(&r, get_req("/api/events?since=2999-01-01T00:00:00Z")).await;
    assert_eq!(body, b"[]");
    let (_, _, body) = call(&r, get_req("/api/events?until=1000")).await;
    assert_eq!(body, b"[]");

    for (uri, key) in [
        ("/api/events?limit=0", "limit"),
        ("/api/events?limit=1001", "limit"),
        ("/api/events?since=yesterday", "since"),
    ] {
        let (status, _, body) = call(&r, get_req(uri)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(error_of(&body).starts_with(key), "{uri}");
    }
}

#[tokio::test]
async fn latest_jpeg_answers_404_503_and_a_capped_jpeg() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(dir.path(), 4);
    let r = router(&f, None);
    let (status, _, body) = call(&r, get_req("/api/sources/nope/latest.jpg")).await;
    assert_eq!(
        (status, error_of(&body).as_str()),
        (StatusCode::NOT_FOUND, "no source named \"nope\"")
    );
    let (status, _, _) = call(&r, get_req("/api/sources/cam1/latest.jpg")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    *f.jpeg.lock().unwrap() = Some(vec![0xFF, 0xD8, 0xFF]);
    let (status, headers, body) =
        call(&r, get_req("/api/sources/cam1/latest.jpg?width=99999")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "image/jpeg");
    assert_eq!(body, [0xFF, 0xD8, 0xFF]);
    let (status, _, _) = call(&r, get_req("/api/sources/cam1/latest.jpg?width=x")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(*f.widths.lock().unwrap(), [640, 1920]);
}

#[tokio::test]
async fn control_refusals_are_json_with_their_status() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(dir.path(), 4);
    let r = router(&f, None);
    let (status, _, body) = call(&r, get_req("/api/sources")).await;
    assert_eq!(status, StatusCode::OK);
    let sources: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (&sources[0]["name"], &sources[0]["state"]),
        (&"cam1".into(), &"up".into())
    );
    let delete = Request::delete("/api/sources/cam9")
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = call(&r, delete).await;
    assert_eq!(
        (status, error_of(&body).as_str()),
        (StatusCode::NOT_FOUND, "no source named \"cam9\"")
    );
    let post = |uri: &str, body: &str| {
        Request::post(uri)
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    let (status, _, body) = call(&r, post("/api/sources", "[1]")).await;
    assert_eq!(
        (status, error_of(&body).as_str()),
        (StatusCode::BAD_REQUEST, "the body must be a JSON object")
    );
    let (status, _, _) = call(
        &r,
        post(
            "/api/queries",
            r#"{"name":"q","input":"frames","output":"x"}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let query = r#"{"name":"q","input":"frames","sql":"SELECT 1","output":"x"}"#;
    let (status, _, body) = call(&r, post("/api/queries", query)).await;
    assert_eq!(
        (status, error_of(&body).as_str()),
        (StatusCode::BAD_REQUEST, "not here: q")
    );
    let put = Request::put("/api/queries/other")
        .body(Body::from(query))
        .unwrap();
    let (status, _, body) = call(&r, put).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("not the path's"));
    let (status, _, _) = call(&r, post("/api/sources", &"x".repeat(super::MAX_BODY + 1))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _, body) = call(&r, get_req("/api/nope")).await;
    assert_eq!(
        (status, error_of(&body).as_str()),
        (StatusCode::NOT_FOUND, "no such route: /api/nope")
    );
    let (status, _, _) = call(&r, get_req("/readyz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn video_routes_refuse_in_json_without_a_video_store_or_a_range() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(dir.path(), 4);
    let r = router(&f, None);
    for (uri, status, says) in [
        (
            "/api/videos/rec/live.m3u8",
            StatusCode::NOT_FOUND,
            "no video stream named \"rec\"",
        ),
        (
            "/api/videos/rec/getMP4MediaFragment.mp4?FragmentNumber=1",
            StatusCode::NOT_FOUND,
            "no video stream named \"rec\"",
        ),
        (
            "/api/videos/rec/live.m3u8?start=1",
            StatusCode::BAD_REQUEST,
            "give both start and end, or neither",
        ),
        (
            "/api/videos/rec/clip.mp4?start=2&end=1",
            StatusCode::BAD_REQUEST,
            "end must be after start",
        ),
        (
            "/api/videos/rec/clip.mp4?start=1&end=2&x=1",
            StatusCode::BAD_REQUEST,
            "",
        ),
    ] {
        let (got, _, body) = call(&r, get_req(uri)).await;
        assert_eq!(got, status, "{uri}");
        assert!(error_of(&body).contains(says), "{uri}: {}", error_of(&body));
    }
}

#[tokio::test]
async fn the_token_guards_api_and_dashboard_only() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(dir.path(), 4);
    let r = router(&f, Some("s3cret"));
    for uri in [
        "/api/sources",
        "/",
        "/assets/dashboard.js",
        "/api/events/live",
    ] {
        let (status, headers, body) = call(&r, get_req(uri)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
        assert!(!String::from_utf8_lossy(&body).contains("s3cret"));
    }
    let with = |uri: &str, name: header::HeaderName, value: &str| {
        Request::get(uri)
            .header(name, value)
            .body(Body::empty())
            .unwrap()
    };
    let (status, _, _) = call(
        &r,
        with("/api/sources", header::AUTHORIZATION, "Bearer s3cre"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = call(
        &r,
        with("/api/sources", header::AUTHORIZATION, "Bearer s3cret"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, headers, _) = call(&r, get_req("/?token=s3cret")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/");
    let cookie = headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let (status, headers, _) = call(&r, with("/", header::COOKIE, &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    for (request, body) in [
        (get_req("/healthz"), &b"{\"ok\":true}"[..]),
        (get_req("/metrics"), b"metrics"),
        (
            Request::post("/")
                .header("X-Amz-Target", "Kinesis_20131202.ListStreams")
                .body(Body::from("{}"))
                .unwrap(),
            br#"{"HasMoreStreams":false,"StreamNames":[],"StreamSummaries":[]}"#,
        ),
    ] {
        let (status, _, got) = call(&r, request).await;
        assert_eq!((status, got.as_slice()), (StatusCode::OK, body));
    }
}

#[tokio::test]
async fn the_live_feed_filters_and_reports_lag() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(dir.path(), 2);
    let r = router(&f, None);
    let response = r
        .oneshot(get_req("/api/events/live?type=scene_cut"))
        .await
        .unwrap();
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    let mut body = response.into_body().into_data_stream();
    use futures_util::StreamExt as _;
    for frame in 0..5 {
        f.events
            .send(format!(r#"{{"source":"cam1","type":"scene_cut","frame":{frame}}}"#).into())
            .unwrap();
    }
    let mut text = String::new();
    while !text.contains("\"frame\":4") {
        let chunk = body.next().await.unwrap().unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(
        text.starts_with("event: lagged\ndata: {\"missed\":3}\n\n"),
        "{text}"
    );
    f.events
        .send(r#"{"source":"cam1","type":"motion_start"}"#.into())
        .unwrap();
    f.events
        .send(r#"{"source":"cam1","type":"scene_cut","frame":5}"#.into())
        .unwrap();
    let chunk = body.next().await.unwrap().unwrap();
    assert_eq!(
        &chunk[..],
        b"data: {\"source\":\"cam1\",\"type\":\"scene_cut\",\"frame\":5}\n\n"
    );
}
