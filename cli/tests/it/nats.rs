//! NATS through the commands: `osprey analyze --output jetstream://...`
//! stores every record in JetStream, in order, read back by nats-py (an
//! independent client); `osprey put STREAM jetstream://...` then takes the
//! same records from a durable consumer into a stream of the store, each
//! with its subject; core `nats://` records published by nats-py reach
//! `osprey put` too.

use std::process::Command;

use serde_json::Value;

use crate::common::{
    Proc, arg, osprey, parse_ndjson, ready_or, run, run_in, small_clip, wait_until,
};
use crate::nats_server::NatsServer;

/// Runs nats-py `code` (an async body with `nc` connected to `url` and
/// `js` its JetStream context) and returns what it printed.
fn nats_py(url: &str, code: &str) -> String {
    let script = format!(
        "import asyncio, json, nats\nasync def main():\n    nc = await nats.connect({url:?})\n    js = nc.jetstream()\n{}\n    await nc.drain()\nasyncio.run(main())\n",
        code.lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "nats-py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The records of stream `s` in `data`, without the field the broker input
/// adds.
fn stored(dir: &std::path::Path, data: &str, field: &str) -> Vec<Value> {
    parse_ndjson(&run_in(dir, &["read", "s", "--data-dir", data]).stdout)
        .into_iter()
        .map(|r| {
            let mut d = r["data"].clone();
            d.as_object_mut().unwrap().remove(field);
            d
        })
        .collect()
}

#[test]
fn analyze_records_reach_jetstream_and_put_takes_them_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path());
    let analyze = |output: &str| {
        run(&[
            "analyze",
            arg(small_clip()),
            "--source",
            "cam",
            "--kernels",
            "stats,scene",
            "--backend",
            "cpu",
            "--output",
            output,
        ])
        .success()
    };
    let file = dir.path().join("records.ndjson");
    analyze(file.to_str().unwrap());
    let want = parse_ndjson(&std::fs::read_to_string(&file).unwrap());
    assert!(
        want.len() >= 12,
        "a record a frame at least: {}",
        want.len()
    );
    let host = server.url.trim_start_matches("nats://");
    analyze(&format!("jetstream://{host}/osprey.cam"));

    // nats-py reads the JetStream stream the output created, in order.
    let got = nats_py(
        &server.url,
        "info = await js.find_stream_name_by_subject('osprey.cam')\n\
         n = (await js.stream_info(info)).state.messages\n\
         for seq in range(1, n + 1):\n    \
             m = await js.get_msg(info, seq)\n    \
             print(m.data.decode())",
    );
    assert_eq!(
        parse_ndjson(&got),
        want,
        "JetStream holds every record in order"
    );

    // A durable consumer takes them into a stream of the store.
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    run(&["stream", "create", "s", "--data-dir", data_arg]).success();
    let mut put = Proc::spawn(
        osprey()
            .args(["put", "s", "--data-dir", data_arg])
            .arg(format!("jetstream://{host}/osprey.cam")),
    );
    wait_until(|| {
        let n = stored(dir.path(), data_arg, "topic").len();
        ready_or(n >= want.len(), || {
            format!("{n} of {} records stored", want.len())
        })
    });
    put.kill_now();
    assert_eq!(stored(dir.path(), data_arg, "topic"), want);

    // Core NATS: records published while `put` listens arrive with their
    // subject. Core NATS keeps nothing for a subscriber that is not there
    // yet, so nats-py publishes until the first one is stored.
    run(&["stream", "delete", "s", "--data-dir", data_arg]).success();
    run(&["stream", "create", "s", "--data-dir", data_arg]).success();
    let mut put = Proc::spawn(
        osprey()
            .args(["put", "s", "--data-dir", data_arg])
            .arg(format!("nats://{host}/sensors.>")),
    );
    wait_until(|| {
        nats_py(
            &server.url,
            "await nc.publish('sensors.probe', b'{\"probe\":1}')",
        );
        let n = stored(dir.path(), data_arg, "topic").len();
        ready_or(n >= 1, || "the subscription is not up yet".to_owned())
    });
    nats_py(
        &server.url,
        "for i in range(100):\n    \
             await nc.publish('sensors.a', json.dumps({'i': i}).encode())",
    );
    wait_until(|| {
        let n = stored(dir.path(), data_arg, "topic")
            .iter()
            .filter(|r| r.get("i").is_some())
            .count();
        ready_or(n >= 100, || format!("{n} of 100 records stored"))
    });
    put.kill_now();
    let records = parse_ndjson(&run_in(dir.path(), &["read", "s", "--data-dir", data_arg]).stdout);
    let numbered: Vec<(u64, String)> = records
        .iter()
        .filter(|r| r["data"].get("i").is_some())
        .map(|r| {
            (
                r["data"]["i"].as_u64().unwrap(),
                r["data"]["topic"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: Vec<(u64, String)> = (0..100).map(|i| (i, "sensors.a".to_owned())).collect();
    assert_eq!(
        numbered, want,
        "core NATS records in order, with their subject"
    );
}
