"""The project's wheel installs from binary wheels alone where it is supported.

A Raspberry Pi (aarch64) or a small x86-64 server with Debian 12 has no
compiler to spare: every dependency must come as a wheel. pip resolves for a
foreign platform only with `--platform` tags given literally, so each tag a
glibc 2.36 accepts is passed. The package index is the real one (this reads
it, installs nothing).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ARCHES = ("x86_64", "aarch64")
PYTHONS = ("3.11", "3.12", "3.13")
GLIBC_MINOR = 36  # Debian 12 (bookworm), Raspberry Pi OS 12


def platform_tags(arch: str) -> list[str]:
    """Every manylinux tag a glibc 2.36 on `arch` accepts, as pip wants them."""
    tags = [f"manylinux2014_{arch}"]
    tags += [f"manylinux_2_{minor}_{arch}" for minor in range(17, GLIBC_MINOR + 1)]
    return tags


def resolve(wheel: Path, arch: str, python: str, target: Path) -> subprocess.CompletedProcess[str]:
    platforms = [arg for tag in platform_tags(arch) for arg in ("--platform", tag)]
    return subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--dry-run",
            "--only-binary=:all:", "--python-version", python, *platforms,
            "--target", str(target), str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def resolutions(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[tuple[str, str], subprocess.CompletedProcess[str]]]:
    """Build the wheel once, then resolve every (arch, Python) pair at once (network-bound)."""
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    [wheel] = dist.glob("gristops-*.whl")
    pairs = [(arch, py) for arch in ARCHES for py in PYTHONS]
    with ThreadPoolExecutor(len(pairs)) as pool:
        futures = {
            pair: pool.submit(resolve, wheel, *pair, tmp_path_factory.mktemp("target"))
            for pair in pairs
        }
        yield {pair: future.result() for pair, future in futures.items()}


def test_platform_tags_cover_manylinux2014_to_glibc_2_36() -> None:
    tags = platform_tags("aarch64")
    assert tags[0] == "manylinux2014_aarch64"
    assert tags[1] == "manylinux_2_17_aarch64"
    assert tags[-1] == "manylinux_2_36_aarch64"
    assert len(tags) == 21


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("python", PYTHONS)
def test_wheel_resolves_from_binary_wheels_alone(
    resolutions: dict[tuple[str, str], subprocess.CompletedProcess[str]], arch: str, python: str
) -> None:
    result = resolutions[(arch, python)]
    errors = [line for line in result.stderr.splitlines() if "is ignored" not in line]
    assert result.returncode == 0, "\n".join(errors[-15:])
