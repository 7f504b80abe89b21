import stat

import pytest

from stages.common.errors import StageError
from stages.sources.privacy import SALT_VARIABLE, author_hash, author_salt


def test_gone_accounts_have_no_hash_and_others_depend_on_the_salt():
    assert author_hash("[deleted]", "s") is None and author_hash(None, "s") is None
    assert author_hash("alice", "s") != author_hash("alice", "t")
    assert "alice" not in author_hash("alice", "s")


def test_the_environment_salt_wins(tmp_path, monkeypatch):
    monkeypatch.setenv(SALT_VARIABLE, "from-env")
    assert author_salt(tmp_path / "salt") == "from-env"
    assert not (tmp_path / "salt").exists()


def test_a_salt_is_drawn_once_kept_private_and_reused(tmp_path, monkeypatch):
    monkeypatch.delenv(SALT_VARIABLE, raising=False)
    path = tmp_path / ".ahf" / "author_salt"
    first = author_salt(path)
    assert len(first) == 32 and author_salt(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert author_salt(tmp_path / "other") != first


def test_an_emptied_salt_file_is_an_error_not_a_new_salt(tmp_path, monkeypatch):
    monkeypatch.delenv(SALT_VARIABLE, raising=False)
    (tmp_path / "salt").write_text("\n")
    with pytest.raises(StageError, match="is empty"):
        author_salt(tmp_path / "salt")
