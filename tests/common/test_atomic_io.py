from pathlib import Path

import pytest

from stages.common.atomic_io import atomic_output_dir, atomic_write_text, default_mode, recover_output_dir, retired_dir


def folder_with(path: Path, text: str) -> Path:
    path.mkdir(parents=True)
    (path / "file.txt").write_text(text)
    return path


def test_a_kill_between_the_two_renames_is_undone(tmp_path):
    raw = tmp_path / "raw"
    folder_with(retired_dir(raw), "previous")  # raw was retired, the new one never moved in
    folder_with(tmp_path / ".raw.k3j2x", "half written")
    recover_output_dir(raw)
    assert (raw / "file.txt").read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]


def test_a_kill_after_the_swap_keeps_the_new_folder(tmp_path):
    raw = folder_with(tmp_path / "raw", "new")
    folder_with(retired_dir(raw), "previous")
    recover_output_dir(raw)
    assert (raw / "file.txt").read_text() == "new"
    assert not retired_dir(raw).exists()


def test_the_next_write_recovers_first_and_then_replaces(tmp_path):
    raw = tmp_path / "raw"
    folder_with(retired_dir(raw), "previous")
    seen = []
    with atomic_output_dir(raw) as staging:
        seen.append((raw / "file.txt").read_text())
        (staging / "file.txt").write_text("next")
    assert seen == ["previous"]
    assert (raw / "file.txt").read_text() == "next"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]


def test_a_failed_write_leaves_the_previous_folder(tmp_path):
    raw = folder_with(tmp_path / "raw", "previous")

    def killed_while_writing():
        with atomic_output_dir(raw) as staging:
            (staging / "file.txt").write_text("partial")
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        killed_while_writing()
    assert (raw / "file.txt").read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]


def test_outputs_get_the_usual_modes_not_private_temporary_ones(tmp_path):
    atomic_write_text(tmp_path / "report.md", "# report\n")
    with atomic_output_dir(tmp_path / "figures") as staging:
        (staging / "a.png").write_bytes(b"png")
    assert (tmp_path / "report.md").stat().st_mode & 0o777 == default_mode(directory=False)
    assert (tmp_path / "figures").stat().st_mode & 0o777 == default_mode(directory=True)
