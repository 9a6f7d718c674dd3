"""The operator's view: Configs/prometheus/hebbd-rules.yml and Configs/grafana/hebbd.json against the metrics a
real daemon exports, checked with Debian's promtool and a real Prometheus server scraping a real hebbd."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Dict, List, Set

import numpy as np
import zmq

from hebbd import Control, Producer, Subscriber
from hebbd.testing import LocalDaemon, free_port

REPO = Path(__file__).resolve().parents[3]
RULES = REPO / "Configs" / "prometheus" / "hebbd-rules.yml"
RULES_TEST = REPO / "Configs" / "prometheus" / "hebbd-rules.test.yml"
DASHBOARD = REPO / "Configs" / "grafana" / "hebbd.json"
METRIC = re.compile(r"\bhebbd_[a-z_]+\b")


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed (Debian's prometheus package; scripts/setup.sh --test installs it)"
    return path


def busy_daemon(d: LocalDaemon) -> str:
    """Drives every metric family (updates, a rejection, a checkpoint, a subscriber) and returns a scrape
    taken after the per-model gauges were refreshed."""
    with Subscriber(d.publish, "demo") as sub, Producer(d.ingest) as p:
        sub.recv(timeout=10)
        rng = np.random.default_rng(0)
        for _ in range(4):
            x = rng.standard_normal((50, 20))
            p.send("demo", x, x[:, 2])
        raw = zmq.Context.instance().socket(zmq.PUSH)       # a rejection (bad_json), on purpose
        raw.connect(d.ingest)
        raw.send_multipart([b"demo", b"{not json"])
        raw.close(5000)
        sub.wait_until(lambda u: u.seq == 4, 10)
        Control(d.control).checkpoint()
        time.sleep(1.3)                                      # the per-model gauges refresh once a second
        return d.scrape()


def exported_names(exposition: str) -> Set[str]:
    """Family names (# TYPE) and sample names (with _bucket/_sum/_count) of an exposition."""
    names = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, 1)[0])
    return names


def dashboard_queries() -> List[str]:
    board = json.loads(DASHBOARD.read_text())
    queries = []
    for panel in board["panels"]:
        queries += [t["expr"] for t in panel.get("targets", [])]
    for var in board["templating"]["list"]:
        if var["type"] == "query":
            queries.append(var["definition"])
    return queries


