"""Seconds a cold, full `cdk synth` of every environment takes (new output directory, assets bundled).

Run: `make bench` or `.venv/bin/python bench/synth_time.py [--runs N]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def synth_seconds() -> float:
    with tempfile.TemporaryDirectory() as outdir:
        env = {**os.environ, "CDK_DISABLE_CLI_TELEMETRY": "true"}
        start = time.perf_counter()
        subprocess.run(
            ["npx", "--no-install", "cdk", "synth", "--quiet", "--no-notices", "--output", outdir],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    timings = []
    for run in range(1, runs + 1):
        timings.append(synth_seconds())
        print(f"run {run}/{runs}: {timings[-1]:.1f} s", flush=True)
    print(f"cold full synth: median {statistics.median(timings):.1f} s, min {min(timings):.1f} s over {runs} runs")


if __name__ == "__main__":
    main()
