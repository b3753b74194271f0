"""Known vulnerabilities in a locked requirements file (pip-audit), or a clear word that the
advisory source could not be asked.

    python -m tools.audit requirements/dev.txt

pip-audit asks PyPI's JSON API about each pinned version. Where that API cannot be reached, or
does not know a version (a mirror that serves files but not the JSON API), pip-audit skips the
package and still prints "No known vulnerabilities found"; this wrapper counts what was really
audited and says what was not. Exit 1 when a vulnerability is found; 0 otherwise, including
when nothing could be audited (said on stderr), so an offline build does not fail for want of
the advisory source.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path


def audit(lock: Path) -> int:
    command = [sys.executable, "-m", "pip_audit", "--disable-pip", "--require-hashes", "-r",
               str(lock), "--format", "json", "--progress-spinner", "off"]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        tail = run.stderr.strip().splitlines()[-3:]
        print(f"audit not done: pip-audit could not ask its advisory source ({' / '.join(tail)})",
              file=sys.stderr)  # fmt: skip
        return 0
    packages = report.get("dependencies", [])
    audited = [p for p in packages if "skip_reason" not in p]
    skipped = [p["name"] for p in packages if "skip_reason" in p]
    if not audited:
        print(f"audit not done: the advisory source (PyPI's JSON API) answered for none of the "
              f"{len(packages)} locked packages", file=sys.stderr)  # fmt: skip
        return 0
    found = [(p["name"], p["version"], v) for p in audited for v in p.get("vulns", [])]
    for name, version, v in found:
        fixed = ", ".join(v.get("fix_versions", [])) or "no fixed version"
        print(f"{name} {version}: {v['id']} (fixed in {fixed})")
    print(f"{len(audited)} of {len(packages)} locked packages audited, "
          f"{len(found)} known vulnerabilities")  # fmt: skip
    if skipped:
        print(f"not audited (unknown to the advisory source): {', '.join(skipped)}",
              file=sys.stderr)  # fmt: skip
    return 1 if found else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("lock", type=Path, help="a hash-locked requirements file")
    return audit(ap.parse_args(argv).lock)


if __name__ == "__main__":
    raise SystemExit(main())