def test_rules_pass_promtool_check_and_their_unit_tests() -> None:
    check = subprocess.run([tool("promtool"), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 6 rules found" in check.stdout
    unit = subprocess.run([tool("promtool"), "test", "rules", str(RULES_TEST)], capture_output=True, text=True,
                          timeout=60, cwd=RULES_TEST.parent)
    assert unit.returncode == 0 and "SUCCESS" in unit.stdout, unit.stdout + unit.stderr


def test_exposition_passes_promtool_check_metrics_and_names_cover_configs(daemon: LocalDaemon) -> None:
    exposition = busy_daemon(daemon)
    lint = subprocess.run([tool("promtool"), "check", "metrics"], input=exposition, capture_output=True, text=True, timeout=60)
    assert lint.returncode == 0 and lint.stdout + lint.stderr == "", lint.stdout + lint.stderr
    names = exported_names(exposition)
    assert 'hebbd_rejected_messages_total{reason="bad_json"} 1' in exposition
    assert 'hebbd_model_step{model="demo"} 4' in exposition.replace("4.0", "4")
    # Every metric the dashboard and the alert rules use is one the daemon exports.
    queries = dashboard_queries()
    used = {m for q in queries for m in METRIC.findall(q)}
    assert used - names == set(), f"dashboard uses metrics hebbd does not export: {sorted(used - names)}"
    assert {"hebbd_updates_total", "hebbd_samples_received_total", "hebbd_model_prequential_mse",
            "hebbd_model_nonzero_coefficients", "hebbd_rejected_messages_total", "hebbd_publish_subscriptions",
            "hebbd_model_last_checkpoint_timestamp_seconds", "hebbd_checkpoint_duration_seconds_bucket"} <= used
    rule_metrics = set(METRIC.findall(RULES.read_text()))
    assert rule_metrics - names == set(), f"rules use metrics hebbd does not export: {sorted(rule_metrics - names)}"


def test_dashboard_is_valid_grafana_json() -> None:
    board = json.loads(DASHBOARD.read_text())
    assert board["title"] == "hebbd" and board["uid"] == "hebbd" and isinstance(board["schemaVersion"], int)
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    titles = {p["title"] for p in board["panels"]}
    for wanted in ("Update rate", "Ingest", "Prequential MSE", "Nonzero coefficients", "Rejections by reason",
                   "Checkpoint age", "Checkpoint duration", "Subscribers"):
        assert wanted in titles
    for p in board["panels"]:
        if p["type"] != "row":
            assert p["targets"] and all(t["expr"] and t["datasource"]["uid"] == "${datasource}" for t in p["targets"]), p["title"]
            g = p["gridPos"]
            assert 0 <= g["x"] and g["x"] + g["w"] <= 24, p["title"]


def query(base: str, expr: str) -> Dict:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:               # 400: the expression does not parse
        return json.load(e)


def test_a_real_prometheus_runs_the_dashboard_queries_and_loads_the_rules(daemon: LocalDaemon, tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "prometheus.yml").write_text(f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: ["{RULES}"]
scrape_configs:
  - job_name: hebbd
    static_configs: [{{targets: ["{daemon.metrics}"]}}]
""")
    log = open(tmp_path / "prometheus.log", "wb")
    server = subprocess.Popen([tool("prometheus"), f"--config.file={tmp_path / 'prometheus.yml'}",
                               f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                              stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        busy_daemon(daemon)
        deadline = time.monotonic() + 30
        while True:                                    # until two scrapes with the model gauges are in
            r = query(base, 'count_over_time(hebbd_model_step{job="hebbd"}[1m])') if server.poll() is None else None
            if r and r.get("status") == "success" and r["data"]["result"] and float(r["data"]["result"][0]["value"][1]) >= 2:
                break
            assert server.poll() is None, (tmp_path / "prometheus.log").read_text()[-3000:]
            assert time.monotonic() < deadline, f"Prometheus did not scrape hebbd: {r}"
            time.sleep(0.3)
        assert query(base, 'up{job="hebbd"}')["data"]["result"][0]["value"][1] == "1"
        empty = []
        for q in dashboard_queries():
            if q.startswith("label_values("):
                continue                               # Grafana's templating function, not PromQL
            expr = q.replace("$__rate_interval", "10s").replace("$instance", ".*").replace("$model", ".*")
            r = query(base, expr)
            assert r["status"] == "success", f"{q}: {r.get('error')}"
            if not r["data"]["result"]:
                empty.append(q)
        assert empty == [], f"queries without data from a busy daemon: {empty}"
        with urllib.request.urlopen(f"{base}/api/v1/rules", timeout=10) as r:
            groups = json.load(r)["data"]["groups"]
        rules = {rule["name"]: rule for g in groups for rule in g["rules"]}
        assert set(rules) == {"HebbdDown", "HebbdNoUpdatesWhileSamplesArrive", "HebbdCheckpointStale",
                              "HebbdCheckpointFailures", "HebbdRejectingMessages", "HebbdModelDiverged"}
        deadline = time.monotonic() + 10
        while any(rule.get("health") != "ok" for rule in rules.values()) and time.monotonic() < deadline:
            time.sleep(0.5)
            with urllib.request.urlopen(f"{base}/api/v1/rules", timeout=10) as r:
                rules = {rule["name"]: rule for g in json.load(r)["data"]["groups"] for rule in g["rules"]}
        assert all(rule["health"] == "ok" for rule in rules.values()), {n: r.get("lastError") for n, r in rules.items()}
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
        log.close()
