"""`make lint`'s dependency audit: pip-audit over the virtual environment (heedful itself skipped).

Exit 1 when a dependency has a known vulnerability or pip-audit fails for any reason other than an
unreachable vulnerability service. When the service cannot be reached (no network, or a registry
mirror without PyPI's JSON API, so that no package could be looked up), it says so loudly — the
audit was NOT performed — and exits 0 so an offline `make lint` still checks everything else.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

NETWORK_SIGNS = (
    "ConnectionError",
    "Max retries exceeded",
    "Failed to establish",
    "Name or service not known",
    "Temporary failure in name resolution",
    "timed out",
    "Network is unreachable",
)


def main() -> int:
    pip_audit = Path(sys.executable).with_name("pip-audit")
    command = [str(pip_audit), "--skip-editable", "--progress-spinner", "off", "--format", "json"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    except FileNotFoundError:
        print("dep-audit: pip-audit is not installed; run `pip install -e '.[dev]'`.", file=sys.stderr)
        return 1
    except subprocess.TimeoutExpired:
        return _offline("pip-audit timed out reaching the vulnerability service")
    try:
        report = json.loads(done.stdout or "{}")
    except ValueError:
        report = {}
    deps = report.get("dependencies", [])
    if not deps:
        if any(sign in done.stderr for sign in NETWORK_SIGNS):
            return _offline(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no answer")
        print(done.stderr, file=sys.stderr)
        print(f"dep-audit: pip-audit failed (exit {done.returncode}).", file=sys.stderr)
        return 1
    vulnerable = [d for d in deps if d.get("vulns")]
    audited = [d for d in deps if "skip_reason" not in d]
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions", [])) or "no fix yet"
            print(f"dep-audit: {dep['name']} {dep.get('version')}: {vuln.get('id')} (fixed in: {fixes})")
    if vulnerable:
        print(f"dep-audit: {len(vulnerable)} vulnerable dependencies.", file=sys.stderr)
        return 1
    if not audited:
        return _offline(f"none of {len(deps)} dependencies could be looked up ({deps[0].get('skip_reason', '')})")
    print(
        f"dep-audit: {len(audited)} dependencies audited, no known vulnerabilities ({len(deps) - len(audited)} skipped)."
    )
    return 0


def _offline(why: str) -> int:
    print(
        "dep-audit: WARNING: the vulnerability service is unreachable, so the dependency audit was NOT performed: "
        f"{why}. Run `make lint` with network access to audit.",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
