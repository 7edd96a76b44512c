"""``python -m tyst.coordinator.migrations upgrade URL [REVISION]`` / ``current URL``.

``URL`` may be ``env:NAME``: the URL is then read from the environment variable
``NAME`` (so a database password never appears on a command line or in ``ps``).

Exit status 0 on success, 2 on a usage error, 1 on any other error (one line on stderr).
"""

from __future__ import annotations

import os
import sys

from tyst.coordinator.migrations import current, upgrade

USAGE = "usage: python -m tyst.coordinator.migrations (upgrade URL [REVISION] | current URL)"


def main(argv: list[str]) -> int:
    """Run the command in ``argv`` (without the program name); return the exit status."""
    if len(argv) >= 2 and argv[0] == "upgrade" and len(argv) <= 3:
        action = "upgrade"
    elif len(argv) == 2 and argv[0] == "current":
        action = "current"
    else:
        print(USAGE, file=sys.stderr)
        return 2
    if argv[1].startswith("env:"):
        name = argv[1].removeprefix("env:")
        if not os.environ.get(name):
            print(f"error: the environment variable {name} is not set", file=sys.stderr)
            return 2
        argv = [argv[0], os.environ[name], *argv[2:]]
    try:
        if action == "upgrade":
            upgrade(argv[1], argv[2] if len(argv) == 3 else "head")
            print(f"database is at revision {current(argv[1])}")
        else:
            print(current(argv[1]) or "(empty: no revision)")
    except Exception as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"error: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
