"""msgan_eval.metrics.modes against PacGAN's own code, transcribed in tests/reference_modes.py
(MetricLogger l.114-194, log_metrics l.246-285): counts exact, KL to 1e-9, on crafted cases."""
import math

import numpy as np
import pytest
import reference_modes as ref

from msgan_eval.metrics import modes as M

LAYOUTS = {"ring": (M.ring, ref.RING_MEANS, ref.RING_VARIANCES, 0.01),
           "grid": (M.grid, ref.GRID_MEANS, ref.GRID_VARIANCES, 0.05)}


def _around(centres, sigma, n, rng, spread, weights=None):
    """n points at chosen centres, each offset by `spread` sigmas times a standard normal."""
    k = rng.choice(len(centres), size=n, p=weights)
    return centres[k] + rng.standard_normal((n, 2)) * sigma * spread


def _shell(centres, sigma, radii, rng):
    """Points at exactly `radii` sigmas from random centres, in random directions."""
    k = rng.integers(0, len(centres), len(radii))
    angle = rng.uniform(0, 2 * np.pi, len(radii))
    r = np.asarray(radii) * sigma
    return centres[k] + np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1)


def crafted_sets(layout):
    make, means, _, sigma = LAYOUTS[layout]
    centres = np.array(means, dtype=np.float64)
    rng = np.random.default_rng(7 if layout == "ring" else 8)
    k = len(centres)
    skewed = np.arange(1, k + 1, dtype=np.float64)
    yield "exact centres", centres.copy()
    yield "one mode", np.repeat(centres[3:4], 50, axis=0)
    yield "tight, all modes", _around(centres, sigma, 400, rng, 0.5)
    yield "protocol size, wide", _around(centres, sigma, 2500, rng, 2.0)
    yield "skewed weights", _around(centres, sigma, 700, rng, 1.0, skewed / skewed.sum())
    yield "half the modes", _around(centres[: k // 2], sigma, 300, rng, 1.0)
    yield "boundary shell", _shell(centres, sigma, [2.9, 2.999999, 3.0, 3.000001, 3.1] * 40, rng)
    yield "no high-quality sample", _around(centres, sigma, 60, rng, 50.0) + 10 * sigma
    yield "far and near mixed", np.concatenate([_around(centres, sigma, 200, rng, 1.0),
                                                rng.uniform(-5, 5, (200, 2))])
    yield "float32 input", _around(centres, sigma, 300, rng, 1.5).astype(np.float32)
    yield "midpoints (ties)", (centres[:-1] + centres[1:]) / 2


@pytest.mark.parametrize("layout", ["ring", "grid"])
def test_2d_metric_matches_pacgan_metric_logger(layout):
    make, means, variances, _ = LAYOUTS[layout]
    seen_none = False
    for name, points in crafted_sets(layout):
        expected = ref.metric_logger(np.asarray(points), means, variances)
        got = M.coverage_2d(points, make())
        assert got.counts == [int(c) for c in expected["detail of coverage"]], name
        assert np.array_equal(np.array(got.counts, dtype=float), expected["detail of coverage"]), name
        assert got.modes == expected["mode coverage"], name
        assert got.high_quality == expected["good points percentage"], name
        if math.isnan(expected["reverse KL"]):
            assert got.reverse_kl is None, name
            seen_none = True
        else:
            assert got.reverse_kl == pytest.approx(expected["reverse KL"], abs=1e-9, rel=0), name
    assert seen_none


def test_the_crafted_cases_exercise_the_boundaries():
    """The crafted sets must reach what could go wrong: the 3-sigma boundary on both sides,
    partial coverage, and skew (a test that cannot fail is a defect)."""
    pts = dict(crafted_sets("ring"))
    c = M.coverage_2d(pts["boundary shell"], M.ring())
    assert 0 < c.high_quality < 1
    assert M.coverage_2d(pts["half the modes"], M.ring()).modes == 4
    assert M.coverage_2d(pts["one mode"], M.ring()).reverse_kl == pytest.approx(math.log(8))
    assert M.coverage_2d(pts["exact centres"], M.ring()).reverse_kl == 0.0


def test_ties_go_to_the_first_mode_as_pacgans_loop():
    mix = M.Mixture2D("wide", np.array([[-1.0, 0.0], [1.0, 0.0]]), 1.0)
    means = [np.array([-1.0, 0.0]), np.array([1.0, 0.0])]
    variances = [np.eye(2), np.eye(2)]
    points = np.array([[0.0, 0.0], [0.0, 1.0], [0.0, -2.0]])    # equidistant from both modes
    expected = ref.metric_logger(points, means, variances)
    got = M.coverage_2d(points, mix)
    assert got.counts == [3, 0] == [int(c) for c in expected["detail of coverage"]]


def test_centres_are_pacgans():
    assert np.array_equal(M.ring().centres, np.array(ref.RING_MEANS))
    assert np.array_equal(M.grid().centres, np.array(ref.GRID_MEANS, dtype=float))
    assert M.grid().centres[1].tolist() == [-4.0, -2.0]        # x outer, y inner


def test_large_sets_are_processed_in_blocks(monkeypatch):
    rng = np.random.default_rng(3)
    points = _around(M.grid().centres, 0.05, 3000, rng, 1.5)
    whole = M.coverage_2d(points, M.grid())
    monkeypatch.setattr(M, "_CHUNK", 128)
    assert M.coverage_2d(points, M.grid()) == whole


def _stacked_cases():
    rng = np.random.default_rng(11)
    yield "uniform", rng.integers(0, 10, (26000, 3))
    yield "one triple", np.tile([[4, 0, 7]], (500, 1))
    yield "a few triples", rng.integers(0, 3, (1000, 3))
    yield "skewed", np.minimum(rng.geometric(0.3, (5000, 3)) - 1, 9)
    yield "every triple once", np.array([[a, b, c] for a in range(10) for b in range(10)
                                         for c in range(10)])


@pytest.mark.parametrize("name,labels", list(_stacked_cases()))
def test_stacked_metric_matches_pacgan_log_metrics(name, labels):
    expected = ref.log_metrics(labels[:, 0].tolist(), labels[:, 1].tolist(), labels[:, 2].tolist(),
                               len(labels))
    got = M.stacked_coverage(labels)
    assert got.modes == expected["mode coverage"]
    assert got.kl == pytest.approx(expected["KL"], abs=1e-9, rel=0)
    for (a, b, c), count in expected["details"].items():
        assert got.counts[100 * a + 10 * b + c] == count
    assert got.counts.sum() == len(labels)


def test_stacked_labels_must_be_digit_triples():
    with pytest.raises(ValueError):
        M.stacked_coverage(np.zeros((5, 2), dtype=int))
    with pytest.raises(ValueError):
        M.stacked_coverage(np.full((5, 3), 10))


def test_labelled_triples_of_a_perfect_classifier_is_the_truth():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(1000))
    assert np.allclose(M.labelled_triples(p, np.eye(10)), p)


def test_labelled_triples_by_brute_force():
    rng = np.random.default_rng(1)
    conf = rng.dirichlet(np.ones(10), size=10)
    p = np.zeros(1000)
    p[123] = 1.0
    got = M.labelled_triples(p, conf)
    assert got[456] == pytest.approx(conf[1, 4] * conf[2, 5] * conf[3, 6])
    assert got.sum() == pytest.approx(1.0)


def test_expected_modes_of_uniform_draws():
    assert M.expected_modes(np.full(1000, 1e-3), 26000) == pytest.approx(1000.0, abs=1e-6)
    assert M.expected_modes(np.full(1000, 1e-3), 1) == pytest.approx(1.0)
    rng = np.random.default_rng(2)
    draws = [len(np.unique(rng.integers(0, 1000, 1500))) for _ in range(200)]
    assert M.expected_modes(np.full(1000, 1e-3), 1500) == pytest.approx(np.mean(draws), rel=0.01)
