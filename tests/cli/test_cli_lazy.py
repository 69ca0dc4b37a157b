"""`heedful --help` starts fast: it lists every command without importing their modules (pandas, Ibis …)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from heedful.cli.main import COMMANDS, app, load_command


def test_the_root_help_imports_no_heavy_library() -> None:
    code = (
        "import sys; from heedful.cli.main import main; sys.argv = ['heedful', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('pandas', 'ibis', 'numpy', 'scipy', 'duckdb', 'sklearn') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "HEAVY []" in done.stderr, done.stderr[-2000:]
    for name in COMMANDS:
        assert name in done.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_listed_command_loads_and_its_listed_help_is_its_own(name: str) -> None:
    command = load_command(name)
    assert command.name == name
    own = " ".join((command.help or "").split())
    listed = " ".join(COMMANDS[name][2].split())
    assert own.startswith(listed.rstrip(".")[:60]), (own, listed)  # the root help must not drift from the command's


def test_a_group_runs_through_the_lazy_root() -> None:
    result = CliRunner().invoke(app, ["db", "--help"])
    assert result.exit_code == 0 and "migrate" in result.stdout and "tables" in result.stdout
