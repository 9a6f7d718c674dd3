#!/usr/bin/env bash
# Builds hebbd (release) and runs the daemon on Configs/hebbd.toml (README: "Run the daemon").
# Checkpoints go to ./state unless --state-dir is given; extra arguments go to `hebbd run`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product hebbd
exec .build/release/hebbd run --config Configs/hebbd.toml --state-dir "${HEBBD_STATE_DIR:-$PWD/state}" "$@"
