//! The Kinesis calls the harness's streams workload and the `kinesis_load`
//! generator make (JSON 1.1 over HTTP/1.1, one kept-alive connection a
//! client), unsigned: `osprey serve` accepts them when it has no credentials.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

/// The most bytes of an answer read (a GetRecords answer is at most 10 MiB
/// of data, base64 encoded, plus its framing).
const MAX_ANSWER: u64 = 32 << 20;

/// One connection to the server.
pub struct Client {
    agent: ureq::Agent,
    url: String,
}

/// A call that did not get a 200 answer.
#[derive(Debug)]
pub struct CallError(pub String);

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A GetRecords answer, the fields the reader needs.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GotRecords {
    /// The records, oldest first.
    pub records: Vec<GotRecord>,
    /// Where to read next; `None` for a closed, drained shard.
    pub next_shard_iterator: Option<String>,
}

/// One record of a GetRecords answer.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GotRecord {
    /// Its data, base64.
    pub data: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutAnswer {
    records: Vec<PutOutcome>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutOutcome {
    sequence_number: Option<String>,
}

impl Client {
    /// A client of the server at `url` (e.g. `http://127.0.0.1:4567`).
    pub fn new(url: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Client {
            agent,
            url: url.to_owned(),
        }
    }

    /// Calls `op` with the JSON `body`, and returns the answer's bytes.
    pub fn call(&self, op: &str, body: &[u8]) -> Result<Vec<u8>, CallError> {
        let mut response = self
            .agent
            .post(&self.url)
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", format!("Kinesis_20131202.{op}"))
            .send(body)
            .map_err(|e| CallError(format!("{op}: {e}")))?;
        let status = response.status();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_vec()
            .map_err(|e| CallError(format!("{op}: reading the answer: {e}")))?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
            return Err(CallError(format!("{op}: HTTP {status}: {text}")));
        }
        Ok(bytes)
    }

    fn call_json(&self, op: &str, body: &Value) -> Result<Value, CallError> {
        let bytes = self.call(op, body.to_string().as_bytes())?;
        serde_json::from_slice(&bytes).map_err(|e| CallError(format!("{op}: bad answer: {e}")))
    }

    /// Creates `stream` with `shards` shards unless it exists.
    pub fn ensure_stream(&self, stream: &str, shards: u32) -> Result<(), CallError> {
        let req = json!({ "StreamName": stream, "ShardCount": shards });
        match self.call_json("CreateStream", &req) {
            Ok(_) => Ok(()),
            Err(e) if e.0.contains("ResourceInUseException") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The ids of the stream's open shards.
    pub fn shards(&self, stream: &str) -> Result<Vec<String>, CallError> {
        let answer = self.call_json("ListShards", &json!({ "StreamName": stream }))?;
        let shards = answer["Shards"]
            .as_array()
            .ok_or_else(|| CallError("ListShards: no Shards".into()))?;
        Ok(shards
            .iter()
            .filter(|s| {
                s["SequenceNumberRange"]
                    .get("EndingSequenceNumber")
                    .is_none()
            })
            .filter_map(|s| s["ShardId"].as_str().map(str::to_owned))
            .collect())
    }

    /// An iterator at the end of `shard` (records put from now on).
    pub fn latest(&self, stream: &str, shard: &str) -> Result<String, CallError> {
        self.iterator(stream, shard, "LATEST")
    }

    /// An iterator at the start of `shard` (every record it holds).
    pub fn trim_horizon(&self, stream: &str, shard: &str) -> Result<String, CallError> {
        self.iterator(stream, shard, "TRIM_HORIZON")
    }

    fn iterator(&self, stream: &str, shard: &str, kind: &str) -> Result<String, CallError> {
        let req = json!({ "StreamName": stream, "ShardId": shard, "ShardIteratorType": kind });
        let answer = self.call_json("GetShardIterator", &req)?;
        answer["ShardIterator"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| CallError("GetShardIterator: no ShardIterator".into()))
    }

    /// One GetRecords call.
    pub fn get_records(&self, iterator: &str, limit: u32) -> Result<GotRecords, CallError> {
        let req = json!({ "ShardIterator": iterator, "Limit": limit });
        let bytes = self.call("GetRecords", req.to_string().as_bytes())?;
        serde_json::from_slice(&bytes)
            .map_err(|e| CallError(format!("GetRecords: bad answer: {e}")))
    }

    /// One PutRecords call of the request `body`: for each record, whether
    /// it was acknowledged (has a sequence number).
    pub fn put_records(&self, body: &[u8]) -> Result<Vec<bool>, CallError> {
        let bytes = self.call("PutRecords", body)?;
        let answer: PutAnswer = serde_json::from_slice(&bytes)
            .map_err(|e| CallError(format!("PutRecords: bad answer: {e}")))?;
        Ok(answer
            .records
            .iter()
            .map(|r| r.sequence_number.is_some())
            .collect())
    }
}
