#!/usr/bin/env bash
# Installs what osprey needs on a fresh Debian 12 machine that has only the Rust
# toolchain: pkg-config, GStreamer (development files, plugins, tools, RTSP server
# library), Mesa's Vulkan drivers (lavapipe) with the Vulkan loader, ffmpeg
# (the test oracle), Chromium with its WebDriver (the dashboard test), and the
# brokers the connector tests start (mosquitto, nats-server), then the Python
# modules the tests use as oracles and clients from PyPI (duckdb, pyarrow,
# boto3, selenium, paho-mqtt, nats-py, cbor2, h2, numpy, rrcf). Idempotent: a package already
# installed is skipped, and when everything is present nothing runs at all.
set -euo pipefail

# PyPI: module name=pip requirement. Installed for the python3 on PATH, which is
# the one the tests run.
python_modules=(
  "duckdb=duckdb==1.4.*"
  "pyarrow=pyarrow"
  "boto3=boto3"
  "selenium=selenium"
  "paho.mqtt=paho-mqtt==2.*"
  "nats=nats-py"
  "cbor2=cbor2"
  "h2=h2"
  "numpy=numpy"
  "rrcf=rrcf==0.4.*"
)

install_python_modules() {
  local wanted=()
  for entry in "${python_modules[@]}"; do
    local module=${entry%%=*} requirement=${entry#*=}
    if ! python3 -c "import $module" >/dev/null 2>&1; then
      wanted+=("$requirement")
    fi
  done
  if [ "${#wanted[@]}" -eq 0 ]; then
    echo "setup: all python modules present" >&2
    return 0
  fi
  echo "setup: pip installing ${wanted[*]}" >&2
  python3 -m pip install --quiet --disable-pip-version-check "${wanted[@]}"
}

packages=(
  pkg-config
  libgstreamer1.0-dev
  libgstreamer-plugins-base1.0-dev
  libgstrtspserver-1.0-dev
  gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly
  gstreamer1.0-libav
  gstreamer1.0-tools
  gstreamer1.0-rtsp
  mesa-vulkan-drivers
  libvulkan1
  vulkan-tools
  ffmpeg
  chromium
  chromium-driver
  mosquitto
  mosquitto-clients
  nats-server
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup: all system packages present" >&2
  install_python_modules
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done" >&2
install_python_modules
