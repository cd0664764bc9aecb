"""The command group itself: help, version, errors as one line with exit code 2."""
import json

import pytest
from click.testing import CliRunner

from msgan_eval import __version__
from msgan_eval.cli import main
from msgan_eval.datasets import DEBIAN_FASHION_MNIST
from msgan_eval.images import scan_images


def test_help_lists_every_command_without_importing_torch():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in ("fid", "lpips", "ndb", "compare", "check", "train", "sample", "demo", "weights"):
        assert name in result.output


def test_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_user_error_is_one_line_exit_2(tmp_path, monkeypatch):
    monkeypatch.setattr("msgan_eval.datasets.DEBIAN_FASHION_MNIST", tmp_path / "no-debian-copy")
    result = CliRunner().invoke(main, ["prepare", "fashion-mnist", "--out", str(tmp_path / "o"),
                                       "--data-root", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "dataset-fashion-mnist" in result.output


@pytest.mark.skipif(not DEBIAN_FASHION_MNIST.exists(), reason="apt-get install dataset-fashion-mnist")
def test_prepare_writes_class_folders(tmp_path):
    result = CliRunner().invoke(main, ["prepare", "fashion-mnist", "--out", str(tmp_path),
                                       "--per-class", "2", "--classes", "0,9", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n"] == 4          # the progress bar is on stderr
    assert "writing" in result.stderr
    s = scan_images(tmp_path)
    assert s.conditions == ["ankle-boot", "t-shirt"] and s.sizes[0] == (28, 28)


@pytest.mark.skipif(not DEBIAN_FASHION_MNIST.exists(), reason="apt-get install dataset-fashion-mnist")
@pytest.mark.parametrize("flag", ["--quiet", "-q"])
def test_prepare_quiet_hides_the_progress_bar(tmp_path, flag):
    result = CliRunner().invoke(main, ["prepare", "fashion-mnist", "--out", str(tmp_path),
                                       "--per-class", "2", "--classes", "3", flag])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout == f"wrote 2 fashion-mnist test images to {tmp_path}\n"


def test_prepare_bad_classes_option(tmp_path):
    result = CliRunner().invoke(main, ["prepare", "fashion-mnist", "--out", str(tmp_path),
                                       "--classes", "0,x"])
    assert result.exit_code == 2 and "--classes" in result.output


def test_prepare_refuses_a_folder_with_files(tmp_path):
    (tmp_path / "old.png").write_bytes(b"")
    result = CliRunner().invoke(main, ["prepare", "fashion-mnist", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"--out {tmp_path}: exists and is not an empty folder" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["old.png"]


@pytest.mark.skipif(not DEBIAN_FASHION_MNIST.exists(), reason="apt-get install dataset-fashion-mnist")
def test_interrupted_prepare_leaves_no_folder(tmp_path, monkeypatch):
    written = []

    def write_then_fail(path, image):
        if len(written) == 3:
            raise KeyboardInterrupt
        written.append(path)

    monkeypatch.setattr("msgan_eval.images.write_png", write_then_fail)
    out = tmp_path / "export"
    result = CliRunner().invoke(main, ["prepare", "fashion-mnist", "--out", str(out),
                                       "--per-class", "2", "--quiet"])
    assert result.exit_code != 0 and len(written) == 3
    assert list(tmp_path.iterdir()) == []          # neither the folder nor its temporary twin
