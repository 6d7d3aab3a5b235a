"""Fixtures for the contract checks: where the contracts live, the buf CLI, and what the main
branch holds (tests that compare against main skip when there is no git history)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

CONTRACTS = Path(__file__).resolve().parents[1]

Git = Callable[..., subprocess.CompletedProcess]


def _git(*args: str, cwd: Path = CONTRACTS) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)


@pytest.fixture(scope="session")
def contracts_dir() -> Path:
    return CONTRACTS


@pytest.fixture(scope="session")
def git() -> Git:
    """``git(*args, cwd=...)`` → CompletedProcess (text, captured)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    return _git


@pytest.fixture(scope="session")
def buf() -> str:
    bundled = Path(sys.executable).parent / "buf"
    path = str(bundled) if bundled.exists() else shutil.which("buf")
    if not path:
        pytest.fail("the buf CLI is missing: install requirements-dev.txt (buf-bin)")
    return path


@pytest.fixture(scope="session")
def repo_root(git: Git) -> Path:
    top = git("rev-parse", "--show-toplevel")
    if top.returncode != 0:
        pytest.skip("contracts/ is not inside a git repository")
    return Path(top.stdout.strip())


@pytest.fixture(scope="session")
def main_branch(git: Git, repo_root: Path) -> str:
    if git("rev-parse", "--verify", "--quiet", "refs/heads/main^{commit}", cwd=repo_root).returncode != 0:
        pytest.skip("the repository has no main branch to compare against")
    return "main"


@pytest.fixture(scope="session")
def show_on_main(git: Git, repo_root: Path, main_branch: str) -> Callable[[Path], str | None]:
    """``show_on_main(path)``: the text of ``path`` (inside the repository) on main, or None."""

    def show(path: Path) -> str | None:
        relative = path.resolve().relative_to(repo_root).as_posix()
        shown = git("show", f"{main_branch}:{relative}", cwd=repo_root)
        return shown.stdout if shown.returncode == 0 else None

    return show


@pytest.fixture(scope="session")
def list_on_main(git: Git, repo_root: Path, main_branch: str) -> Callable[[Path], list[str]]:
    """``list_on_main(directory)``: names of the files in ``directory`` on main."""

    def list_files(directory: Path) -> list[str]:
        relative = directory.resolve().relative_to(repo_root).as_posix()
        listed = git("ls-tree", "--name-only", f"{main_branch}:{relative}", cwd=repo_root)
        return listed.stdout.split() if listed.returncode == 0 else []

    return list_files
