#!/usr/bin/env python3
"""Reference drift signals for hebbd's PageHinkley and ADWIN, from River's own detectors.

Generated with River 0.26.1 (`python3 -m pip install river==0.26.1`; numpy comes with it). River 0.26 runs
ADWIN in its compiled Rust extension and PageHinkley in Python; the script refuses any other River version,
because the vectors pin that version's arithmetic.

Run from the repository root:

    python3 Tests/HebbianRegressionTests/Scripts/drift_reference.py

It writes Tests/HebbianRegressionTests/Fixtures/drift_vectors.json (overwriting it):

- `sequences`: input streams made with a fixed seed, every value written with full float64 precision (repr);
- `river_defaults`: the default parameters of River's two constructors, read from their signatures;
- `settings`: detector parameter sets, River's names and values, for `page_hinkley` and `adwin` (the
  defaults, and non-default ones including Page-Hinkley's modes "up" and "down");
- `cases`: one per (sequence, setting): the 0-based steps at which `drift_detected` was true right after
  `update`, and the detector's internal running values after the last input (exact floats), so the Swift
  port is checked for bit-identical arithmetic, not just for the same alarms. With max_buckets = 1 River's
  ADWIN can crash (a panic in its Rust code) while shrinking its window after a detected change; such a case
  has `river_panicked_at` (the step), the steps before it and no final state (the script catches the
  panic; Rust still prints its panic message on stderr);
- `case_count`: len(cases).

The Swift tests (DriftDetectorTests.swift) replay every case and require identical steps and state.
"""
import inspect
import json
import math
import pathlib

import numpy as np
import river
from river import drift

RIVER_VERSION = "0.26.1"
SEED = 20261129
LENGTH = 2500

OUTPUT = pathlib.Path(__file__).resolve().parent.parent / "Fixtures" / "drift_vectors.json"


def segments(rng, pieces):
    """Concatenates Gaussian segments, each (length, mean, standard deviation)."""
    return np.concatenate([rng.normal(mean, sd, size=n) for n, mean, sd in pieces])


def make_sequences():
    rng = np.random.default_rng(SEED)
    seqs = {}
    # Abrupt mean shifts of different sizes, both directions.
    seqs["abrupt_shift"] = segments(rng, [(700, 0.0, 1.0), (600, 2.0, 1.0), (600, -1.0, 1.0), (600, 0.5, 1.0)])
    # The mean ramps up slowly, stays, then ramps back down.
    t = np.arange(LENGTH)
    ramp = np.clip((t - 600) / 900.0, 0.0, 1.0) * 3.0 - np.clip((t - 1900) / 400.0, 0.0, 1.0) * 3.0
    seqs["gradual_drift"] = ramp + rng.normal(0.0, 1.0, size=LENGTH)
    # Stationary: any alarm here is a false alarm, and must be the same false alarm as River's.
    seqs["no_drift"] = rng.normal(0.25, 1.0, size=LENGTH)
    # Heavy tails (Student t, 2 degrees of freedom: infinite variance) with one shift in location.
    heavy = rng.standard_t(2.0, size=LENGTH)
    heavy[1200:] += 2.5
    seqs["heavy_tailed"] = heavy
    # What hebbd feeds: each update's prequential MSE, the mean of 50 squared errors. The model learns
    # (error scale decays), the concept changes (scale jumps), it relearns, then improves (scale drops).
    scale = np.empty(LENGTH)
    scale[:1000] = 0.3 + 2.0 * np.exp(-t[:1000] / 150.0)
    scale[1000:1800] = 0.3 + 3.0 * np.exp(-(t[1000:1800] - 1000) / 150.0)
    scale[1800:] = 0.1
    seqs["mse_like"] = (rng.normal(0.0, 1.0, size=(LENGTH, 50)) * scale[:, None]) ** 2
    seqs["mse_like"] = seqs["mse_like"].mean(axis=1)
    # River's docstring stream (integers, as floats): 0/1 errors, then values in 4..7.
    import random
    r = random.Random(12345)
    seqs["river_docstring"] = np.array(r.choices([0, 1], k=1000) + r.choices(range(4, 8), k=1000), dtype=float)
    return {name: [float(v) for v in values] for name, values in seqs.items()}


def river_defaults(detector_class):
    """The defaults of River's constructor, read from its signature (not copied by hand)."""
    return {name: p.default for name, p in inspect.signature(detector_class).parameters.items()}


DEFAULTS = {"page_hinkley": river_defaults(drift.PageHinkley), "adwin": river_defaults(drift.ADWIN)}

