"""How well a latency lookup table predicts whole networks, on this machine.

Runs ``cnas latency-table`` for two spaces, one after the other, on an otherwise idle
machine (nothing else running: every timing includes what else the cores do):

- ``demo``: the space `make demo` searches (small-input skeleton at width and depth
  0.5, 16 px, digits' 1 channel and 10 classes);
- ``wide32``: the full-width small-input skeleton at 32 px (digits upsampled): 4x the
  pixels and ~8x the FLOPs of the demo's networks.

Each table is calibrated on 10 networks drawn from its space and validated on 30 others
(``--calibrate 10 --validate 30``), one torch thread, batch 1, 30 timed calls a part.
Reported per runtime (PyTorch eager, onnxruntime): MAPE of the plain sum of parts and
of the calibrated line, the re-measurement noise of the whole networks, and Kendall's tau
of the prediction against the measured latency, next to FLOPs' tau. Written to
``benchmarks/results/latency_table_<space>.json`` (the tables beside it, without their
entries' thousands of lines, are in ``runs/latency-bench/``).

    .venv/bin/python benchmarks/latency_table.py [demo wide32]
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import time
from pathlib import Path

from _machine import machine

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
SPACES = {
    "demo": [
        "--data",
        "digits",
        "--resolution",
        "16",
        "--width-mult",
        "0.5",
        "--depth-mult",
        "0.5",
    ],
    "wide32": ["--data", "digits", "--resolution", "32"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spaces", nargs="*", help=f"some of {', '.join(SPACES)} (default all)")
    parser.add_argument("--out", default=str(ROOT / "runs" / "latency-bench"))
    args = parser.parse_args()
    unknown = sorted(set(args.spaces) - set(SPACES))
    if unknown:
        parser.error(f"unknown space(s) {', '.join(unknown)}; choose from {', '.join(SPACES)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.spaces or list(SPACES):
        table = out / f"{name}.json"
        command = [
            sys.executable, "-m", "experiments.cli", "latency-table", *SPACES[name],
            "--calibrate", "10", "--validate", "30", "--out", str(table), "--no-progress",
        ]  # fmt: skip
        print("$ cnas " + " ".join(command[3:]), flush=True)
        started = time.perf_counter()
        subprocess.run(command, check=True, cwd=ROOT)
        seconds = time.perf_counter() - started
        document = json.loads(table.read_text())
        result = {
            "space": name,
            "command": "cnas " + " ".join(command[3:]),
            "machine": machine(),
            "date": datetime.date.today().isoformat(),
            "seconds": round(seconds, 1),
            "parts": len(document["entries"]),
            "parts_seconds": document["measured"]["seconds"],
            "overhead_ms": document["overhead_ms"],
            "calibration": document["calibration"],
            "validation": {
                key: value for key, value in document["validation"].items() if key != "rows"
            },
            "rows": document["validation"]["rows"],
        }
        path = RESULTS / f"latency_table_{name}.json"
        path.write_text(json.dumps(result, indent=1) + "\n")
        print(f"-> {path} ({seconds:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
