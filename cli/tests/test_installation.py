"""An installation's signing secrets (made once, kept private, reused) and its private var files."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_cli import main as cli
from crm_cli.installation import (
    SECRET_FILES,
    SecretFileEmpty,
    installation_secrets,
    keep_new_files_private,
    prepare_var_dir,
)
from crm_shared.settings import PUBLISHED_SECRETS


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secrets_are_made_once_per_installation_private_and_reused(tmp_path: Path):
    var = tmp_path / "var"
    first = installation_secrets(var)
    assert set(first) == set(SECRET_FILES) == {"internal_token_secret", "jwt_secret"}
    assert len(set(first.values())) == 2
    assert all(len(value) >= 32 and value not in PUBLISHED_SECRETS for value in first.values())
    assert mode(var) == 0o700
    for name, filename in SECRET_FILES.items():
        assert mode(var / filename) == 0o600
        assert (var / filename).read_text().strip() == first[name]
    assert installation_secrets(var) == first  # the next run of the same installation
    assert installation_secrets(tmp_path / "other") != first  # another installation
    assert sorted(p.name for p in var.iterdir()) == sorted(SECRET_FILES.values())  # no drafts left behind


def test_two_commands_starting_at_once_agree_on_the_secrets(tmp_path: Path):
    var = tmp_path / "var"
    results: list[dict[str, str]] = []
    threads = [threading.Thread(target=lambda: results.append(installation_secrets(var))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and all(result == results[0] for result in results)


def test_an_empty_secret_file_is_refused_with_what_to_do(tmp_path: Path):
    var = tmp_path / "var"
    var.mkdir()
    (var / SECRET_FILES["jwt_secret"]).write_text("\n")
    with pytest.raises(SecretFileEmpty, match="delete it"):
        installation_secrets(var)


def test_files_an_older_version_left_readable_are_made_private(tmp_path: Path):
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    for name in ("sales.db", "sales.db-wal", "internal-token.secret", "traces.jsonl", "broker.log", "notes.txt"):
        (var / name).write_text("x")
        (var / name).chmod(0o644)
    prepare_var_dir(var)
    assert {p.name: mode(p) for p in var.iterdir()} == {
        "sales.db": 0o600,
        "sales.db-wal": 0o600,
        "internal-token.secret": 0o600,
        "traces.jsonl": 0o600,
        "broker.log": 0o600,
        "notes.txt": 0o644,  # not ours: left as it is
    }
    assert mode(var) == 0o755  # a directory the user made keeps its mode (it may hold more than ours)


def test_files_made_after_keep_new_files_private_are_the_users_alone(tmp_path: Path):
    previous = os.umask(0o022)
    try:
        keep_new_files_private()
        (tmp_path / "made.db").write_text("x")
        (tmp_path / "made").mkdir()
        assert mode(tmp_path / "made.db") == 0o600 and mode(tmp_path / "made") == 0o700
    finally:
        os.umask(previous)


def test_serve_in_the_dev_profile_uses_the_installations_secrets(tmp_path: Path, monkeypatch):
    var = tmp_path / "var"
    executed = []
    monkeypatch.setattr(cli.os, "execve", lambda path, argv, env: executed.append((argv, env)))
    for name in ("CRM_SALES_INTERNAL_TOKEN_SECRET", "CRM_SALES_JWT_SECRET", "CRM_SALES_FORWARDED_ALLOW_IPS"):
        monkeypatch.delenv(name, raising=False)
    previous = os.umask(0o022)
    try:
        result = CliRunner().invoke(cli.app, ["serve", "sales", "--var-dir", str(var)])
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    secrets = installation_secrets(var)
    ((argv, env),) = executed
    assert env["CRM_SALES_INTERNAL_TOKEN_SECRET"] == secrets["internal_token_secret"]
    assert "CRM_SALES_INTERNAL_TOKEN_SECRET" not in os.environ  # given to the server, not kept here
    assert "--no-proxy-headers" in argv and "--proxy-headers" not in argv


def test_serve_in_production_takes_secrets_only_from_the_environment(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(cli.os, "execve", lambda path, argv, env: pytest.fail("must not start"))
    monkeypatch.setenv("CRM_SALES_PROFILE", "production")
    monkeypatch.setenv("CRM_SALES_DATABASE_URL", "postgresql+asyncpg://db/crm_sales")
    monkeypatch.delenv("CRM_SALES_INTERNAL_TOKEN_SECRET", raising=False)
    previous = os.umask(0o022)
    try:
        result = CliRunner().invoke(cli.app, ["serve", "sales", "--var-dir", str(tmp_path / "var")])
    finally:
        os.umask(previous)
    assert result.exit_code == 1
    assert "internal_token_secret must be set" in result.output
    assert not (tmp_path / "var").exists()
