"""The gRPC contracts pass buf lint (STANDARD) and make no breaking change against main."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def run_buf(buf: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([buf, *args], cwd=cwd, capture_output=True, text=True)


def test_buf_lint_passes(buf, contracts_dir):
    result = run_buf(buf, "lint", cwd=contracts_dir)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_breaking_change_against_main(buf, contracts_dir, repo_root, main_branch, show_on_main):
    if show_on_main(contracts_dir / "buf.yaml") is None:
        pytest.skip("main has no contracts/buf.yaml yet")
    subdir = contracts_dir.relative_to(repo_root).as_posix()
    result = run_buf(
        buf, "breaking", "--against", f"{repo_root}/.git#branch={main_branch},subdir={subdir}", cwd=contracts_dir
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_breaking_check_catches_a_removed_field(buf, git, contracts_dir, tmp_path):
    """The configuration really detects breaks: a copy of the contracts on a scratch main
    branch, then a field removed in the working tree."""
    copy = tmp_path / "repo" / "contracts"
    shutil.copytree(contracts_dir / "proto", copy / "proto")
    shutil.copy(contracts_dir / "buf.yaml", copy / "buf.yaml")
    repo = copy.parent
    for args in (
        ("init", "-q", "-b", "main"),
        ("add", "."),
        ("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"),
    ):
        assert git(*args, cwd=repo).returncode == 0
    proto = copy / "proto" / "crm" / "sales" / "v1" / "customer_service.proto"
    text = proto.read_text()
    assert "  string email = 11;\n" in text
    proto.write_text(text.replace("  string email = 11;\n", ""))

    result = run_buf(buf, "breaking", "--against", f"{repo}/.git#branch=main,subdir=contracts", cwd=copy)
    assert result.returncode != 0
    assert "email" in result.stdout + result.stderr
