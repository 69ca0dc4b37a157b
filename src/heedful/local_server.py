"""One embedded database, many clients: the CLI runs its commands through a `heedful serve` that holds the file.

DuckDB lets one process open a database file. While `heedful serve` holds `heedful.duckdb`, the
server writes an *address file* beside it (`heedful.duckdb.server.json`: its process id, local
address and a random token, readable only by the file's owner). A CLI command that finds the file
locked reads the address file and sends its arguments to the server (`POST /local/cli`, the token
as bearer, loopback only); the server runs the same command in its own process over its own
connection and streams the command's output back line by line, then its exit code. So
`heedful customer show 42`, `heedful report`, `heedful db backup` or `heedful privacy erase 42`
work while the dashboard is up, with the same output as without it.

A leaf like `errors.py`: standard library only, so `cli/` and `web/` may both import it (they never
import each other). The server learns how to run a command through `register_runner`, which the CLI
calls before it starts the server.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

SUFFIX = ".server.json"
ROUTE = "/local/cli"

#: (argv, store, stdout, stderr) -> exit code: runs one CLI command in the serving process
Runner = Callable[[list[str], Any, Any, Any], int]
_runner: Runner | None = None


def register_runner(runner: Runner) -> None:
    """Called by the CLI before it serves: how the server runs a forwarded command."""
    global _runner
    _runner = runner


def runner() -> Runner | None:
    return _runner


def address_file(db_path: str | Path) -> Path:
    """`heedful.duckdb` -> `heedful.duckdb.server.json` (absolute)."""
    path = Path(db_path).expanduser().resolve()
    return path.with_name(path.name + SUFFIX)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def write_address(db_path: str | Path, url: str, token: str) -> Path:
    """Write the address file, readable and writable by its owner only (0600), replacing a stale one."""
    target = address_file(db_path)
    tmp = target.with_name(target.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"pid": os.getpid(), "url": url, "token": token}, fh)
    os.replace(tmp, target)
    return target


def remove_address(db_path: str | Path, token: str) -> None:
    """Remove the address file if it is still this server's (a newer server may have replaced it)."""
    target = address_file(db_path)
    try:
        if json.loads(target.read_text(encoding="utf-8")).get("token") == token:
            target.unlink()
    except (OSError, ValueError):
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: not a server we may talk to
        return False
    return True


def read_address(db_path: str | Path) -> dict[str, Any] | None:
    """The running server's address for this database, or None (no file, a dead server, or a file that
    others could read or write: its token would not be a secret)."""
    target = address_file(db_path)
    try:
        info = target.stat()
        data = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if info.st_uid != os.getuid() or info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        return None
    if not isinstance(data, dict) or not {"pid", "url", "token"} <= set(data):
        return None
    if not _alive(int(data["pid"])):
        return None
    return data


def forward(address: dict[str, Any], argv: list[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run `argv` through the server at `address`, copying its output as it comes; its exit code.

    The reply is JSON lines: {"out": text} / {"err": text} as the command writes them, then {"exit": n}.
    """
    import http.client
    from urllib.parse import urlsplit

    out, err = out or sys.stdout, err or sys.stderr
    where = urlsplit(str(address["url"]))
    connection = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port or 80, timeout=3600)
    body = json.dumps({"argv": argv}).encode()
    headers = {"Authorization": f"Bearer {address['token']}", "Content-Type": "application/json"}
    try:
        connection.request("POST", ROUTE, body=body, headers=headers)
        response = connection.getresponse()
        if response.status != 200:
            err.write(f"The running heedful server refused the command (HTTP {response.status}).\n")
            return 2
        code = 1
        for line in _lines(response):
            message = json.loads(line)
            if "out" in message:
                out.write(message["out"])
                out.flush()
            elif "err" in message:
                err.write(message["err"])
                err.flush()
            elif "exit" in message:
                code = int(message["exit"])
        return code
    except OSError as exc:
        err.write(f"Could not reach the heedful server at {address['url']} ({exc}).\n")
        return 2
    finally:
        connection.close()


def _lines(response: Any) -> Iterator[bytes]:
    while True:
        line = response.readline()
        if not line:
            return
        if line.strip():
            yield line


def absolute_paths(argv: list[str], cwd: str | Path) -> list[str]:
    """`argv` with arguments that name files relative to `cwd` made absolute (the server's working
    folder is not the caller's): existing paths, and the value of an output option (`--out x.csv`)."""
    base = Path(cwd)
    out: list[str] = []
    takes_path = False
    for arg in argv:
        if arg.startswith("-"):
            name, eq, value = arg.partition("=")
            if eq and value and _path_option(name):
                arg = f"{name}={_absolute(value, base, force=True)}"
            out.append(arg)
            takes_path = not eq and _path_option(name)
            continue
        out.append(_absolute(arg, base, force=takes_path))
        takes_path = False
    return out


def _path_option(name: str) -> bool:
    """Options whose value is a file to write (it need not exist yet); inputs are found by existing."""
    return name in {"--out", "--output", "--to"}


def _absolute(arg: str, base: Path, *, force: bool) -> str:
    if "://" in arg or not arg:
        return arg
    candidate = Path(arg).expanduser()
    if candidate.is_absolute():
        return arg
    resolved = base / candidate
    if (force and resolved.parent.is_dir()) or resolved.exists():
        return str(resolved)
    return arg
