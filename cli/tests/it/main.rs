//! Integration tests of the `osprey` binary: every test runs the real binary
//! (`CARGO_BIN_EXE_osprey`) on clips made by ffmpeg (or by `osprey
//! generate`), in a temporary folder.
//!
//! - [`anomaly`]: anomaly scores (`--anomaly`, `RANDOM_CUT_FOREST`) against
//!   PyPI's rrcf on a series with injected anomalies; threads, SQL, seeds.
//! - [`aggregate_io`]: `osprey aggregate` reading from TCP and osprey
//!   streams and writing into a stream.
//! - [`aggregate_join`]: reference tables joined (inner, left) against
//!   DuckDB's join; a reference read again when its file changes.
//! - [`aggregate_stored`]: `osprey aggregate` over a Hive tree of Parquet
//!   files against DuckDB's `read_parquet`; files skipped; threads.
//! - [`aggregate`]: `osprey aggregate` against DuckDB on the same Parquet,
//!   NDJSON and CSV files, on both backends; SQL, late and refused records.
//! - [`bench`]: `osprey bench` of each workload with `--quick`: the report's
//!   schema and figures, a missing peer, the plots, `compare`.
//! - [`cli`]: arguments, exit codes, error lines, record shape, outputs, the
//!   backends.
//! - [`cluster`]: `osprey serve --cluster`: three workers on one
//!   JetStream server share a stream, one killed and started again.
//! - [`corrupt`]: damaged input gives error records and the analysis goes on.
//! - [`crash`]: SIGKILL of `osprey put --listen` while producers write loses
//!   no acknowledged record.
//! - [`csv_paths`]: one CSV file aggregated as a file and through a stream
//!   put from it, typed alike, against DuckDB.
//! - [`dashboard`]: `osprey serve --config`'s dashboard in headless
//!   Chromium (selenium) and its `/api` with curl.
//! - [`deliver`]: `osprey deliver` into NDJSON and Parquet files, read back
//!   with DuckDB.
//! - [`kinesis`]: `osprey serve --http` driven by boto3, the real Kinesis client.
//! - [`kinesis_cbor`]: the Kinesis API's CBOR protocol (the Java SDK's) driven
//!   by cbor2, each answer against its JSON twin.
//! - [`kinesis_h2`]: the Kinesis API over HTTP/2 with prior knowledge (h2c)
//!   driven by PyPI's `h2`, SubscribeToShard read by botocore's parser.
//! - [`kinesis_manage`]: boto3's paginators, consumers, tags, enhanced
//!   monitoring and UpdateShardCount on the Kinesis API.
//! - [`kvs`]: the Kinesis Video Streams API of `osprey serve --http` driven
//!   by boto3, GStreamer's and ffmpeg's tools checking the media.
//! - [`live`]: live RTSP sources from a real RTSP server in the test
//!   process: ts, reconnection, stalls, credentials, give-up exit codes,
//!   four sources in one process, signals, the sources file, aggregation
//!   on ts.
//! - [`live_args`]: the options of live and many sources checked before
//!   any work, the sources file's errors, `--records` and `--append`.
//! - [`motion`]: motion boxes, masks and zones against a square on a known
//!   path.
//! - [`motion_events`]: `motion_start`/`motion_end` and zone events frame
//!   for frame on clips with known motion, and each motion flag's effect.
//! - [`mqtt`]: MQTT out of `analyze` and `deliver` and into `put` against a
//!   real mosquitto: topics, order, retained state, last will, broker
//!   restarts, the queue's bound.
//! - [`oracle`]: osprey's stats and scene figures against ffmpeg's
//!   signalstats and scdet on the same files, on both backends.
//! - [`oracle_blur`]: blur against ffmpeg's blurdetect on sharp and
//!   blurred clips, on both backends.
//! - [`oracle_events`]: black and freeze events against ffmpeg's blackdetect
//!   and freezedetect, on both backends.
//! - [`oracle_formats`]: 10-bit and 4:2:2 input against ffmpeg on the same
//!   files.
//! - [`oracle_stats`]: signalstats' YDIF/UDIF/VDIF and HUEMED/HUEAVG.
//! - [`oracle_thresholds`]: black, freeze and scene events at non-default
//!   thresholds, on noisy stretches either side of them, against ffmpeg.
//! - [`serve_config`]: `osprey serve --check-config`: good files ok,
//!   broken ones named by line and key.
//! - [`stream`]: `osprey stream`, `put` (stdin, files, TCP) and `read`.
//! - [`thumbnails`]: the JPEG of each event shows the frame it is written
//!   at, by its mean colour.
//! - [`video_manage`]: `osprey video create|list|describe|fragments|verify|delete`
//!   alongside a writer and after it, errors and exit codes.
//! - [`video_playback`]: `osprey video clip` and `images` over a stream
//!   appended through the library, read back by ffprobe.
//! - [`webhook`]: `osprey deliver --to http://...` against a real HTTP
//!   server on 127.0.0.1: batching, retry and backoff.
//!
//! Helpers: [`common`] (the binary, ffmpeg, shared clips), [`made_clips`]
//! (clips from an ffmpeg filter graph), [`event_log`] (events as lines with
//! the frame record each follows), [`ffmpeg_meta`] (ffmpeg's per-frame
//! metadata and log for a filter graph).
//!
//! GPU tests are never skipped: they fail when wgpu finds no adapter (install
//! Mesa's lavapipe, as `scripts/setup.sh` does), and with
//! `OSPREY_REQUIRE_GPU=1` they also fail on a software (CPU-type) adapter.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the first surprise"
)]

mod aggregate;
mod aggregate_bad;
mod aggregate_io;
mod aggregate_join;
mod aggregate_stored;
mod analyze_bad;
mod anomaly;
mod bench;
mod cli;
mod cluster;
mod common;
mod corrupt;
mod crash;
mod csv_paths;
mod dashboard;
mod deliver;
mod event_log;
mod ffmpeg_meta;
mod kinesis;
mod kinesis_cbor;
mod kinesis_h2;
mod kinesis_limits;
mod kinesis_manage;
mod kvs;
mod live;
mod live_args;
mod made_clips;
mod motion;
mod motion_events;
mod mqtt;
mod nats;
mod nats_server;
mod oracle;
mod oracle_blur;
mod oracle_events;
mod oracle_formats;
mod oracle_stats;
mod oracle_thresholds;
mod put_input;
mod serve_config;
mod serve_engine;
mod store_damage;
mod stream;
mod thumbnails;
mod video_manage;
mod video_playback;
mod video_record;
mod webhook;
