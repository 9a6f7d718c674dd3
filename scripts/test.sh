#!/usr/bin/env bash
# The whole test suite, set-up included (README: "Run the tests").
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
# The end-to-end tests start the real binary: build it first so they don't have to.
swift build --product hebbd
swift test "$@"
