#!/usr/bin/env bash
# Runs every test of the workspace in release mode, after installing what the
# tests need (scripts/setup.sh: GStreamer, Mesa's lavapipe for the GPU tests,
# ffmpeg as the oracle). Every test binary runs even when an earlier one
# fails (--no-fail-fast); the script exits non-zero when any test fails.
# With no arguments it then runs ./scripts/demo.sh, the README's first command.
#
# Extra arguments go to cargo test, e.g. `./scripts/test.sh oracle` runs the
# tests whose names hold "oracle".
# With no arguments it first checks formatting (cargo fmt), lints (clippy)
# and docs (cargo doc), all with warnings denied.
# OSPREY_REQUIRE_GPU=1 makes the GPU tests fail on a software adapter.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

# Each stage says how long it took: the whole command has a budget (about
# 20 minutes on a 2-core machine from a clean clone), and these lines show
# where it goes.
stage_start=$SECONDS
stage_done() {
  echo "test: $1 took $((SECONDS - stage_start)) s" >&2
  stage_start=$SECONDS
}
stage_done "setup"

# The code itself, before any test: formatting, lints and docs hold on every
# commit (warnings are errors). Skipped when only some tests are asked for.
if [ "$#" -eq 0 ]; then
  echo "test: cargo fmt --check" >&2
  cargo fmt --all -- --check
  stage_done "cargo fmt"
  echo "test: cargo clippy -D warnings" >&2
  cargo clippy --release --workspace --all-targets -- -D warnings
  stage_done "cargo clippy"
  echo "test: cargo doc -D warnings" >&2
  RUSTDOCFLAGS="-D warnings" cargo doc --release --workspace --no-deps
  stage_done "cargo doc"
fi

# Built first, then run, so the two durations show apart.
cargo test --release --workspace --no-fail-fast --no-run "$@"
stage_done "building the tests"
cargo test --release --workspace --no-fail-fast "$@"
stage_done "running the tests"

# The README's first command, end to end, when the whole suite runs: it
# failed once without any test noticing (SIGPIPE under pipefail).
if [ "$#" -eq 0 ]; then
  mkdir -p target/demo
  echo "test: ./scripts/demo.sh (log in target/demo/demo.log)" >&2
  if ! ./scripts/demo.sh > target/demo/demo.log 2>&1; then
    tail -n 30 target/demo/demo.log >&2
    echo "test: ./scripts/demo.sh failed" >&2
    exit 1
  fi
  echo "test: the demo ran: $(grep -c . target/demo/demo.log) lines of output" >&2
  stage_done "the demo"
fi
