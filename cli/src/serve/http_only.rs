//! `osprey serve --http HOST:PORT`: the Kinesis Data Streams API
//! ([`osprey_ingest::kinesis::KinesisApi`]) and the Kinesis Video Streams
//! API ([`osprey_video::kvs::KvsApi`], over the video store in the same
//! data directory) on the server's HTTP listener
//! ([`osprey_ingest::http::HttpServer`], tokio and hyper).
//! This module checks the arguments into an [`HttpServerConfig`], reads the
//! credentials, opens the store, and serves on a multi-thread tokio
//! runtime until the process is stopped. It binds to 127.0.0.1 unless told
//! otherwise.

use std::io::{self, Write as _};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use axum::Router;
use axum::response::Response;
use osprey_ingest::http::{HttpServer, HttpServerConfig, Timeouts, error_response};
use osprey_ingest::kinesis::{Credentials, KinesisApi};
use osprey_video::kvs::KvsApi;

use crate::args::stream::ServeArgs;
use osprey_server::store::{open_store, open_video_store};

/// Runs `osprey serve`.
pub fn run(args: &ServeArgs) -> Result<()> {
    let durability = args.durability.into();
    let seconds = |flag: &str, s: f64| {
        Duration::try_from_secs_f64(s)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                crate::exit::UsageError(format!(
                    "{flag} must be a positive number of seconds, not {s}"
                ))
            })
    };
    let idle = seconds("--idle-timeout", args.idle_timeout)?;
    let timeouts = Timeouts {
        first_byte: seconds("--first-byte-timeout", args.first_byte_timeout)?.min(idle),
        idle,
        request: seconds("--request-timeout", args.request_timeout)?,
    };
    if args.max_connections == 0 {
        return Err(crate::exit::UsageError("--max-connections must be at least 1".into()).into());
    }
    let iterator_lifetime = seconds("--iterator-lifetime", args.iterator_lifetime)?;
    let credentials = match (&args.access_key_id, &args.secret_access_key_file) {
        (Some(id), Some(path)) => {
            let secret = std::fs::read_to_string(path).map_err(|e| crate::exit::InputError {
                input: path.display().to_string(),
                reason: e.to_string().to_lowercase(),
            })?;
            Some(Credentials {
                access_key_id: id.clone(),
                secret_access_key: secret.trim().to_owned(),
            })
        }
        _ => None,
    };
    let store = Arc::new(open_store(&args.data.data_dir, durability)?);
    let video = Arc::new(open_video_store(&args.data.data_dir)?);
    let kvs = KvsApi::new(Arc::clone(&video), credentials.clone());
    let api = KinesisApi::new(Arc::clone(&store), iterator_lifetime, credentials)?;
    let server = HttpServer::bind(HttpServerConfig {
        addr: args.http.clone(),
        max_connections: args.max_connections,
        timeouts,
        tls: None,
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("osprey-http")
        .build()
        .context("cannot start the HTTP runtime")?;
    let _retention = store.spawn_retention(Duration::from_secs(60));
    let _video_retention = video.spawn_retention(Duration::from_secs(60));
    let _ = writeln!(
        io::stderr(),
        "osprey: serving the Kinesis API on http://{}",
        server.local_addr()
    );
    // Serves until the process is stopped, as it always has.
    runtime.block_on(server.serve(router(api, kvs), std::future::pending()))?;
    Ok(())
}

/// The Kinesis API and the KVS API, and a Kinesis-shaped 400 for anything
/// else.
fn router(api: KinesisApi, kvs: KvsApi) -> Router {
    api.router()
        .merge(kvs.router())
        .fallback(not_served)
        .method_not_allowed_fallback(not_served)
}

async fn not_served() -> Response {
    error_response(
        axum::http::StatusCode::BAD_REQUEST,
        "SerializationException",
        "only POST / is served",
    )
}
