"""``msgan-eval lpips`` through click's CliRunner: output against the lpips package, and bad inputs.

The backbone is a seeded random AlexNet (see tests/test_lpips.py for why it is passed explicitly).
"""
import itertools
import json
import warnings

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from msgan_eval import __version__
from msgan_eval.cli import main
from msgan_eval.features.lpips_net import write_random_backbone
from msgan_eval.images import scan_images, write_image_folder
from msgan_eval.weights import LPIPS_BACKBONES, file_sha256, hub_cache_path


@pytest.fixture(scope="module")
def alex_file(tmp_path_factory):
    return write_random_backbone("alex", tmp_path_factory.mktemp("bb") / "random-alexnet.pth", seed=3)


def folder(root, counts, size=(40, 40), seed=0):
    rng = np.random.default_rng(seed)
    n = sum(counts)
    images = rng.integers(0, 256, size=(n, size[0], size[1], 3), dtype=np.uint8)
    labels = [k for k, c in enumerate(counts) for _ in range(c)]
    write_image_folder(root, images, labels, [f"class{k}" for k in range(len(counts))])
    return root


def run(*args, env=None):
    return CliRunner().invoke(main, ["lpips", *map(str, args)], env=env)


def assert_clean_error(result, code, *needles):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.output, (needle, result.output)


def test_json_matches_lpips_package(tmp_path, alex_file):
    import lpips

    root = folder(tmp_path / "imgs", [3, 4])
    result = run(root, "--pairs", "all", "--lpips-backbone", alex_file, "--json", "--quiet")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    for key in ("lpips", "std", "pairs", "groups", "net", "seed", "version", "pair_protocol", "backbone"):
        assert key in payload
    assert payload["version"] == __version__ and payload["net"] == "alex" and payload["pairs"] == 3 + 6
    assert payload["backbone"]["sha256"] == file_sha256(alex_file)
    assert payload["backbone"]["source"] == "explicit"

    # Reference: lpips.LPIPS loading the same file from the (temporary) torch hub cache.
    cached = hub_cache_path(LPIPS_BACKBONES["alex"])
    cached.parent.mkdir(parents=True)
    cached.symlink_to(alex_file)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = lpips.LPIPS(net="alex", version="0.1", verbose=False)
    images = scan_images(root)
    means = {}
    for cond, idx in images.groups().items():
        with torch.no_grad():
            d = [model(lpips.im2tensor(images[i]), lpips.im2tensor(images[j])).item()
                 for i, j in itertools.combinations(idx, 2)]
        means[cond] = np.mean(d)
        assert abs(payload["groups"][cond] - means[cond]) <= 1e-5
    assert abs(payload["lpips"] - np.mean(list(means.values()))) <= 1e-5


def test_human_output_progress_and_env_backbone(tmp_path, alex_file):
    root = folder(tmp_path / "imgs", [4, 3])
    loud = run(root, "--num-pairs", "5", env={"MSGAN_EVAL_LPIPS_BACKBONE": str(alex_file)})
    assert loud.exit_code == 0, loud.output
    assert "lpips alex" in loud.stderr                        # the tqdm bar
    assert "class0" in loud.stdout and "(env" in loud.stdout
    assert "fewer than 5 pairs exist in class1" in loud.stdout    # 3 images: only 3 pairs
    quiet = run(root, "--quiet", "--json", env={"MSGAN_EVAL_LPIPS_BACKBONE": str(alex_file)})
    assert quiet.exit_code == 0 and "lpips alex" not in quiet.stderr
    assert json.loads(quiet.stdout)["all_pairs_used"] == ["class0", "class1"]


def test_condition_with_one_image(tmp_path, alex_file):
    root = folder(tmp_path / "imgs", [3, 1])
    assert_clean_error(run(root, "--lpips-backbone", alex_file), 2, "class1", "at least 2")


def test_too_small_images_suggest_resize_which_works(tmp_path, alex_file):
    root = folder(tmp_path / "imgs", [2], size=(28, 28))
    assert_clean_error(run(root, "--lpips-backbone", alex_file), 2, "28x28", "--resize", "31")
    assert_clean_error(run(root, "--resize", "16", "--lpips-backbone", alex_file), 2, "--resize 16")
    ok = run(root, "--resize", "32", "--lpips-backbone", alex_file, "--json", "--quiet")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["resize"] == 32


def test_mixed_sizes_in_a_condition(tmp_path, alex_file):
    root = folder(tmp_path / "imgs", [2])
    folder(tmp_path / "other", [1], size=(48, 40))
    (tmp_path / "other" / "class0" / "00000.png").rename(root / "class0" / "big.png")
    assert_clean_error(run(root, "--lpips-backbone", alex_file), 2, "big.png", "40x40", "--resize")


def test_missing_backbone_exits_3_with_instructions(tmp_path):
    root = folder(tmp_path / "imgs", [2])
    result = run(root)
    assert_clean_error(result, 3, "--lpips-backbone", "MSGAN_EVAL_LPIPS_BACKBONE",
                       str(hub_cache_path(LPIPS_BACKBONES["alex"])))
    assert_clean_error(run(root, "--lpips-backbone", tmp_path / "nope.pth"), 3, "nope.pth")


def test_hub_cache_file_with_wrong_hash_is_skipped(tmp_path, alex_file):
    root = folder(tmp_path / "imgs", [2])
    cached = hub_cache_path(LPIPS_BACKBONES["alex"])
    cached.parent.mkdir(parents=True)
    cached.write_bytes(alex_file.read_bytes())
    assert_clean_error(run(root), 3, "skipped", "7be5be79")


def test_wrong_or_garbage_backbone_file(tmp_path, alex_file):
    root = folder(tmp_path / "imgs", [2])
    assert_clean_error(run(root, "--net", "squeeze", "--lpips-backbone", alex_file), 3,
                       "not usable lpips-squeeze weights")
    garbage = tmp_path / "garbage.pth"
    garbage.write_text("not weights")
    assert_clean_error(run(root, "--lpips-backbone", garbage), 3, "garbage.pth", "not a loadable")


def test_bad_file_and_skip_bad(tmp_path, alex_file):
    root = folder(tmp_path / "imgs", [3])
    (root / "class0" / "broken.png").write_bytes(b"not a png")
    assert_clean_error(run(root, "--lpips-backbone", alex_file), 2, "broken.png", "--skip-bad")
    ok = run(root, "--skip-bad", "--lpips-backbone", alex_file, "--json", "--quiet")
    assert ok.exit_code == 0 and json.loads(ok.stdout)["skipped"] == 1


def test_bad_options(tmp_path, alex_file):
    root = folder(tmp_path / "imgs", [2])
    assert_clean_error(run(root, "--seed", "-1", "--lpips-backbone", alex_file), 2, "--seed -1")
    assert_clean_error(run(root, "--pairs", "some"), 2, "--pairs")
    assert_clean_error(run(tmp_path / "missing"), 2, "missing")
