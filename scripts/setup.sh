#!/usr/bin/env bash
# Installs what hebbd needs on a fresh Debian 12 machine that has the Swift toolchain.
#   scripts/setup.sh          build and run: libzmq3-dev, libopenblas-dev, pkg-config
#   scripts/setup.sh --test   also what the tests use: systemd (systemd-analyze), python3 with pyzmq, numpy, scikit-learn
# Idempotent: installs only what is missing.
set -euo pipefail

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

packages=(libzmq3-dev libopenblas-dev pkg-config)
[ "$want_test" = 1 ] && packages+=(systemd python3 curl)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ "$want_test" = 1 ]; then
    if ! python3 -c "import zmq, numpy, sklearn" 2>/dev/null; then
        echo "setup: installing pyzmq numpy scikit-learn for python3"
        # A pip-managed python (pyenv, venv) takes pip; Debian's own python refuses pip (PEP 668), so fall
        # back to its packages.
        python3 -m pip install --quiet pyzmq numpy scikit-learn 2>/dev/null \
            || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-zmq python3-numpy python3-sklearn >/dev/null
        python3 -c "import zmq, numpy, sklearn"
    fi
fi
