//! The SQL planner's fixtures, in the style of Arroyo's planner tests: each
//! `tests/plans/*.sql` holds one query under a header of `--` comments that
//! says what it must plan to. After free text, either
//!
//! ```sql
//! -- plan:
//! -- time: ts
//! -- window: tumble 1m
//! -- ...
//! ```
//!
//! with the plan as [`Plan`]'s `Display` writes it, or, in files named
//! `error_*.sql`, `-- error: MESSAGE` with the whole message of the refusal.
//! `OSPREY_BLESS=1 cargo test -p osprey-query` rewrites the expectations
//! from what the planner does now (review the diff).

use std::path::{Path, PathBuf};

use osprey_query::sql;

/// One fixture: its header's free text, its expectation, and the query.
struct Fixture {
    about: Vec<String>,
    expected: Expected,
    query: String,
}

#[derive(Debug, PartialEq)]
enum Expected {
    Plan(String),
    Error(String),
    Nothing,
}

fn read(path: &Path) -> Fixture {
    let text = std::fs::read_to_string(path).expect("a fixture is readable");
    let mut about = Vec::new();
    let mut plan: Option<String> = None;
    let mut error = None;
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next_if(|l| l.starts_with("--")) {
        let body = line.trim_start_matches("--").trim_start();
        if let Some(plan) = &mut plan {
            plan.push_str(body);
            plan.push('\n');
        } else if body == "plan:" {
            plan = Some(String::new());
        } else if let Some(e) = body.strip_prefix("error: ") {
            error = Some(e.to_owned());
        } else {
            about.push(line.to_owned());
        }
    }
    let query = lines.collect::<Vec<_>>().join("\n").trim().to_owned();
    let expected = match (plan, error) {
        (Some(p), None) => Expected::Plan(p),
        (None, Some(e)) => Expected::Error(e),
        _ => Expected::Nothing,
    };
    Fixture {
        about,
        expected,
        query,
    }
}

/// What the planner makes of `query`.
fn outcome(query: &str) -> Expected {
    match sql::parse(query) {
        Ok(plan) => Expected::Plan(plan.to_string()),
        Err(e) => Expected::Error(e.to_string()),
    }
}

/// `fixture` with `got` as its expectation, as the file's text.
fn blessed(fixture: &Fixture, got: &Expected) -> String {
    let mut out = String::new();
    for line in &fixture.about {
        out.push_str(line);
        out.push('\n');
    }
    match got {
        Expected::Plan(p) => {
            out.push_str("-- plan:\n");
            for line in p.lines() {
                out.push_str(&format!("-- {line}\n"));
            }
        }
        Expected::Error(e) => out.push_str(&format!("-- error: {e}\n")),
        Expected::Nothing => {}
    }
    out.push_str(&fixture.query);
    out.push('\n');
    out
}

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plans");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("tests/plans is there")
        .map(|e| e.expect("tests/plans is readable").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    paths.sort();
    paths
}

#[test]
fn every_fixture_plans_as_it_says() {
    let bless = std::env::var_os("OSPREY_BLESS").is_some();
    let paths = fixtures();
    assert!(paths.len() >= 30, "{} fixtures", paths.len());
    let mut failures = Vec::new();
    for path in &paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let fixture = read(path);
        let got = outcome(&fixture.query);
        let refusal = name.starts_with("error_");
        match (&got, refusal) {
            (Expected::Error(_), false) => {
                failures.push(format!(
                    "{name}: refused, but only error_*.sql may be: {got:?}"
                ));
            }
            (Expected::Plan(_), true) => {
                failures.push(format!("{name}: an error_ fixture planned: {got:?}"));
            }
            _ => {}
        }
        if bless {
            std::fs::write(path, blessed(&fixture, &got)).unwrap();
        } else if got != fixture.expected {
            failures.push(format!(
                "{name}:\n  expected {:?}\n  got      {got:?}",
                fixture.expected
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_fixture_reads_back_as_it_was_blessed() {
    let fixture = Fixture {
        about: vec!["-- about".into()],
        expected: Expected::Nothing,
        query: "SELECT 1".into(),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.sql");
    for got in [
        Expected::Plan("time: ts\nkeys: (none)\n".into()),
        Expected::Error("invalid query: x".into()),
    ] {
        std::fs::write(&path, blessed(&fixture, &got)).unwrap();
        let back = read(&path);
        assert_eq!(back.expected, got);
        assert_eq!(back.about, fixture.about);
        assert_eq!(back.query, fixture.query);
    }
}