SETTINGS = [
    {"name": "ph_default", "detector": "page_hinkley", "parameters": DEFAULTS["page_hinkley"]},
    {"name": "ph_up_sensitive", "detector": "page_hinkley",
     "parameters": {"min_instances": 20, "delta": 0.01, "threshold": 10.0, "alpha": 0.999, "mode": "up"}},
    {"name": "ph_down_sensitive", "detector": "page_hinkley",
     "parameters": {"min_instances": 50, "delta": 0.002, "threshold": 8.0, "alpha": 0.9995, "mode": "down"}},
    {"name": "ph_both_small_threshold", "detector": "page_hinkley",
     "parameters": {"min_instances": 10, "delta": 0.05, "threshold": 5.0, "alpha": 1.0, "mode": "both"}},
    {"name": "adwin_default", "detector": "adwin", "parameters": DEFAULTS["adwin"]},
    {"name": "adwin_every_step", "detector": "adwin",
     "parameters": {"delta": 0.05, "clock": 1, "max_buckets": 2, "min_window_length": 3, "grace_period": 30}},
    {"name": "adwin_coarse", "detector": "adwin",
     "parameters": {"delta": 0.0001, "clock": 7, "max_buckets": 9, "min_window_length": 12, "grace_period": 100}},
    # One bucket per row: River's Rust code panics when a shrink meets a row a merge has emptied (see run()).
    {"name": "adwin_single_bucket", "detector": "adwin",
     "parameters": {"delta": 0.05, "clock": 4, "max_buckets": 1, "min_window_length": 2, "grace_period": 10}},
]


def make_detector(setting):
    if setting["detector"] == "page_hinkley":
        return drift.PageHinkley(**setting["parameters"])
    return drift.ADWIN(**setting["parameters"])


def final_state(detector):
    """The running values after the last input (the same names as the Swift types' properties)."""
    if isinstance(detector, drift.PageHinkley):
        return {"count": int(detector._x_mean.n), "mean": detector._x_mean.get(),
                "sum_increase": detector._sum_increase, "sum_decrease": detector._sum_decrease,
                "min_increase": detector._min_increase, "max_decrease": float(detector._max_decrease)}
    return {"width": detector.width, "total": detector.total, "variance": detector.variance,
            "n_detections": detector.n_detections}


def run(values, setting):
    """Drift steps and final state, or the step at which River's Rust code panicked (then no final state).

    With max_buckets = 1 River 0.26.1's ADWIN can panic ("slice index starts at 1 but ends at 0") while it
    shrinks the window after finding a change; pyo3 raises that as PanicException, a BaseException.
    """
    detector = make_detector(setting)
    steps = []
    for i, x in enumerate(values):
        try:
            detector.update(x)
        except BaseException as error:  # noqa: BLE001 - only River's panic is expected here
            if type(error).__name__ != "PanicException":
                raise
            return steps, None, i
        if detector.drift_detected:
            steps.append(i)
    return steps, final_state(detector), None


def main():
    if river.__version__ != RIVER_VERSION:
        raise SystemExit(f"River {river.__version__} installed; these vectors pin River {RIVER_VERSION}")
    sequences = make_sequences()
    # River's documented results for its docstring stream: a check that this is the River we think it is.
    assert run(sequences["river_docstring"], SETTINGS[0])[0] == [1006]
    assert run(sequences["river_docstring"], SETTINGS[4])[0] == [1023]
    cases = []
    for name, values in sequences.items():
        assert all(math.isfinite(v) for v in values)
        for setting in SETTINGS:
            steps, state, panicked_at = run(values, setting)
            case = {"sequence": name, "setting": setting["name"], "drift_steps": steps, "final_state": state}
            if panicked_at is not None:
                case["river_panicked_at"] = panicked_at
            cases.append(case)
    document = {
        "generator": "Tests/HebbianRegressionTests/Scripts/drift_reference.py",
        "river_version": river.__version__,
        "numpy_version": np.__version__,
        "seed": SEED,
        "river_defaults": DEFAULTS,
        "sequences": sequences,
        "settings": SETTINGS,
        "cases": cases,
        "case_count": len(cases),
    }
    OUTPUT.write_text(json.dumps(document, indent=None, separators=(",", ":")) + "\n")
    total = sum(len(c["drift_steps"]) for c in cases)
    print(f"{OUTPUT}: {len(cases)} cases, {total} drift signals, {OUTPUT.stat().st_size} bytes")
    for c in cases:
        panic = f" (River panicked at {c['river_panicked_at']})" if "river_panicked_at" in c else ""
        print(f"  {c['sequence']:16} {c['setting']:24} {len(c['drift_steps']):3} signals {c['drift_steps'][:6]}{panic}")


if __name__ == "__main__":
    main()
