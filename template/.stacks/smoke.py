"""make smoke: from the host, ask every endpoint the stack publishes whether it answers.

Each argument is service=PORT_VARIABLE:default/path; the port comes from .env (the default when .env lacks it).
Exits 1 if any endpoint does not answer 200, naming the commands that show why. Only the standard library.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path

TIMEOUT_SECONDS = 10


def read_env(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines()
             if "=" in line and not line.lstrip().startswith("#"))
    return {key.strip().removeprefix("export ").strip(): value.strip() for key, value in pairs}


def ask(url: str) -> str:
    """'200' or what went wrong."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            return str(response.status)
    except urllib.error.HTTPError as error:
        return str(error.code)
    except (urllib.error.URLError, OSError) as error:
        return str(getattr(error, "reason", error))


def main(endpoints: list[str]) -> int:
    if not endpoints:
        print("make smoke: the stack publishes no HTTP endpoint to the host; nothing to ask")
        return 0
    env = read_env(Path(".env"))
    failed = 0
    for endpoint in endpoints:
        service, _, rest = endpoint.partition("=")
        variable, _, rest = rest.partition(":")
        default, slash, path = rest.partition("/")
        url = f"http://127.0.0.1:{env.get(variable) or default}{slash}{path}"
        answer = ask(url)
        failed += answer != "200"
        print(f"{'ok' if answer == '200' else 'FAILED':7} {service:12} {url}  {answer}")
    if failed:
        print(f"make smoke: {failed} of {len(endpoints)} endpoints did not answer 200. Is the stack up? "
              "make ps shows each service's health, make logs what they say", file=sys.stderr)
        return 1
    print(f"make smoke: all {len(endpoints)} endpoints answer")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
