"""`python -m bench [--json]`: run the benchmarks, print ratios against their baselines and the targets."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from rich.console import Console
from rich.table import Table

from bench import persist


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    samples = persist.run()
    problems = persist.verdicts(samples)
    if args.json:
        print(json.dumps({"persist": [asdict(s) | {"time_ratio": s.time_ratio, "memory_ratio": s.memory_ratio}
                                      for s in samples], "problems": problems}, indent=2))
    else:
        table = Table(title="Streaming results into R2: backend generate vs bare streaming put (bench/persist.py)")
        for column in ("image", "baseline put", "generate", "time ratio", "baseline RSS growth",
                       "generate RSS growth", "memory ratio"):
            table.add_column(column, justify="right")
        for s in samples:
            table.add_row(f"{s.size_mib} MiB", f"{s.baseline_seconds:.2f} s", f"{s.subject_seconds:.2f} s",
                          f"{s.time_ratio:.2f}", f"{s.baseline_growth_mib:.0f} MiB", f"{s.subject_growth_mib:.0f} MiB",
                          f"{s.memory_ratio:.2f}")
        console = Console()
        console.print(table)
        console.print(f"targets (largest image): time ratio ≤ {persist.MAX_TIME_RATIO}, "
                      f"memory ratio ≤ {persist.MAX_MEMORY_RATIO}")
        console.print("\n".join(problems) if problems else "all targets met", style="red" if problems else "green")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
