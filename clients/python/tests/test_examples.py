"""Examples/python against a real daemon: plot.py writes a PNG headless; producer.py and subscriber.py (also
exercised by Tests/EndToEndTests) use the repository's client without installing it."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
from pathlib import Path

from hebbd.testing import LocalDaemon

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "Examples" / "python"


def clean_env() -> dict:
    """The environment without PYTHONPATH, so the examples find the client by themselves."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def test_plot_writes_a_png_after_n_updates(daemon: LocalDaemon, tmp_path: Path) -> None:
    out = tmp_path / "plot.png"
    plot = subprocess.Popen([sys.executable, str(EXAMPLES / "plot.py"), "--endpoint", daemon.publish, "--model", "demo",
                             "--updates", "30", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env())
    try:
        line = plot.stdout.readline()          # type: ignore[union-attr]
        assert line.startswith("subscribed to coef/demo/"), line + plot.stderr.read()  # type: ignore[union-attr]
        producer = subprocess.run([sys.executable, str(EXAMPLES / "producer.py"), "--endpoint", daemon.ingest,
                                   "--messages", "30", "--rate", "0"], capture_output=True, text=True, timeout=60, env=clean_env())
        assert producer.returncode == 0, producer.stderr
        rest, err = plot.communicate(timeout=60)
    finally:
        plot.kill()
    assert plot.returncode == 0, err
    assert f"wrote {out}: 31 messages of demo, up to step 30" in rest
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (990, 715) and len(data) > 20_000


def test_examples_use_the_repositorys_client(daemon: LocalDaemon, tmp_path: Path) -> None:
    # Run from another directory, with no PYTHONPATH: the scripts put clients/python on sys.path themselves.
    sub = subprocess.Popen([sys.executable, str(EXAMPLES / "subscriber.py"), "--endpoint", daemon.publish, "--model", "demo",
                            "--count", "6", "--timeout", "20", "--top", "3"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=clean_env())
    try:
        assert sub.stdout.readline().startswith("subscribed to coef/demo/")   # type: ignore[union-attr]
        assert sub.stdout.readline().startswith("demo  seq 0 ")               # type: ignore[union-attr]
        producer = subprocess.run([sys.executable, str(EXAMPLES / "producer.py"), "--endpoint", daemon.ingest,
                                   "--messages", "5", "--rate", "0"], capture_output=True, text=True, timeout=60,
                                  cwd=tmp_path, env=clean_env())
        assert producer.returncode == 0, producer.stderr
        assert "sent 5 messages, 250 rows" in producer.stdout
        out, err = sub.communicate(timeout=30)
    finally:
        sub.kill()
    assert sub.returncode == 0, err
    assert [l.split()[2] for l in out.splitlines() if l.startswith("demo  seq ")] == ["1", "2", "3", "4", "5"]
    assert "received 6 messages; latest coefficients:" in out


def test_producer_says_when_no_daemon_takes_samples(tmp_path: Path) -> None:
    from hebbd.testing import free_port
    began = time.monotonic()
    r = subprocess.run([sys.executable, str(EXAMPLES / "producer.py"), "--endpoint", f"tcp://127.0.0.1:{free_port()}",
                        "--messages", "1"], capture_output=True, text=True, timeout=60, env=clean_env())
    assert r.returncode == 1 and "took no message within 10 s; is hebbd running?" in r.stderr, r
    assert 9 < time.monotonic() - began < 30


def test_plot_draws_interval_bands_when_the_model_publishes_them(tmp_path: Path) -> None:
    """plot.py's drawing on decoded messages: a model with uncertainty gets one shaded band per named coefficient
    (its published interval over the steps) and ± std in the legend; one without gets no band."""
    import importlib.util

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.collections import PolyCollection

    from hebbd import Update

    spec = importlib.util.spec_from_file_location("hebbd_plot_example", EXAMPLES / "plot.py")
    plot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plot)  # type: ignore[union-attr]

    def message(step: int, uncertainty: bool) -> Update:
        w = [[1.0 + 0.01 * step], [0.0], [-2.0]]
        body = {"model": "m", "kind": "bayesian" if uncertainty else "lasso", "seq": step, "step": step, "samples": step,
                "loss": 1.0 / (step + 1), "mse": 0.1, "nnz": 2, "shape": [3, 1], "coefficients": w, "window": 10,
                "prequential_mse": 0.1}
        if uncertainty:
            std = [[0.1], [0.0], [0.2]]
            body.update(std=std, intercept_std=[0.0], noise_std=[1.0],
                        interval={"level": 0.95, "lower": [[a[0] - 1.96 * s[0]] for a, s in zip(w, std)],
                                  "upper": [[a[0] + 1.96 * s[0]] for a, s in zip(w, std)]})
        return Update.from_json(body)

    for uncertainty, bands in ((True, 2), (False, 0)):
        history = plot.History()
        for step in range(1, 6):
            history.add(message(step, uncertainty))
        fig = plt.figure()
        plot.draw(fig, history, label=6)
        top = fig.axes[0]
        filled = [c for c in top.collections if isinstance(c, PolyCollection)]
        assert len(filled) == bands, (uncertainty, filled)
        legend = [t.get_text() for t in top.get_legend().get_texts()]
        assert all(("±" in t) == uncertainty for t in legend), legend
        if uncertainty:
            # The band of w[0] spans its interval at the last step.
            ys = np.concatenate([p.vertices[:, 1] for p in filled[0].get_paths()])
            assert abs(ys.max() - (1.05 + 0.196)) < 1e-6 and abs(ys.min() - (1.01 - 0.196)) < 1e-6   # float32 values
        fig.savefig(tmp_path / f"bands-{uncertainty}.png")
        plt.close(fig)
