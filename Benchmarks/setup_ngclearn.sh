#!/bin/sh
# Makes Benchmarks/.venv-ngclearn: Python >= 3.12 (pyenv's, or python3.12/python3.13 on PATH) with ngclearn,
# numpy and pyzmq, for the ngclearn column of Benchmarks/run_all.py. Not committed (.gitignore).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python=""
for candidate in python3.13 python3.12; do
    # (pyenv's shims exist for every version and fail for the ones not selected: try each.)
    if "$candidate" -c "import sys; assert sys.version_info >= (3, 12)" >/dev/null 2>&1; then
        python=$("$candidate" -c "import sys; print(sys.executable)"); break
    fi
done
if [ -z "$python" ] && command -v pyenv >/dev/null 2>&1; then
    version=$(pyenv versions --bare | grep -E '^3\.1[2-9]' | tail -1 || true)
    [ -n "$version" ] && python="$(pyenv root)/versions/$version/bin/python"
fi
[ -n "$python" ] || { echo "setup_ngclearn: no Python >= 3.12 found (pyenv install 3.12)" >&2; exit 1; }
"$python" -m venv "$here/.venv-ngclearn"
"$here/.venv-ngclearn/bin/pip" install -q ngclearn numpy pyzmq
"$here/.venv-ngclearn/bin/python" -c "import ngclearn; print('ngclearn', ngclearn.__version__ if hasattr(ngclearn, '__version__') else '')"
