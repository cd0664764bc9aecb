"""LPIPS diversity against the lpips package called pair by pair, and the pair-sampling maths.

ImageNet backbones cannot be downloaded here, so each net gets a seeded random torchvision backbone
saved under torchvision's file name in a temporary torch hub cache: ``lpips.LPIPS(pretrained=True)``
loads it from there (torch hub checks hashes only when downloading), and our code is handed the same
file explicitly (``backbone_weights=``), because our hub-cache lookup rightly rejects a file whose
SHA-256 does not match the prefix in its name (tested below). The linear heads are the real v0.1
heads from the lpips wheel, loaded by both sides.
"""
import itertools
import json
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from msgan_eval.diversity import check_lpips_inputs, lpips_diversity
from msgan_eval.errors import UserError, WeightsUnavailable
from msgan_eval.features.lpips_net import MIN_SIZE, resolve_lpips_backbone, write_random_backbone
from msgan_eval.images import scan_images, write_image_folder
from msgan_eval.metrics.lpips import (all_pairs, condition_rng, consecutive_pairs, plan_pairs,
                                      summarize, unrank_pairs)
from msgan_eval.weights import LPIPS_BACKBONES, hub_cache_path

NETS = ("alex", "vgg", "squeeze")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """net -> (backbone file, lpips.LPIPS reference loaded from that file through the hub cache)."""
    built = {}

    def get(net):
        if net not in built:
            home = tmp_path_factory.mktemp(f"torch-{net}")
            path = write_random_backbone(net, home / "hub" / "checkpoints" / LPIPS_BACKBONES[net].filename,
                                         seed=7)
            with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
                mp.setenv("TORCH_HOME", str(home))
                warnings.simplefilter("ignore")   # torchvision: 'pretrained' is deprecated
                import lpips

                model = lpips.LPIPS(net=net, version="0.1", verbose=False)
            # The reference really holds the random backbone (not some other file).
            first = dict(model.net.named_parameters())["slice1.0.weight"]
            assert torch.equal(first, torch.load(path, weights_only=True)["features.0.weight"])
            built[net] = (path, model)
        return built[net]
    return get


def lpips_reference(model, a: np.ndarray, b: np.ndarray) -> float:
    import lpips

    with torch.no_grad():
        return model(lpips.im2tensor(a), lpips.im2tensor(b)).item()


def make_set(folder, sizes_per_condition, size, seed=0):
    """Seeded random images: noise over a smooth ramp, so every layer sees structure."""
    rng = np.random.default_rng(seed)
    h, w = size
    ramp = np.linspace(0, 160, w)[None, :, None] + np.linspace(0, 60, h)[:, None, None]
    images, labels = [], []
    for label, n in enumerate(sizes_per_condition):
        for _ in range(n):
            noise = rng.integers(0, 96, size=(h, w, 3))
            images.append(np.clip(ramp * rng.uniform(0.2, 1.0) + noise, 0, 255).astype(np.uint8))
            labels.append(label)
    names = [f"c{k}" for k in range(len(sizes_per_condition))]
    write_image_folder(folder, np.stack(images), labels, names)
    return scan_images(folder)


@pytest.mark.parametrize("net,size", [("alex", (40, 56)), ("vgg", (24, 32)), ("squeeze", (36, 48))])
def test_parity_with_lpips_all_pairs(tmp_path, reference, net, size):
    path, model = reference(net)
    images = make_set(tmp_path / "imgs", [3, 4], size)
    # batch_size 3 makes feature batches and pair chunks straddle boundaries.
    result = lpips_diversity(images, net=net, pairs="all", backbone_weights=path, batch_size=3)
    groups = images.groups()
    per_condition = {}
    for cond, idx in groups.items():
        expected_pairs = list(itertools.combinations(idx, 2))
        assert [tuple(p) for p in result.pair_indices[cond]] == expected_pairs
        ref = np.array([lpips_reference(model, images[i], images[j]) for i, j in expected_pairs])
        np.testing.assert_allclose(result.pair_distances[cond], ref, rtol=0, atol=1e-5)
        per_condition[cond] = ref.mean()
        assert abs(result.groups[cond] - ref.mean()) <= 1e-5
    assert abs(result.score - np.mean(list(per_condition.values()))) <= 1e-5
    assert result.n_pairs == 3 + 6
    assert result.backbone.source == "explicit" and result.net == net


