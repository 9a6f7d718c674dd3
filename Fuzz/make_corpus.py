#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets into Fuzz/Corpus/<target>/ (Fuzz/README.md).

    python3 Fuzz/make_corpus.py [--hebbd .build/debug/hebbd]

sample_decoder and control_request seeds use the targets' frame scheme (a 2-byte little-endian length before each
frame, FuzzSupport.swift); config_loader seeds are the repository's configs; checkpoint_reader's seed is a real
checkpoint written by `hebbd run` (with --hebbd: a daemon on a temporary directory and free loopback ports, fed
10 rows, asked for a checkpoint, stopped — through hebbd.testing.LocalDaemon, so --hebbd needs the client package:
`pip install ./clients/python`, as scripts/setup.sh --test does). Deterministic: the same files every time (but the checkpoint's time).
"""
import argparse
import json
import os
import shutil
import struct
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "Fuzz", "Corpus")


def frames(*parts):
    out = b""
    for p in parts:
        p = p if isinstance(p, bytes) else p.encode()
        out += struct.pack("<H", len(p)) + p
    return out


def f32(*values):
    return struct.pack(f"<{len(values)}f", *values)


def f64(*values):
    return struct.pack(f"<{len(values)}d", *values)


def write(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def sample_seeds():
    # The fuzz target's models: demo (3×1) and wide (4×2).
    s = "sample_decoder"
    write(s, "inline_one_row", frames("demo", '{"x": [[1.0, 2.0, 0.5]], "y": [[3.0]]}'))
    write(s, "inline_flat", frames("demo", '{"x": [1.0, 2.0, 0.5], "y": 3.0}'))
    write(s, "inline_rows_flat_y", frames("demo", '{"x": [[1,2,3],[4,5,6]], "y": [1, 2], "producer": "p", "seq": 7, "v": 1}'))
    write(s, "inline_wide", frames("wide", '{"x": [[1,2,3,4]], "y": [[1,-1]]}'))
    write(s, "binary_f32", frames("demo", '{"dtype": "float32", "rows": 1}', f32(1, 2, 0.5), f32(3)))
    write(s, "binary_f4_two_rows", frames("demo", '{"dtype": "<f4", "rows": 2, "seq": 0, "producer": "x"}',
                                          f32(1, 2, 3, 4, 5, 6), f32(1, 2)))
    write(s, "binary_f64", frames("demo", '{"dtype": "float64", "rows": 1}', f64(1, 2, 0.5), f64(3)))
    write(s, "binary_f8_wide", frames("wide", '{"dtype": "<f8", "rows": 2}', f64(*range(8)), f64(1, 2, 3, 4)))
    write(s, "binary_batch_demo", frames("demo", '{"dtype": "float32", "rows": 4}', f32(*[i / 7 for i in range(12)]),
                                         f32(1, 2, 3, 4)))
    write(s, "reject_nan", frames("demo", '{"dtype": "float32", "rows": 1}', f32(float("nan"), 2, 0.5), f32(3)))
    write(s, "reject_byte_size", frames("demo", '{"dtype": "float32", "rows": 2}', f32(1, 2, 0.5), f32(3)))
    write(s, "reject_unknown", frames("nope", '{"x": [1,2,3], "y": 1}'))
    write(s, "reject_deep", frames("demo", "[" * 80 + "]" * 80))
    write(s, "reject_three_frames", frames("demo", "{}", "x"))


def control_seeds():
    s = "control_request"
    single = {
        "status": {"cmd": "status"},
        "models": {"cmd": "models"},
        "snapshot": {"cmd": "snapshot", "model": "s"},
        "predict": {"cmd": "predict", "model": "m", "x": [[1, 2, 3], [0.5, 0, -1]]},
        "checkpoint": {"cmd": "checkpoint", "model": "m"},
        "reset": {"cmd": "reset", "model": "s", "keep_statistics": True},
        "set": {"cmd": "set", "model": "m", "lr": 0.05, "lmbda": 0.001, "threshold": 0.01, "epochs": 2, "l1_ratio": 0.3},
        "remove": {"cmd": "remove", "model": "m"},
        "add": {"cmd": "add", "model": {"name": "n", "kind": "elastic_net", "dict_dim": 3, "sys_dim": 2, "batch_size": 5,
                                         "optim": "adam", "lr": 0.01, "update": "proximal", "standardize": True,
                                         "prior": {"mean": 0.0, "std": 1.0, "weight": 0.01, "fit_hyper": True}}},
    }
    for name, request in single.items():
        write(s, name, frames(json.dumps(request)))
    write(s, "add_then_snapshot", frames(json.dumps(single["add"]), '{"cmd":"snapshot","model":"n"}',
                                         '{"cmd":"predict","model":"n","x":[1,2,3]}'))
    write(s, "remove_then_status", frames('{"cmd":"remove","model":"s"}', '{"cmd":"status"}'))
    write(s, "not_json", frames("{\"cmd\": \"status\""))


def config_seeds():
    s = "config_loader"
    for name in sorted(os.listdir(os.path.join(ROOT, "Configs"))):
        if name.endswith(".toml"):
            shutil.copy(os.path.join(ROOT, "Configs", name), os.path.join(CORPUS, s, name))
    shutil.copy(os.path.join(ROOT, "Examples", "data", "sparse20.toml"), os.path.join(CORPUS, s, "sparse20.toml"))


def checkpoint_seed(hebbd):
    from hebbd.testing import LocalDaemon  # only this part needs the client package (and pyzmq)

    model = """[[model]]
name = "seed"
kind = "elastic_net"
dict_dim = 3
sys_dim = 2
batch_size = 4
optim = "adam"
standardize = true
intercept = true
[model.prior]
mean = 0.0
std = 1.0
weight = 0.01
fit_hyper = true
"""
    with LocalDaemon(model, binary=hebbd, checkpoint_interval="0s", metrics=False, log_level="warning") as daemon:
        push = daemon.push()
        push.send_multipart([b"seed", b'{"dtype":"float32","rows":10}', f32(*[i / 10 for i in range(30)]),
                             f32(*[(i % 5) - 2 for i in range(20)])])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:   # 10 rows: 2 updates and 2 rows buffered
            m = daemon.request({"cmd": "status"}, check=True)["models"]["seed"]
            if m["step"] == 2 and m["buffered"] == 2:
                break
            time.sleep(0.05)
        written = daemon.request({"cmd": "checkpoint"}, check=True)["written"]["seed"]
        shutil.copy(written, os.path.join(CORPUS, "checkpoint_reader", "elastic_net_prior_standardized.hebb"))
        push.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hebbd", help="a built hebbd, to write the checkpoint seed with")
    args = parser.parse_args()
    for target in ("sample_decoder", "control_request", "config_loader", "checkpoint_reader"):
        os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    sample_seeds()
    control_seeds()
    config_seeds()
    if args.hebbd:
        checkpoint_seed(args.hebbd)
    print("make_corpus: wrote", sum(len(os.listdir(os.path.join(CORPUS, t))) for t in os.listdir(CORPUS)), "seeds")


if __name__ == "__main__":
    main()
