#!/usr/bin/env bash
# Installs what hebbd needs on a fresh Debian 12 machine that has the Swift toolchain.
#   scripts/setup.sh          build and run: libzmq3-dev, libopenblas-dev, pkg-config; pyzmq and numpy for
#                             the Python examples when python3 is there
#   scripts/setup.sh --test   also what the tests use: systemd (systemd-analyze), python3, scikit-learn
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

# Python modules: pyzmq and numpy for Examples/python (the README's "Try it"), plus scikit-learn for the tests.
modules="zmq numpy"; pips=(pyzmq numpy); debs=(python3-zmq python3-numpy)
if [ "$want_test" = 1 ]; then modules="$modules sklearn"; pips+=(scikit-learn); debs+=(python3-sklearn); fi
if command -v python3 >/dev/null && ! python3 -c "import ${modules// /, }" 2>/dev/null; then
    echo "setup: installing ${pips[*]} for python3"
    # A pip-managed python (pyenv, venv) takes pip; Debian's own python refuses pip (PEP 668), so fall
    # back to its packages.
    python3 -m pip install --quiet "${pips[@]}" 2>/dev/null \
        || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${debs[@]}" >/dev/null
    python3 -c "import ${modules// /, }"
fi
