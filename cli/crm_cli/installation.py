"""What belongs to one installation (one var directory) beyond its databases: the secrets that
sign tokens, and keeping every file there private to the user who runs the suite.

The secrets are made once per installation and kept in ``<var>/<name>.secret`` (mode 0600), so a
second `crm up` of the same installation reuses them (a signed-in console stays signed in across
restarts) while no two installations, and nothing in the repository, share one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from crm_shared.settings import new_secret, private_directory

# Setting name -> its file in the var directory. Every process of `crm up` gets all of them
# (settings a process does not declare are ignored; its user can read the files anyway).
SECRET_FILES: Mapping[str, str] = {
    "internal_token_secret": "internal-token.secret",  # the caller identity the gateway forwards
    "jwt_secret": "access-token.secret",  # the users' access tokens (the gateway)
}
# Files `crm` and the processes it starts write in the var directory; any of them may hold personal
# data (the SQLite files and their journals IINs and phones, the traces request URLs).
PRIVATE_FILE_PATTERNS = ("*.db", "*.db-wal", "*.db-shm", "*.db-journal", "*.secret", "*.jsonl", "*.log")


def keep_new_files_private() -> None:
    """Files and directories made from now on by this process and the ones it starts are the
    user's alone (0600 / 0700): SQLite creates its files and journals from the umask."""
    os.umask(0o077)


def prepare_var_dir(var_dir: Path) -> Path:
    """The var directory, created 0700 when new; files an earlier version left readable to others
    are made 0600 (a directory the user chose keeps its mode: it may hold more than ours)."""
    private_directory(var_dir)
    for pattern in PRIVATE_FILE_PATTERNS:
        for path in var_dir.glob(pattern):
            if path.is_file() and not path.is_symlink() and path.stat().st_mode & 0o077:
                path.chmod(0o600)
    return var_dir


def installation_secrets(var_dir: Path) -> dict[str, str]:
    """Setting name -> value of every signing secret of this installation, made on first use."""
    prepare_var_dir(var_dir)
    return {name: _read_or_create(var_dir / filename) for name, filename in SECRET_FILES.items()}


def _read_or_create(path: Path) -> str:
    if not path.exists():
        # Written aside, then linked into place: the file never exists half-written, and of two
        # `crm` commands starting at once one links its secret and the other reads that one.
        descriptor, draft = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
        with os.fdopen(descriptor, "w") as file:
            file.write(new_secret() + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    value = path.read_text().strip()
    if not value:
        raise SecretFileEmpty(f"{path} is empty: delete it and a new secret is made (every user signs in again)")
    return value


class SecretFileEmpty(RuntimeError):
    pass
