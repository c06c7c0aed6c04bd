#!/usr/bin/env bash
# Runs every test of the workspace in release mode, after installing what the
# tests need (scripts/setup.sh: GStreamer, Mesa's lavapipe for the GPU tests,
# ffmpeg as the oracle). Every test binary runs even when an earlier one
# fails (--no-fail-fast); the script exits non-zero when any test fails.
#
# Extra arguments go to cargo test, e.g. `./scripts/test.sh oracle` runs the
# tests whose names hold "oracle".
# OSPREY_REQUIRE_GPU=1 makes the GPU tests fail on a software adapter.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
cargo test --release --workspace --no-fail-fast "$@"
