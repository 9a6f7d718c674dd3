#!/usr/bin/env bash
# Installs what hebbd needs on a fresh Debian 12 machine that has the Swift toolchain.
#   scripts/setup.sh          build and run: libzmq3-dev, libopenblas-dev, pkg-config; pyzmq and numpy for
#                             the Python examples when python3 is there
#   scripts/setup.sh --test   also what the tests use: systemd (systemd-analyze), python3, curl, prometheus
#                             (promtool, and the server the monitoring tests scrape hebbd with); scikit-learn,
#                             pytest and matplotlib for python3; River 0.26.1 (with pandas, for its learn_many) for
#                             the Bayesian model's parity test and benchmark; the client package ./clients/python; and it
#                             checks that the Swift toolchain ships clang's libFuzzer runtime (Fuzz/run.sh)
# Idempotent: installs only what is missing (the client package is reinstalled each time, to match the tree).
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

apt_updated=0
apt_install() {   # apt_install [apt-get options] PACKAGE…
    if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

packages=(libzmq3-dev libopenblas-dev pkg-config)
[ "$want_test" = 1 ] && packages+=(systemd python3 curl)
missing=()
for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    apt_install "${missing[@]}"
fi
# promtool and prometheus for the monitoring tests (Configs/prometheus, /metrics lint). Without recommends:
# nothing else is needed. (Where systemd runs, Debian also starts its prometheus service on :9090.)
if [ "$want_test" = 1 ] && ! installed prometheus; then
    echo "setup: installing prometheus (promtool)"
    apt_install --no-install-recommends prometheus
fi

# Python modules: pyzmq and numpy for Examples/python (the README's "Try it"), plus scikit-learn, pytest and
# matplotlib (Examples/python/plot.py's test) for the tests.
modules="zmq numpy"; pips=(pyzmq numpy); debs=(python3-zmq python3-numpy)
if [ "$want_test" = 1 ]; then
    modules="$modules sklearn pytest matplotlib"
    pips+=(scikit-learn pytest matplotlib)
    debs+=(python3-sklearn python3-pytest python3-matplotlib)
fi
if command -v python3 >/dev/null && ! python3 -c "import ${modules// /, }" 2>/dev/null; then
    echo "setup: installing ${pips[*]} for python3"
    # A pip-managed python (pyenv, venv) takes pip; Debian's own python refuses pip (PEP 668), so fall
    # back to its packages.
    python3 -m pip install --quiet "${pips[@]}" 2>/dev/null || apt_install "${debs[@]}"
    python3 -c "import ${modules// /, }"
fi

# River 0.26.1, the reference of kind = "bayesian" (clients/python/tests/test_bayesian.py, Benchmarks/bayesian.py),
# and pandas, which River's learn_many takes its batches in. PyPI only (Debian packages neither at this version):
# on Debian's own python, pip is told to install beside Debian's packages, as for the client below.
if [ "$want_test" = 1 ] && command -v python3 >/dev/null \
    && ! python3 -c "import river, pandas; assert river.__version__ == '0.26.1'" 2>/dev/null; then
    echo "setup: installing river==0.26.1 and pandas for python3"
    if ! python3 -m pip install --quiet river==0.26.1 pandas 2>/dev/null; then
        python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
        as_root python3 -m pip install --quiet --break-system-packages river==0.26.1 pandas
    fi
    python3 -c "import river, pandas"
fi

# The client package, so `import hebbd` works anywhere (the tests and the examples use the tree's copy
# anyway). Debian's python refuses pip (PEP 668): there, Debian's pip installs it into /usr/local, told
# so explicitly, without touching Debian's numpy and pyzmq.
if [ "$want_test" = 1 ] && command -v python3 >/dev/null; then
    echo "setup: installing the hebbd client (./clients/python) for python3"
    if ! python3 -m pip install --quiet ./clients/python 2>/dev/null; then
        python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
        as_root python3 -m pip install --quiet --break-system-packages --no-deps --no-build-isolation ./clients/python
    fi
    (cd / && python3 -c "import hebbd, hebbd.testing")
fi

# The fuzz pass (Fuzz/run.sh) links clang's libFuzzer and AddressSanitizer runtimes, which swift.org's toolchains
# ship in their clang resource directory (lib/clang/<version>/lib/linux). Debian's libclang-rt-14-dev would not
# do: the Swift toolchain's clang is newer and looks only in its own resource directory. Nothing to install, but
# say so now if it is missing rather than after the rest of the tests.
if [ "$want_test" = 1 ]; then
    swiftc_path="$(command -v swiftc || true)"
    toolchain="$(dirname "$(dirname "$(readlink -f "${swiftc_path:-/nonexistent}")")")"
    if ! ls "$toolchain"/lib/clang/*/lib/linux/libclang_rt.fuzzer-"$(uname -m)".a >/dev/null 2>&1; then
        echo "setup: the Swift toolchain at $toolchain has no libFuzzer runtime (libclang_rt.fuzzer-$(uname -m).a):" >&2
        echo "       Fuzz/run.sh, and so scripts/test.sh, will fail; install a swift.org toolchain (or run FUZZ_RUNS=0)" >&2
    fi
fi
