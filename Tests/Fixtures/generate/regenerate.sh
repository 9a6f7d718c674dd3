#!/usr/bin/env bash
# Regenerates the reference fixtures from the real ngclearn and brainstate, or checks the committed ones.
#
#   Tests/Fixtures/generate/regenerate.sh           write Tests/Fixtures/ngclearn_sys1.json and
#                                                   Tests/HebbianRegressionTests/Fixtures/brainstate_priors.json
#   Tests/Fixtures/generate/regenerate.sh --check   generate into a temporary directory and compare with the
#                                                   committed files; exit 1 if anything differs (max abs diff shown)
#   HEBBD_FIXTURE_KEEP=DIR                          keep the generated files in DIR (to inspect a difference)
#   HEBBD_FIXTURE_TOLERANCE=T                       --check passes when every number is within T·max(1, |value|) of
#                                                   the committed one (default 1e-6; 0: bit for bit)
#
# Why a tolerance: a few results depend on the CPU the generators run on. Measured on this project's machines
# against the committed files: every ngclearn output (data, weights, losses, optimiser states, thresholding) is
# bit for bit the same, and only 11 numbers of the float64 NumPy cross-check diagnostics differ (≤ 3.5e-16);
# of brainstate's 8158 numbers 46 differ — SpectralNormReg's (an SVD through LAPACK/XLA) by ≤ 8.9e-16 in float64
# and ≤ 6.0e-7 in float32 (a few float32 ulps), CauchyReg/HorseshoeReg and the closed-form diagnostics by
# ≤ 2.2e-16. All of it is below the tests' own tolerances (docs/MATH.md §9: 1e-9 in double and 1e-6 or looser
# in float32 for brainstate, 1e-5 or looser for ngclearn).
#
# The environment is exactly requirements.txt on Python 3.12 (pyenv's 3.12.1, or $HEBBD_FIXTURE_PYTHON, or
# python3.12 on PATH), in a virtual environment of its own: Tests/Fixtures/generate/.venv (git-ignored),
# rebuilt when requirements.txt changes. scripts/test.sh runs the check when HEBBD_FIXTURE_CHECK=1.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
check=false
case "${1:-}" in
    --check) check=true ;;
    "") ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "regenerate.sh: unknown argument $1 (--check or nothing)" >&2; exit 2 ;;
esac

python="${HEBBD_FIXTURE_PYTHON:-}"
if [ -z "$python" ]; then
    for candidate in "$(pyenv prefix 3.12.1 2>/dev/null || true)/bin/python" "$HOME/.pyenv/versions/3.12.1/bin/python" \
                     "$(command -v python3.12 || true)"; do
        if [ -x "$candidate" ]; then python="$candidate"; break; fi
    done
fi
[ -n "$python" ] || { echo "regenerate.sh: needs Python 3.12 (pyenv install 3.12.1, or set HEBBD_FIXTURE_PYTHON)" >&2; exit 1; }
"$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' \
    || { echo "regenerate.sh: $python is not Python 3.12" >&2; exit 1; }

venv="$here/.venv"
stamp="$venv/requirements.sha256"
wanted="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1) $("$python" -V 2>&1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "regenerate.sh: making $venv ($("$python" -V 2>&1), requirements.txt)"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
    echo "$wanted" > "$stamp"
fi

if [ -n "${HEBBD_FIXTURE_KEEP:-}" ]; then
    out="$HEBBD_FIXTURE_KEEP"
    mkdir -p "$out"
else
    out="$(mktemp -d "${TMPDIR:-/tmp}/hebbd-fixtures-XXXXXX")"
    trap 'rm -rf "$out"' EXIT
fi
# JAX on the CPU: the fixtures record jax_backend "cpu".
export JAX_PLATFORMS=cpu
echo "regenerate.sh: ngclearn (6 configurations, one process each)"
"$venv/bin/python" "$here/ref_ngclearn.py" --out "$out" --skip-sklearn
echo "regenerate.sh: brainstate (float64 and float32)"
"$venv/bin/python" "$here/ref_brainstate.py" --out "$out/brainstate_priors.json"

pairs=("$root/Tests/Fixtures/ngclearn_sys1.json:$out/ngclearn_sys1.json"
       "$root/Tests/HebbianRegressionTests/Fixtures/brainstate_priors.json:$out/brainstate_priors.json")
status=0
for pair in "${pairs[@]}"; do
    committed="${pair%%:*}" generated="${pair#*:}"
    python3 "$here/compare_fixtures.py" --tolerance "${HEBBD_FIXTURE_TOLERANCE:-1e-6}" "$committed" "$generated" || status=1
    if ! $check; then cp "$generated" "$committed"; echo "  wrote $committed"; fi
done
if $check; then exit "$status"; fi
