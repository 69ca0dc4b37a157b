"""Benchmark: how long a user waits for `heedful` to start, against a minimal Typer app in the same run.

Whole processes, start-up included, each run `--repeat` times interleaved (so a busy moment hits both);
the median wall-clock seconds are reported with the ratio heedful / minimal Typer app:

    .venv/bin/python bench/bench_startup.py               # prints one JSON document
    .venv/bin/python bench/bench_startup.py --repeat 15

Cases: `heedful --help` (the root help lists every command without importing them), `heedful db
--help` (one command group's help) and `heedful db tables` on an empty DuckDB file (a trivial
command that opens the store: through `heedful.store.light` it imports `duckdb`, not Ibis or pandas).
The target (issue 19) is ≤ 2× the minimal Typer app's `--help`. `minimal_typer_command` (the same
minimal app running a command with an option) is reported for reference: Typer 0.29 coerces option
values through pydantic, which any Typer command pays and `--help` does not.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MINIMAL_APP = """
import typer

app = typer.Typer()


@app.command()
def hello(name: str = "world") -> None:
    print(name)


@app.command()
def other() -> None:
    pass


if __name__ == "__main__":
    app()
"""


def _time(cmd: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    # what a user types: the `heedful` console script beside this interpreter (`python -m` also pays runpy)
    script = Path(sys.executable).parent / "heedful"
    heedful = [str(script)] if script.is_file() else [sys.executable, "-m", "heedful.cli.main"]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "minimal.py").write_text(MINIMAL_APP)
        db = f"duckdb:///{work / 'bench.duckdb'}"
        subprocess.run([*heedful, "db", "migrate", "--db", db], check=True, capture_output=True)
        cases = {
            "minimal_typer_help": [sys.executable, str(work / "minimal.py"), "--help"],
            "minimal_typer_command": [sys.executable, str(work / "minimal.py"), "hello", "--name", "x"],
            "heedful_help": [*heedful, "--help"],
            "heedful_db_help": [*heedful, "db", "--help"],
            "heedful_db_tables": [*heedful, "db", "tables", "--db", db],
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.repeat):
            for name, cmd in cases.items():
                times[name].append(_time(cmd, work))
    median = {name: statistics.median(values) for name, values in times.items()}
    peer = median["minimal_typer_help"]
    report = {
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "repeat": args.repeat,
        "heedful_command": " ".join(heedful),
        "median_seconds": {k: round(v, 3) for k, v in median.items()},
        "ratio_to_minimal_typer_help": {k: round(v / peer, 2) for k, v in median.items() if k != "minimal_typer_help"},
        "target": "heedful --help and a trivial command within 2x the minimal Typer app's --help",
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
