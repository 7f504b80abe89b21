"""Usernames never leave the scrape in clear: a salted hash at most.

The salt of real usernames is never a param (params land in git and dvc.lock): it is
$AHF_AUTHOR_SALT, or one drawn once and kept in a git-ignored file. Usernames are few
enough to hash them all, so whoever has only the data must not have the salt; and it
must not change between scrapes, or an author's stories would stop matching.
"""

import hashlib
import os
import secrets
from pathlib import Path

from stages.common.atomic_io import atomic_write_text
from stages.common.errors import StageError

# Reddit's placeholders for accounts that no longer exist: nobody to pseudonymise.
GONE_AUTHORS = frozenset({"", "[deleted]", "[removed]"})
SALT_VARIABLE = "AHF_AUTHOR_SALT"
SALT_FILE = Path(".ahf/author_salt")


def author_hash(name: str | None, salt: str) -> str | None:
    if name is None or name in GONE_AUTHORS:
        return None
    return hashlib.sha256(f"{salt}\0{name}".encode()).hexdigest()[:16]


def author_salt(salt_file: Path = SALT_FILE) -> str:
    """$AHF_AUTHOR_SALT, else the salt kept in `salt_file`, drawn on first use."""
    if salt := os.environ.get(SALT_VARIABLE):
        return salt
    if salt_file.exists():
        if salt := salt_file.read_text().strip():
            return salt
        raise StageError(f"{salt_file} is empty: set {SALT_VARIABLE}, or delete the file to draw a new salt")
    salt = secrets.token_hex(16)
    atomic_write_text(salt_file, salt + "\n", mode=0o600)  # readable by its owner only
    return salt
