"""Run every benchmark in this folder (``make bench``); each writes its table under docs/benchmarks/.

Benchmarks report ratios measured within one run (the machines are shared and noisy); they are
not tests. Every ``bench_*.py`` here is found by name, so a new script is included without
editing this file. Usage: ``python benchmarks/run_all.py [--only NAME ...] [--list]``.
(``gpu_paper_sizes.sh``, for a CUDA machine, is not part of ``make bench``.)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    scripts = sorted(p for p in HERE.glob("bench_*.py"))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", help="benchmark names, e.g. metrics handmodel")
    parser.add_argument("--list", action="store_true", help="print the scripts and exit")
    args = parser.parse_args()
    if args.list:
        print("\n".join(s.name for s in scripts))
        return 0
    if args.only:
        wanted = {f"bench_{n.removeprefix('bench_')}.py" for n in args.only}
        scripts = [s for s in scripts if s.name in wanted]
    failed = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        start = time.monotonic()
        rc = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        print(f"== {script.name}: exit {rc}, {time.monotonic() - start:.0f} s", flush=True)
        if rc != 0:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
