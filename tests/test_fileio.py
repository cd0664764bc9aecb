"""Atomic writes: a failed or interrupted write leaves the old content whole and nothing else."""
import os

import pytest

from msgan_eval.fileio import atomic_dir, current_umask


def _tree(folder):
    return {p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*") if p.is_file()}


def test_atomic_dir_creates_the_folder_only_when_complete(tmp_path):
    target = tmp_path / "out"
    with atomic_dir(target) as build:
        assert build.parent == tmp_path and build.name.startswith(".out.")
        (build / "sub").mkdir()
        (build / "sub" / "a.txt").write_text("a")
        assert not target.exists()
    assert _tree(target) == {"sub/a.txt": "a"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert target.stat().st_mode & 0o777 == 0o777 & ~current_umask()


def test_atomic_dir_replaces_an_existing_folder_after_success(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic_dir(target) as build:
        (build / "new.txt").write_text("new")
        assert _tree(target) == {"old.txt": "old"}      # the old one stays until the end
    assert _tree(target) == {"new.txt": "new"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_atomic_dir_failure_keeps_the_old_folder_and_leaves_nothing(tmp_path, error):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(error):
        with atomic_dir(target) as build:
            (build / "half.txt").write_text("half")
            raise error
    assert _tree(target) == {"old.txt": "old"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_atomic_dir_relative_target_yields_a_relative_build_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with atomic_dir("out") as build:
        assert not build.is_absolute() and os.path.dirname(build) == ""
        (build / "f").write_text("x")
    assert _tree(tmp_path / "out") == {"f": "x"}
