//! `osprey serve --check-config FILE`: the smallest config and the
//! commented example check ok without starting or opening anything; broken
//! files fail with exit 2 and one line naming the file, the line and the key.

use std::path::Path;

use crate::common::{osprey, run_cmd, run_in};

/// The smallest useful config, as issue 15 gives it.
const SMALLEST: &str = r#"data_dir = "osprey-data"
[http]
listen = "127.0.0.1:8080"
[[cameras]]
name = "cam1"
uri = "rtsp://127.0.0.1:8554/cam"
kernels = ["motion", "scene"]
"#;

/// The `[http]` line of [`SMALLEST`].
const LISTEN: &str = "listen = \"127.0.0.1:8080\"\n";

/// A secret named in an environment variable no test sets.
const UNSET_SECRET: &str = "secret_access_key_env = \"OSPREY_TEST_NO_SUCH_SECRET\"\n";

#[test]
fn good_configs_check_ok_and_open_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("osprey.toml"), SMALLEST).unwrap();
    let run = run_in(dir.path(), &["serve", "--check-config", "osprey.toml"]).success();
    assert_eq!(
        run.stderr,
        "osprey: osprey.toml: ok (1 camera, 0 streams, 0 queries, 0 deliveries)\n"
    );
    assert!(run.stdout.is_empty());
    // Checked, not started: no store was made.
    assert!(!dir.path().join("osprey-data").exists());

    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/osprey.toml");
    let run = run_cmd(
        osprey()
            .args(["serve", "--check-config"])
            .arg(&example)
            .env("CAM0_PASSWORD", "secret")
            .env("OSPREY_TOKEN", "token")
            .current_dir(dir.path()),
    )
    .success();
    assert!(
        run.stderr
            .ends_with(": ok (2 cameras, 2 streams, 2 queries, 2 deliveries)\n"),
        "{}",
        run.stderr
    );
    // The example names its environment variables: without them it fails.
    let run = run_cmd(
        osprey()
            .args(["serve", "--check-config"])
            .arg(&example)
            .env_remove("CAM0_PASSWORD")
            .env("OSPREY_TOKEN", "token"),
    );
    assert!(
        run.fails_with(2).contains("CAM0_PASSWORD"),
        "{}",
        run.stderr
    );
}

#[test]
fn broken_configs_name_the_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let query = "[[queries]]\nname = \"q\"\ninput = \"frames\"\noutput = \"stream:out\"\n";
    for (text, line, words) in [
        (
            format!("{SMALLEST}colour = \"red\"\n"),
            8,
            "camera \"cam1\": unknown field `colour`",
        ),
        (
            format!("{SMALLEST}[[cameras]]\nname = \"cam1\"\nuri = \"test:ball\"\n"),
            9,
            "camera name \"cam1\" is given twice",
        ),
        (
            SMALLEST.replace("\"motion\"", "\"motoin\""),
            7,
            "camera \"cam1\": kernels: unknown kernel \"motoin\"",
        ),
        (
            format!("{SMALLEST}{query}sql = \"SELECT nothing FROM\"\n"),
            12,
            "query \"q\": sql: ",
        ),
        (
            format!(
                "{SMALLEST}{query}sql = \"SELECT count(*) FROM i GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)\"\nmemory_limit = \"lots\"\n"
            ),
            13,
            "query \"q\": memory_limit: ",
        ),
        (
            SMALLEST.replace("uri = \"rtsp://127.0.0.1:8554/cam\"\n", ""),
            4,
            "camera \"cam1\": missing field `uri`",
        ),
        (
            SMALLEST.replace(LISTEN, &format!("{LISTEN}access_key_id = \"AK\"\n")),
            4,
            "http: access_key_id needs secret_access_key_env",
        ),
        (
            SMALLEST.replace(LISTEN, &format!("{LISTEN}{UNSET_SECRET}")),
            4,
            "http: secret_access_key_env needs access_key_id",
        ),
        (
            SMALLEST.replace(
                LISTEN,
                &format!("{LISTEN}access_key_id = \"AK\"\n{UNSET_SECRET}"),
            ),
            5,
            "http: secret_access_key_env: the environment variable \"OSPREY_TEST_NO_SUCH_SECRET\" is not set",
        ),
    ] {
        std::fs::write(dir.path().join("bad.toml"), &text).unwrap();
        let run = run_in(dir.path(), &["serve", "--check-config", "bad.toml"]);
        let err = run.fails_with(2);
        assert!(
            err.starts_with(&format!("osprey: bad.toml:{line}: {words}")),
            "{err}\n{text}"
        );
    }
    // --config and --http exclude each other (clap's usage error), and so
    // do --config and the flags the file replaces: refused, not ignored.
    for (flag, value) in [
        ("--http", "127.0.0.1:0"),
        ("--durability", "os"),
        ("--max-connections", "5"),
    ] {
        let run = run_in(dir.path(), &["serve", "--config", "bad.toml", flag, value]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr.contains("cannot be used with") && run.stderr.contains(flag),
            "{flag}: {}",
            run.stderr
        );
    }
}
