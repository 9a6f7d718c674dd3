#!/usr/bin/env python3
"""Plot hebbd's coefficient paths and loss as a model learns: live in a matplotlib window, or headless into a
PNG after N updates.

Top: one line per coefficient that is nonzero in the latest update, against the update step (the largest
--label coefficients of at least 5 % of the largest coloured and named in the legend, the others thin and
grey). A model that publishes its uncertainty (kind = "bayesian", or uncertainty = true) also gets a shaded band
per named coefficient: its published interval (e.g. 95 %) at each step. Bottom: the published loss
(½Σe² of each batch, scored before the model learns from it) and the prequential MSE, log scale.

    python3 plot.py --model demo                                  # live window, until closed
    python3 plot.py --model demo --updates 400 --out demo.png     # headless: write a PNG after 400 updates

Needs matplotlib (`python3 -m pip install matplotlib`), besides the hebbd client (clients/python).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

_CLIENT = Path(__file__).resolve().parents[2] / "clients" / "python"
if (_CLIENT / "hebbd" / "__init__.py").is_file():
    sys.path.insert(0, str(_CLIENT))
from hebbd import HebbdTimeout, Subscriber  # noqa: E402


class History:
    """Every update of one model: steps, losses, prequential MSEs and coefficient vectors."""

    def __init__(self):
        self.steps, self.loss, self.mse, self.coef, self.restarts = [], [], [], [], []
        self.lower, self.upper = [], []             # the published interval per step (NaN where there is none)
        self.latest = None

    def add(self, u):
        if u.restarted:
            self.restarts.append(u.step)
        self.latest = u
        self.steps.append(u.step)
        self.loss.append(np.nan if u.loss is None else u.loss)
        self.mse.append(np.nan if u.prequential_mse is None else u.prequential_mse)
        self.coef.append(u.coefficients.ravel().copy())
        missing = np.full(u.coefficients.size, np.nan)
        self.lower.append(missing if u.interval is None else u.interval.lower.ravel().astype(float))
        self.upper.append(missing if u.interval is None else u.interval.upper.ravel().astype(float))


def draw(fig, h, label):
    """(Re)draws both panels from the history."""
    fig.clear()
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    u = h.latest
    steps = np.asarray(h.steps)
    paths = np.asarray(h.coef)                      # updates × (dict_dim · sys_dim)
    cols = u.coefficients.shape[1]
    nonzero = np.flatnonzero(u.coefficients.ravel())
    values = np.abs(u.coefficients.ravel())
    # Named: the largest --label ones that matter (≥ 5 % of the largest); the chatter around 0 stays grey.
    big = nonzero[values[nonzero] >= 0.05 * values.max()] if len(nonzero) else nonzero
    named = set(big[np.argsort(-values[big])][:label])
    for i in nonzero:
        name = f"w[{i // cols},{i % cols}]" if cols > 1 else f"w[{i // cols}]"
        if i in named:
            text = f"{name} = {u.coefficients.ravel()[i]:+.3f}"
            if u.std is not None:
                text += f" ± {u.std.ravel()[i]:.3f}"
            line, = top.plot(steps, paths[:, i], lw=1.8, label=text)
            lower, upper = np.asarray(h.lower)[:, i], np.asarray(h.upper)[:, i]
            if np.isfinite(lower).any():
                top.fill_between(steps, lower, upper, color=line.get_color(), alpha=0.18, lw=0)
        else:
            top.plot(steps, paths[:, i], lw=0.6, color="0.65")
    top.axhline(0, color="black", lw=0.5)
    for s in h.restarts:
        for ax in (top, bottom):
            ax.axvline(s, color="red", ls="--", lw=0.8)
    top.set_ylabel("coefficient")
    others = len(nonzero) - len(named)
    band = f", bands: {u.interval.level:.0%} intervals" if u.interval is not None else ""
    top.set_title(f"{u.model} ({u.kind}): step {u.step}, {u.samples} samples, nnz {u.nnz}{band}"
                  + (f"  —  grey: {others} smaller nonzero" if others else ""), fontsize=10)
    if named:
        top.legend(loc="center right", fontsize=8, frameon=True)
    bottom.semilogy(steps, h.loss, lw=0.8, label="loss ½Σe² per batch")
    bottom.semilogy(steps, h.mse, lw=1.5, label=f"prequential MSE (last {u.window} updates)")
    bottom.set_xlabel("update step")
    bottom.set_ylabel("loss / MSE")
    bottom.legend(loc="upper right", fontsize=8)
    bottom.grid(True, which="major", alpha=0.3)
    top.grid(True, alpha=0.3)
    fig.tight_layout()


def main():
    ap = argparse.ArgumentParser(description="Plot a hebbd model's coefficient paths and loss (live, or --out PNG).")
    ap.add_argument("--endpoint", default="tcp://127.0.0.1:5556", help="the daemon's publish endpoint (default %(default)s)")
    ap.add_argument("--model", default="demo", help="the model to plot (default %(default)s)")
    ap.add_argument("--updates", type=int, default=0, help="stop after this many updates, the initial state not counted (0: never)")
    ap.add_argument("--out", help="write a PNG here once --updates are in (or the stream goes quiet) instead of showing a window")
    ap.add_argument("--timeout", type=float, default=0, help="stop after this many seconds without an update (0: never)")
    ap.add_argument("--label", type=int, default=6, help="coefficients named in the legend, largest first, if ≥ 5%% of the largest (default %(default)s)")
    ap.add_argument("--refresh", type=float, default=0.5, help="seconds between redraws of the live window (default %(default)s)")
    args = ap.parse_args()
    if args.out and args.updates <= 0 and args.timeout <= 0:
        ap.error("--out needs --updates N or --timeout S (when to write the file)")

    import matplotlib
    if args.out:
        matplotlib.use("Agg")                       # headless: no display needed
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(9, 6.5), dpi=110)
    if not args.out:
        plt.ion()
        plt.show()
    history = History()
    sub = Subscriber(args.endpoint, args.model, events=False)
    learned = 0
    quiet_since = last_draw = time.monotonic()
    try:
        while args.updates == 0 or learned < args.updates:
            try:
                u = sub.recv(timeout=0.1)
            except HebbdTimeout:
                if args.timeout > 0 and time.monotonic() - quiet_since > args.timeout:
                    print(f"no update for {args.timeout:g} s; stopping", file=sys.stderr)
                    break
                if not args.out:
                    if not plt.fignum_exists(fig.number):
                        break                       # the window was closed
                    plt.pause(0.05)
                continue
            quiet_since = time.monotonic()
            if history.latest is None:                  # the daemon's resend of the latest state: subscribed
                print(f"subscribed to coef/{args.model}/ at {args.endpoint}: seq {u.seq}, step {u.step}", flush=True)
            history.add(u)
            if u.loss is not None:
                learned += 1
            if not args.out and time.monotonic() - last_draw > args.refresh:
                draw(fig, history, args.label)
                plt.pause(0.01)
                last_draw = time.monotonic()
    except KeyboardInterrupt:
        pass
    finally:
        sub.close()
    if history.latest is None:
        sys.exit("plot.py: no update received")
    draw(fig, history, args.label)
    if args.out:
        fig.savefig(args.out)
        print(f"wrote {args.out}: {len(history.steps)} messages of {args.model}, up to step {history.latest.step}, "
              f"nnz {history.latest.nnz}")
    else:
        plt.ioff()
        plt.show()


if __name__ == "__main__":
    main()
