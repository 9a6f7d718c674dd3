#!/usr/bin/env python3
"""All of hebbd's speed and memory benchmarks (issue 10) in one run, each figure beside its baseline from the same run.

    swift build -c release --product hebbd
    python3 Benchmarks/run_all.py [--quick] [--only core,e2e,latency,checkpoint,memory] [--minutes N] [--json FILE]

Sections (Benchmarks/README.md says what each baseline is and why):
  core        `hebbd bench` (the circuit's update in-process) against the same lasso/Adam step in numpy
              (Benchmarks/numpy_lasso.py) and, when Benchmarks/.venv-ngclearn exists, ngclearn's Iterative_Lasso
  e2e         `hebbd feed` → `hebbd run` (binary and JSON publish, no subscriber, completion read from `status`)
              against `hebbd feed` → a bare libzmq PULL that discards (Benchmarks/null_sink.c, compiled here with cc)
  latency     a batch's last row sent → its coefficient message received by a subscriber, against the same round
              trip through the null sink publishing a small message per message received (the transport floor)
  checkpoint  the longest gap between coefficient messages of a busy 4096×64 model while it is checkpointed over and
              over, against the longest gap without checkpoints
  memory      resident memory per model (4096×64, and 100 small ones) against 4×W + the batch buffer, and over a
              sustained run (`--minutes`), sampled over time

Every ratio is "hebbd over baseline" for rates and "hebbd / baseline" for memory; each repeated measurement
(--repeat, default 3, 1 with --quick) is reported as its median and range. Needs a C compiler and libzmq3-dev
(for the null sink), pyzmq and numpy.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import zmq

from bench_daemon import BenchDaemon, free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, "Benchmarks")
ROWS = []  # (section, case, hebbd, baseline, ratio, target, met)


def report(section, case, value, baseline, ratio, target, met, unit=""):
    row = {"section": section, "case": case, "hebbd": value, "baseline": baseline, "ratio": ratio, "target": target,
           "met": met, "unit": unit}
    ROWS.append(row)
    flag = "" if met is None else ("  ok" if met else "  MISSED")
    print(f"  {case:<44} {value:>22} {baseline:>26} {ratio:>14}  target {target}{flag}", flush=True)


def spread(values, fmt="{:.2f}"):
    """Median and range of repeated figures, as text."""
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def human(rate):
    if rate >= 1e6:
        return f"{rate / 1e6:.2f}M"
    if rate >= 1e3:
        return f"{rate / 1e3:.1f}k"
    return f"{rate:.1f}"


def run_json(command, env=None, timeout=900):
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env, timeout=timeout).stdout
    return json.loads(out.strip().splitlines()[-1])


# MARK: core

CORE_SHAPES = [  # dict_dim, sys_dim, batch, hebbd updates, numpy updates, target ratio over numpy
    (64, 1, 64, 200_000, 30_000, 5.0),
    (256, 1, 64, 100_000, 20_000, 5.0),
    (1024, 16, 256, 2_000, 600, 1.0),
    (4096, 64, 1024, 60, 40, 1.0),
]


def core(args):
    print("core: hebbd bench (in-process update) vs numpy_lasso.py, updates/s", flush=True)
    scale = 0.3 if args.quick else 1.0
    for d, s, n, hebbd_updates, numpy_updates, target in CORE_SHAPES:
        ours, theirs, ratios = [], [], []
        for _ in range(args.repeat):
            h = run_json([args.hebbd, "bench", "--json", "--dict-dim", str(d), "--sys-dim", str(s), "--batch", str(n),
                          "--updates", str(max(10, int(hebbd_updates * scale)))] + args.bench_args)
            p = run_json([sys.executable, os.path.join(HERE, "numpy_lasso.py"), "--dict-dim", str(d), "--sys-dim", str(s),
                          "--batch", str(n), "--updates", str(max(10, int(numpy_updates * scale)))])
            ours.append(h["samples_per_s"])
            theirs.append(p["samples_per_s"])
            ratios.append(h["updates_per_s"] / p["updates_per_s"])
        med = statistics.median(ratios)
        report("core", f"{d}×{s} batch {n} (samples/s, p50 {h['p50_us']} µs)", human(statistics.median(ours)),
               f"numpy {human(statistics.median(theirs))}", spread(ratios) + "×", f"≥ {target:g}×", med >= target)
    python = os.path.join(HERE, ".venv-ngclearn", "bin", "python")
    if not os.access(python, os.X_OK):
        print("  ngclearn: skipped (no Benchmarks/.venv-ngclearn; run Benchmarks/setup_ngclearn.sh)", flush=True)
        return
    try:
        g = run_json([python, os.path.join(HERE, "ngclearn_lasso.py"), "--dict-dim", "256", "--batch", "64",
                      "--updates", "20" if args.quick else "60"])
    except (subprocess.CalledProcessError, json.JSONDecodeError) as error:
        print(f"  ngclearn: skipped ({error})", flush=True)
        return
    h = run_json([args.hebbd, "bench", "--json", "--dict-dim", "256", "--batch", "64", "--updates", "50000"] + args.bench_args)
    ratio = h["updates_per_s"] / g["updates_per_s"]
    report("core", "256×1 batch 64 vs ngclearn Iterative_Lasso", human(h["samples_per_s"]),
           f"ngclearn {human(g['samples_per_s'])}", f"{ratio:.0f}×", "≥ 1000×", ratio >= 1000)


# MARK: end to end

E2E_SHAPES = [  # dict_dim, sys_dim, rows per message, batch_size, samples to send (full run), json target
    (64, 1, 64, 64, 4_000_000, 0.8),
    (256, 1, 64, 64, 2_000_000, 0.8),
    (1024, 16, 256, 256, 500_000, 0.5),
    (4096, 64, 1024, 1024, 60_000, 0.5),
    (16, 1, 1, 32, 500_000, None),  # one row per message: messages/s
]


def null_sink_binary(work):
    path = os.path.join(work, "null_sink")
    if not os.path.exists(path):
        subprocess.run(["cc", "-O2", "-o", path, os.path.join(HERE, "null_sink.c"), "-lzmq"], check=True)
    return path


def data_file(work, d, s, rows_per_message, total):
    """An .npy file of at most ~64 MiB and the passes over it that send `total` rows."""
    messages_in_file = max(1, min(total // rows_per_message, (64 << 20) // (rows_per_message * (d + s) * 4)))
    rows = messages_in_file * rows_per_message
    path = os.path.join(work, f"data-{d}x{s}-{rows}.npy")
    if not os.path.exists(path):
        rng = np.random.default_rng(3)
        x = rng.standard_normal((rows, d), dtype=np.float32)
        w = np.where(rng.random((d, s)) < 0.05, 1.0, 0.0).astype(np.float32)
        np.save(path, np.hstack([x, x @ w + np.float32(0.1) * rng.standard_normal((rows, s), dtype=np.float32)]))
    passes = max(1, round(total / rows))
    return path, rows, passes


def feed_command(args, endpoint, path, d, s, rows_per_message, passes):
    return [args.hebbd, "feed", "--model", "bench", "--data", path, "--dict-dim", str(d), "--sys-dim", str(s),
            "--batch-rows", str(rows_per_message), "--passes", str(passes), "--endpoint", endpoint]


def model_table(d, s, batch, name="bench"):
    return f"""[[model]]
