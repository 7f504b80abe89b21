"""Usernames never leave the scrape in clear: a salted hash at most."""

import hashlib

# Reddit's placeholders for accounts that no longer exist: nobody to pseudonymise.
GONE_AUTHORS = frozenset({"", "[deleted]", "[removed]"})


def author_hash(name: str | None, salt: str) -> str | None:
    if name is None or name in GONE_AUTHORS:
        return None
    return hashlib.sha256(f"{salt}\0{name}".encode()).hexdigest()[:16]
