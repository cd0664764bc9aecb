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


def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_parts_of_dead_processes_are_cleaned_on_the_next_write(tmp_path):
    from msgan_eval import fileio

    host = fileio._HOST
    dead = tmp_path / f".stats.npz.{host}~{_dead_pid()}~abc123.part.npz"
    dead.write_bytes(b"x" * 100)
    dead_dir = tmp_path / f".report.{host}~{_dead_pid()}~xyz.part"
    (dead_dir / "sub").mkdir(parents=True)
    alive = tmp_path / f".other.{host}~{os.getpid()}~def456.part"
    alive.write_bytes(b"mine")
    foreign = tmp_path / ".other.elsewhere~1~ghi789.part"   # another host: only age counts
    foreign.write_bytes(b"theirs")
    user_file = tmp_path / ".hidden.part"                      # not our naming: never touched
    user_file.write_bytes(b"user")
    fileio.write_text_atomic(tmp_path / "new.txt", "new")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([alive.name, foreign.name, user_file.name, "new.txt"])
    old = 2 * fileio.STALE_PART_SECONDS
    os.utime(foreign, (os.path.getmtime(foreign) - old,) * 2)
    assert fileio.clean_stale_parts(tmp_path, force=True) == 1 and not foreign.exists()


def test_temporary_names_carry_the_pid(tmp_path):
    from msgan_eval.fileio import atomic_path

    with atomic_path(tmp_path / "x.bin") as tmp:
        assert f"~{os.getpid()}~" in tmp.name and tmp.name.startswith(".x.bin.")


def test_check_writable_refuses_before_work(tmp_path):
    from msgan_eval.errors import UserError
    from msgan_eval.fileio import check_writable

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="--out .*is a file"):
        check_writable(blocker / "deep" / "out.npz", "--out")
    with pytest.raises(UserError, match="--out .*is a file; give a folder"):
        check_writable(blocker, "--out", folder=True)
    check_writable(tmp_path / "new" / "deeper" / "out.npz", "--out")     # creatable: fine
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]         # and nothing made


def test_atomic_dir_swap_never_shows_a_mix(tmp_path, monkeypatch):
    from msgan_eval import fileio

    target = tmp_path / "report"
    target.mkdir()
    (target / "report.json").write_text("old")
    (target / "report.md").write_text("old")
    seen = []
    real_exchange = fileio._exchange

    def watching(a, b):
        done = real_exchange(a, b)
        seen.append(done)
        return done

    monkeypatch.setattr(fileio, "_exchange", watching)
    with fileio.atomic_dir(target) as build:
        (build / "report.json").write_text("new")
    assert _tree(target) == {"report.json": "new"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]
    assert seen == [True]          # Linux: one atomic exchange, not two renames