name = "{name}"
kind = "lasso"
dict_dim = {d}
sys_dim = {s}
batch_size = {batch}
"""


def e2e_hebbd(args, path, rows, passes, d, s, per_message, batch, publish):
    total = rows * passes
    with BenchDaemon(args.hebbd, f'[publish]\nformat = "{publish}"\n' + model_table(d, s, batch),
                     daemon_toml=args.daemon_toml) as daemon:
        started = time.monotonic()
        feed = subprocess.Popen(feed_command(args, daemon.ingest, path, d, s, per_message, passes), stdout=subprocess.DEVNULL)
        def taken():
            model = daemon.request({"cmd": "status"})["models"]["bench"]
            return model["samples"] + model["buffered"]

        while taken() < total:
            if time.monotonic() - started > 600:
                raise SystemExit("e2e: hebbd did not take the rows within 600 s")
            time.sleep(0.01)
        elapsed = time.monotonic() - started
        feed.wait()
    return total / elapsed, total / per_message / elapsed


def e2e_null(args, sink, path, rows, passes, d, s, per_message):
    messages = rows * passes // per_message
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    process = subprocess.Popen([sink, endpoint, str(messages)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    started = time.monotonic()
    feed = subprocess.Popen(feed_command(args, endpoint, path, d, s, per_message, passes), stdout=subprocess.DEVNULL)
    process.wait(timeout=600)
    elapsed = time.monotonic() - started
    feed.wait()
    return rows * passes / elapsed, messages / elapsed


def e2e(args, work):
    print("e2e: hebbd feed → hebbd run (no subscriber) vs hebbd feed → null sink, samples/s", flush=True)
    sink = null_sink_binary(work)
    scale = 0.3 if args.quick else 1.0
    for d, s, per_message, batch, total, json_target in E2E_SHAPES:
        path, rows, passes = data_file(work, d, s, per_message, int(total * scale))
        figures = {"null": [], "binary": [], "json": []}
        for _ in range(args.repeat):
            figures["null"].append(e2e_null(args, sink, path, rows, passes, d, s, per_message))
            figures["binary"].append(e2e_hebbd(args, path, rows, passes, d, s, per_message, batch, "binary"))
            if json_target is not None:
                figures["json"].append(e2e_hebbd(args, path, rows, passes, d, s, per_message, batch, "json"))
        index = 1 if per_message == 1 else 0  # one row per message: messages/s
        unit = "msg/s" if index else "samples/s"
        base = [f[index] for f in figures["null"]]
        label = f"{d}×{s} {per_message} rows/msg batch {batch}"
        for publish, target in (("binary", 0.8), ("json", json_target)):
            if target is None:
                continue
            ours = [f[index] for f in figures[publish]]
            ratios = [o / b for o, b in zip(ours, base)]
            report("e2e", f"{label} {publish} ({unit})", human(statistics.median(ours)),
                   f"null sink {human(statistics.median(base))}", spread(ratios), f"≥ {target:g}",
                   statistics.median(ratios) >= target)


# MARK: latency

def probe_latency(push, sub, frames, count, pause):
    """Sends one batch at a time and waits for the coefficient message it causes; seconds per round trip."""
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        push.send_multipart(frames)
        while True:
            if not sub.poll(5000):
                raise SystemExit("latency: no coefficient message within 5 s")
            parts = sub.recv_multipart()
            if parts[0].startswith(b"coef/"):
                break
        times.append(time.perf_counter() - t0)
        time.sleep(pause)
    return times


def latency(args, work):
    print("latency: last row sent → coefficient message received (µs)", flush=True)
    sink = null_sink_binary(work)
    cases = [(256, 1, 64, 400 if not args.quick else 150, 1.0), (4096, 64, 1024, 40 if not args.quick else 15, None)]
    for d, s, n, count, target_ms in cases:
        rng = np.random.default_rng(5)
        frames = [b"bench", json.dumps({"dtype": "<f4", "rows": n}).encode(),
                  rng.standard_normal((n, d), dtype=np.float32).tobytes(), rng.standard_normal((n, s), dtype=np.float32).tobytes()]
        pause = 0.002 if d < 4096 else 0.05
        context = zmq.Context()
        # The transport floor: the same round trip through the null sink, which publishes a small message per message.
        ingest, publish = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
        process = subprocess.Popen([sink, ingest, str(count + 50), publish], stdout=subprocess.PIPE, text=True)
        process.stdout.readline()
        push, sub = context.socket(zmq.PUSH), context.socket(zmq.SUB)
        for sock in (push, sub):
            sock.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"coef/bench/")
        sub.connect(publish)
        push.connect(ingest)
        time.sleep(0.3)
        floor = probe_latency(push, sub, frames, count, pause)
        process.kill()
        process.wait()
        push.close()
        sub.close()
        with BenchDaemon(args.hebbd, '[publish]\nformat = "json"\n' + model_table(d, s, n), daemon_toml=args.daemon_toml) as daemon:
            push = daemon.push()
            sub = daemon.context.socket(zmq.SUB)
            sub.setsockopt(zmq.LINGER, 0)
            sub.setsockopt(zmq.SUBSCRIBE, b"coef/bench/")
            sub.connect(daemon.publish)
            time.sleep(0.3)
            while sub.poll(200):  # the last-value resend of the initial state
                sub.recv_multipart()
            ours = probe_latency(push, sub, frames, count, pause)
            sub.close()
            push.close()
        context.destroy(linger=0)

        def pct(values, p):
            v = sorted(values)
            return v[min(len(v) - 1, int(len(v) * p))] * 1e6

        for label, p in (("p50", 0.5), ("p99", 0.99), ("max", 1.0)):
            value, base = pct(ours, p), pct(floor, p)
            target = f"≤ {target_ms:g} ms" if (target_ms is not None and label == "p99") else "—"
            met = (value <= target_ms * 1000) if target != "—" else None
            report("latency", f"{d}×{s} batch {n} {label} (JSON publish)", f"{value:.0f} µs", f"null sink {base:.0f} µs",
                   f"{value / base:.1f}×", target, met)


# MARK: checkpoint stall

def checkpoint(args, work):
    print("checkpoint: the engine thread's longest pause while a busy 4096×64 model is checkpointed (ms)", flush=True)
    # In-process first: the engine path of `hebbd bench` with a checkpoint (snapshot, handed to the real background
    # writer, written and synced) every 10 updates, against the same run without; the longest update+snapshot.
    common = [args.hebbd, "bench", "--json", "--path", "engine", "--publish", "binary", "--dict-dim", "4096", "--sys-dim", "64",
              "--batch", "16", "--updates", "300" if args.quick else "1000"]
    try:
        pauses, baselines = [], []
        for _ in range(args.repeat):
            baselines.append(run_json(common + ["--checkpoint-every", "0"])["max_us"] / 1000)
            pauses.append(run_json(common + ["--checkpoint-every", "10"])["max_us"] / 1000)
        stall = statistics.median(pauses) - statistics.median(baselines)
        report("checkpoint", "4096×64 batch 16 in-process: longest update", f"{spread(pauses, '{:.2f}')} ms",
               f"no checkpoint {spread(baselines, '{:.2f}')} ms", f"+{stall:.2f} ms", "≤ 5 ms", stall <= 5)
    except subprocess.CalledProcessError:
        print("  in-process: skipped (this hebbd bench has no --checkpoint-every)", flush=True)
    # Then the whole system: gaps between coefficient messages seen by a subscriber (noisy on a shared 2-core box).
    d, s, n = 4096, 64, 16
    seconds = 2.0 if args.quick else 5.0
    rng = np.random.default_rng(9)
    frames = [b"bench", json.dumps({"dtype": "<f4", "rows": n}).encode(),
              rng.standard_normal((n, d), dtype=np.float32).tobytes(), rng.standard_normal((n, s), dtype=np.float32).tobytes()]
    with BenchDaemon(args.hebbd, '[publish]\nformat = "binary"\n' + model_table(d, s, n), daemon_toml=args.daemon_toml) as daemon:
        stop = threading.Event()

        def produce():
            push = daemon.push(hwm=50)
            while not stop.is_set():
                try:
                    push.send_multipart(frames, flags=zmq.NOBLOCK)
                except zmq.Again:
                    time.sleep(0.0005)
            push.close()

        sub = daemon.context.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.RCVHWM, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"coef/bench/")
        sub.connect(daemon.publish)
        time.sleep(0.3)
        producer = threading.Thread(target=produce, daemon=True)
        producer.start()
        arrivals = []
        phase_marks = []
        checkpoints = 0

        def receive_for(duration):
            end = time.monotonic() + duration
            while time.monotonic() < end:
                if sub.poll(100):
                    sub.recv_multipart()
                    arrivals.append(time.monotonic())

        receive_for(1.0)  # warm up
        phase_marks.append(time.monotonic())
        receive_for(seconds)  # baseline: no checkpoint
        phase_marks.append(time.monotonic())
        control = daemon.context.socket(zmq.REQ)
        control.setsockopt(zmq.LINGER, 0)
        control.connect(daemon.control)
        end = time.monotonic() + seconds
        waiting = False
        while time.monotonic() < end:
            if not waiting:
                control.send(json.dumps({"cmd": "checkpoint"}).encode())
                waiting = True
            if sub.poll(5):
                sub.recv_multipart()
                arrivals.append(time.monotonic())
            if waiting and control.poll(0):
                control.recv()
                checkpoints += 1
                waiting = False
        phase_marks.append(time.monotonic())
        stop.set()
        producer.join()
        control.close()
        sub.close()

    def longest_gap(start, end):
        times = [t for t in arrivals if start <= t <= end]
        return max((b - a for a, b in zip(times, times[1:])), default=float("nan")) * 1000, len(times)

    base, base_count = longest_gap(phase_marks[0], phase_marks[1])
    during, count = longest_gap(phase_marks[1], phase_marks[2])
    stall = max(0.0, during - base)
    report("checkpoint", f"4096×64 batch {n} e2e: {checkpoints} checkpoints, {count} updates",
           f"max gap {during:.1f} ms", f"no checkpoint {base:.1f} ms", f"+{stall:.1f} ms", "≤ 5 ms", stall <= 5)


# MARK: memory

def memory(args, work):
    print("memory: resident set (MiB)", flush=True)
    small = model_table(16, 1, 32)

    def settle(daemon, model, rows_sent):
        deadline = time.monotonic() + 120
        while True:
            m = daemon.request({"cmd": "status"})["models"][model]
            if m["samples"] + m["buffered"] >= rows_sent or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        time.sleep(0.3)
        return daemon.rss_mib()

    def feed_messages(daemon, model, d, s, n, count):
        """Sends `count` messages, each once the one before it is learnt: the resident set then holds the models and
        the buffers of one message in flight, not a queue (a queue of 17 MB messages is the producer's doing)."""
        rng = np.random.default_rng(11)
        frames = [model.encode(), json.dumps({"dtype": "<f4", "rows": n}).encode(),
                  rng.standard_normal((n, d), dtype=np.float32).tobytes(), rng.standard_normal((n, s), dtype=np.float32).tobytes()]
        push = daemon.push()
        start = daemon.request({"cmd": "status"})["models"][model]
        taken = start["samples"] + start["buffered"]
        for i in range(count):
            push.send_multipart(frames)
            deadline = time.monotonic() + 60
            while n * d > 100_000 and taken + (i + 1) * n > sum(daemon.request({"cmd": "status"})["models"][model][k]
                                                                 for k in ("samples", "buffered")):
                if time.monotonic() > deadline:
                    raise SystemExit("memory: a message was not learnt within 60 s")
                time.sleep(0.002)
        push.close(linger=-1)
        return taken + n * count

    with BenchDaemon(args.hebbd, small.replace('"bench"', '"base"'), daemon_toml=args.daemon_toml) as daemon:
        base = settle(daemon, "base", feed_messages(daemon, "base", 16, 1, 32, 20))
    d, s, n = 4096, 64, 1024
    expected = (4 * d * s + n * (d + s)) * 4 / 2**20
    with BenchDaemon(args.hebbd, small.replace('"bench"', '"base"') + model_table(d, s, n), daemon_toml=args.daemon_toml) as daemon:
        feed_messages(daemon, "base", 16, 1, 32, 20)
        big = settle(daemon, "bench", feed_messages(daemon, "bench", d, s, n, 20))
    report("memory", f"one {d}×{s} batch {n} model (after 20 updates)", f"+{big - base:.1f} MiB",
           f"4W+batch {expected:.1f} MiB", f"{(big - base) / expected:.2f}×", "≈ 1×", (big - base) / expected <= 1.5)
    models = "".join(model_table(64, 1, 64, name=f"m{i}") for i in range(100))
    expected_small = (4 * 64 + 64 * 65) * 4 / 2**20
    with BenchDaemon(args.hebbd, small.replace('"bench"', '"base"') + models, daemon_toml=args.daemon_toml) as daemon:
        feed_messages(daemon, "base", 16, 1, 32, 20)
        for i in range(100):
            feed_messages(daemon, f"m{i}", 64, 1, 64, 3)
        many = settle(daemon, "m99", 3 * 64)
    per_model = (many - base) / 100
    report("memory", "100 models 64×1 batch 64: per model", f"+{per_model * 1024:.0f} KiB",
           f"4W+batch {expected_small * 1024:.0f} KiB", f"{per_model / expected_small:.1f}×", "—", None)
    sustained(args, work, base)


def sustained(args, work, base):
    minutes = args.minutes
    d, s, n = 4096, 64, 1024
    path, rows, _ = data_file(work, d, s, n, 8 * n)
    print(f"memory: sustained {minutes:g} min, {d}×{s} batch {n} fed continuously, JSON publish to a subscriber", flush=True)
    with BenchDaemon(args.hebbd, '[publish]\nformat = "json"\n' + model_table(d, s, n), daemon_toml=args.daemon_toml) as daemon:
        sub = daemon.context.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"coef/")
        sub.connect(daemon.publish)
        stop = threading.Event()

        def drain():
            while not stop.is_set():
                if sub.poll(100):
                    sub.recv_multipart()

        drainer = threading.Thread(target=drain, daemon=True)
        drainer.start()
        # Paced below what the daemon sustains (~20+ updates/s here): an unpaced producer of 17 MB messages fills
        # the ingest queue (publish.hwm messages) and the resident set measures that queue, not the daemon.
        feed = subprocess.Popen(feed_command(args, daemon.ingest, path, d, s, n, 1_000_000) + ["--rate", str(args.sustained_rate)],
                                stdout=subprocess.DEVNULL)
        start = time.monotonic()
        total = minutes * 60
        interval = max(1.0, total / 20)
        samples = []
        while time.monotonic() - start < total:
            time.sleep(interval)
            status = daemon.request({"cmd": "status"})
            samples.append((time.monotonic() - start, daemon.rss_mib(), status["updates"]))
            print(f"    t={samples[-1][0]:6.0f} s  rss {samples[-1][1]:7.1f} MiB  updates {samples[-1][2]}", flush=True)
        feed.kill()
        feed.wait()
        stop.set()
        drainer.join()
        sub.close()
    warm = samples[max(0, len(samples) // 5 - 1)][1]
    peak_after = max(r for _, r, _ in samples[len(samples) // 5:])
    growth = peak_after / warm - 1
    report("memory", f"sustained {minutes:g} min: RSS after warm-up → peak", f"{warm:.1f} → {peak_after:.1f} MiB",
           f"idle daemon {base:.1f} MiB", f"+{growth * 100:.1f}%", "≤ 5%", growth <= 0.05)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hebbd", default=os.path.join(ROOT, ".build/release/hebbd"))
    parser.add_argument("--quick", action="store_true", help="shorter runs, one repetition")
    parser.add_argument("--repeat", type=int, help="repetitions per figure (default 3, 1 with --quick)")
    parser.add_argument("--only", default="core,e2e,latency,checkpoint,memory")
    parser.add_argument("--minutes", type=float, help="sustained memory run (default 1, 0.5 with --quick; the issue asks for 10)")
    parser.add_argument("--daemon-toml", default="", help="extra [daemon] keys for every hebbd run, e.g. 'blas_threads = 2'")
    parser.add_argument("--bench-arg", action="append", default=[], dest="bench_args",
                        help="extra argument for hebbd bench (repeatable), e.g. --bench-arg=--blas-threads=2")
    parser.add_argument("--sustained-rate", type=float, default=8, help="messages/s of the sustained memory run")
    parser.add_argument("--json", help="also write every row as JSON lines to this file")
    args = parser.parse_args()
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.minutes = args.minutes if args.minutes is not None else (0.5 if args.quick else 1.0)
    args.daemon_toml = args.daemon_toml.replace("\\n", "\n")
    if not os.access(args.hebbd, os.X_OK):
        sys.exit(f"{args.hebbd}: no hebbd binary (swift build -c release --product hebbd)")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"hebbd {args.hebbd}; {os.cpu_count()} cores, {cpu}; repeat {args.repeat}; "
          f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}", flush=True)
    sections = {"core": core, "e2e": e2e, "latency": latency, "checkpoint": checkpoint, "memory": memory}
    with tempfile.TemporaryDirectory(prefix="hebbd-run-all-") as work:
        for name in args.only.split(","):
            if name == "core":
                core(args)
            else:
                sections[name](args, work)
    met = [r for r in ROWS if r["met"] is not None]
    print(f"targets met: {sum(r['met'] for r in met)} of {len(met)}")
    if args.json:
        with open(args.json, "w") as f:
            for r in ROWS:
                f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
