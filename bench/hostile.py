"""Time and peak memory of every hostile case (tests/cases/hostile), each in its own process.

Run: python bench/hostile.py. Prints one row per case: exit code, wall seconds, peak RSS.
The target (issue: hostile input) is under 2 s and bounded memory for each case.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import MEASURE  # noqa: E402  (one way to time a command, shared)

sys.path.insert(0, str(ROOT))


CASES = ROOT / "tests" / "cases" / "hostile"
TARGET_SECONDS = 2.0


def spec_bytes(case: Path, description: dict[str, object]) -> bytes:
    parts = description.get("input")
    if not isinstance(parts, list):
        return (case / "spec.yaml").read_bytes()
    return b"".join(str(text).encode("latin-1") * int(times) for text, times in parts)


def run_case(case: Path) -> tuple[int, float, float]:
    description = json.loads((case / "case.json").read_text())
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch) / "project"
        (project / "spec").mkdir(parents=True)
        (project / "spec" / "llmgateway.yaml").write_bytes(spec_bytes(case, description))
        for link in description.get("links", {}):
            (project / link).parent.mkdir(parents=True, exist_ok=True)
            (project / link).symlink_to(Path(scratch))
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                MEASURE,
                sys.executable,
                "-m",
                "compiler",
                *description["command"],
            ],
            cwd=project,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        code, elapsed, peak = done.stdout.split()
        return int(code), float(elapsed), float(peak)


def main() -> int:
    print(f"{'case':<28} {'exit':>4} {'seconds':>8} {'peak MiB':>9}  target < {TARGET_SECONDS} s")
    worst = 0.0
    for case in sorted(p for p in CASES.iterdir() if p.is_dir()):
        code, elapsed, peak = run_case(case)
        worst = max(worst, elapsed)
        flag = "" if elapsed < TARGET_SECONDS else "  OVER"
        print(f"{case.name:<28} {code:>4} {elapsed:>8.2f} {peak:>9.1f}{flag}")
    print(f"slowest: {worst:.2f} s")
    return 0 if worst < TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