def test_parity_random_and_consecutive_protocols(tmp_path, reference):
    path, model = reference("alex")
    images = make_set(tmp_path / "imgs", [7, 6], (40, 40), seed=3)
    for protocol in ("random", "consecutive"):
        # 3 pairs touch at most 6 of 7 images: the unused ones are left out of the feature pass.
        result = lpips_diversity(images, pairs=protocol, num_pairs=3, seed=11, backbone_weights=path)
        for cond, idx in images.groups().items():
            if protocol == "consecutive":
                assert [tuple(p) for p in result.pair_indices[cond]] == list(zip(idx[:-1], idx[1:]))
            else:
                assert len(result.pair_indices[cond]) == 3
            ref = [lpips_reference(model, images[i], images[j]) for i, j in result.pair_indices[cond]]
            np.testing.assert_allclose(result.pair_distances[cond], ref, rtol=0, atol=1e-5)


def test_identical_images_give_zero(tmp_path, reference):
    """Exactly 0.0 by construction on any CPU: identical images share one feature row, even when
    they sit at different batch positions (where AVX2 kernels give features differing in the last
    bits). .ci/run runs this test again with the CPU restricted to AVX2."""
    from click.testing import CliRunner

    from msgan_eval.cli import main

    path, model = reference("alex")
    two = make_set(tmp_path / "one", [2], (40, 40))
    img, other = two[0], two[1]
    write_image_folder(tmp_path / "same", np.stack([img] * 3), [0, 0, 0], ["dup"])
    result = lpips_diversity(scan_images(tmp_path / "same"), pairs="all", backbone_weights=path)
    assert lpips_reference(model, img, img) == 0.0
    assert result.score == 0.0 and np.all(result.pair_distances["dup"] == 0.0)
    # Duplicates in different batches (batch size 2), beside a distinct image: the duplicate pairs
    # are exactly zero and the rest still match lpips.
    write_image_folder(tmp_path / "mixed", np.stack([img, other, img, img, other]), [0] * 5, ["m"])
    mixed = lpips_diversity(scan_images(tmp_path / "mixed"), pairs="all", backbone_weights=path,
                            batch_size=2)
    stack = [img, other, img, img, other]
    for (i, j), d in zip(mixed.pair_indices["m"], mixed.pair_distances["m"]):
        if np.array_equal(stack[i], stack[j]):
            assert d == 0.0
        else:
            assert d == pytest.approx(lpips_reference(model, stack[i], stack[j]), abs=1e-5)
    # What users see: the command's JSON for a folder of copies of one image.
    out = CliRunner().invoke(main, ["lpips", str(tmp_path / "same"), "--pairs", "all", "--batch-size",
                                    "1", "--lpips-backbone", str(path), "--json", "--quiet"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["lpips"] == 0.0


@pytest.mark.parametrize("src,dst", [(28, 32), (80, 40)])
def test_resize_matches_written_out_reference(tmp_path, reference, src, dst):
    """--resize N: lpips.im2tensor, then bilinear / align_corners=False / antialias=True to N x N."""
    import lpips

    path, model = reference("alex")
    images = make_set(tmp_path / "imgs", [3], (src, src))
    result = lpips_diversity(images, pairs="all", resize=dst, backbone_weights=path)

    def prep(a):
        return F.interpolate(lpips.im2tensor(a), size=(dst, dst), mode="bilinear",
                             align_corners=False, antialias=True)
    with torch.no_grad():
        ref = [model(prep(images[i]), prep(images[j])).item() for i, j in itertools.combinations(range(3), 2)]
    np.testing.assert_allclose(result.pair_distances["c0"], ref, rtol=0, atol=1e-5)


@pytest.mark.parametrize("net", NETS)
def test_min_sizes_are_those_of_lpips(tmp_path, reference, net):
    _, model = reference(net)
    need = MIN_SIZE[net]
    with torch.no_grad():
        model.net(torch.zeros(1, 3, need, need + 5))            # lpips accepts the minimum
        with pytest.raises(RuntimeError):
            model.net(torch.zeros(1, 3, need - 1, need + 5))    # ... and not one pixel less
    ok = make_set(tmp_path / "ok", [2], (need, need + 5))
    check_lpips_inputs(ok, ok.groups(), net, None)
    small = make_set(tmp_path / "small", [2], (need + 5, need - 1))
    with pytest.raises(UserError, match="--resize"):
        check_lpips_inputs(small, small.groups(), net, None)


def test_hub_cache_file_with_wrong_hash_is_reported_and_skipped(reference, capsys):
    path, _ = reference("alex")
    cached = hub_cache_path(LPIPS_BACKBONES["alex"])
    cached.parent.mkdir(parents=True)
    cached.write_bytes(path.read_bytes())    # a random backbone under the real file name
    with pytest.raises(WeightsUnavailable) as err:
        resolve_lpips_backbone("alex")
    assert err.value.exit_code == 3 and "7be5be79" in str(err.value)
    assert "skipped" in capsys.readouterr().err
    assert resolve_lpips_backbone("alex", path).source == "explicit"


def test_backbone_of_another_net_is_refused(reference):
    path, _ = reference("alex")
    with pytest.raises(WeightsUnavailable, match="squeeze"):
        resolve_lpips_backbone("squeeze", path)


# Pure pair sampling and aggregation.

@pytest.mark.parametrize("n", [2, 3, 7, 30])
def test_unrank_follows_the_all_pairs_order(n):
    expected = np.array(list(itertools.combinations(range(n), 2)))
    np.testing.assert_array_equal(all_pairs(n), expected)
    np.testing.assert_array_equal(unrank_pairs(np.arange(len(expected)), n), expected)


def test_random_pairs_are_seeded_distinct_and_never_self_pairs():
    a = plan_pairs(40, "random", 50, condition_rng(0, "shoes")).pairs
    b = plan_pairs(40, "random", 50, condition_rng(0, "shoes")).pairs
    c = plan_pairs(40, "random", 50, condition_rng(1, "shoes")).pairs
    d = plan_pairs(40, "random", 50, condition_rng(0, "bags")).pairs
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and not np.array_equal(a, d)
    assert a.shape == (50, 2) and np.all(a[:, 0] < a[:, 1]) and a.max() < 40
    assert len({tuple(p) for p in a}) == 50


def test_random_pairs_are_uniform_over_all_pairs():
    counts = np.zeros((6, 6))
    for seed in range(3000):
        for i, j in plan_pairs(6, "random", 3, condition_rng(seed, "x")).pairs:
            counts[i, j] += 1
    freq = counts[np.triu_indices(6, 1)] / 3000     # each of the 15 pairs: expected 3/15 = 0.2
    assert np.all(np.abs(freq - 0.2) < 0.03)


def test_too_few_possible_pairs_uses_all_and_says_so():
    plan = plan_pairs(4, "random", 50, condition_rng(0, "x"))
    np.testing.assert_array_equal(plan.pairs, list(itertools.combinations(range(4), 2)))
    assert plan.all_pairs_used
    assert not plan_pairs(11, "random", 50, condition_rng(0, "x")).all_pairs_used


def test_consecutive_and_errors():
    np.testing.assert_array_equal(consecutive_pairs(4), [[0, 1], [1, 2], [2, 3]])
    with pytest.raises(ValueError):
        plan_pairs(1, "all", 50, condition_rng(0, "x"))
    with pytest.raises(ValueError):
        condition_rng(-1, "x")


def test_summary_is_mean_of_condition_means():
    d = {"a": np.array([0.1, 0.3]), "b": np.array([0.5, 0.6, 0.7, 0.2])}
    s = summarize(d)
    means = [np.mean(d["a"]), np.mean(d["b"])]
    assert s.score == pytest.approx(np.mean(means), abs=1e-15)
    assert s.std == pytest.approx(np.std(np.concatenate([d["a"], d["b"]])), abs=1e-15)
    assert s.std_over_conditions == pytest.approx(np.std(means), abs=1e-15)
    assert s.n_pairs == 6 and s.pairs_per_group == {"a": 2, "b": 4}
