"""compare passes the reference through the network once.

FID's reference statistics used to be streamed by their own network pass, and the realism gate,
the degenerate flags, KID and PRDC then extracted the reference's rows again (about 30 s of the
image-to-image demo's 412 s). When one of those families runs, the statistics now come from the
memoised rows, and give the FID the streamed statistics give (float64 sums in another order).
"""
import pytest

import msgan_eval
from msgan_eval.evaluate.features import clear_memo

from conftest import write_random_pngs

pytestmark = [pytest.mark.usefixtures("one_torch_thread", "small_inception"),
              pytest.mark.filterwarnings("ignore:Matrix is singular")]


@pytest.fixture
def counted_images(monkeypatch):
    """source folder name -> images that went through the Inception, per call."""
    import msgan_eval.features.extract as extract

    seen = {}
    real = extract.iter_feature_batches

    def counting(image_set, model, **kw):
        seen[image_set.source.name] = seen.get(image_set.source.name, 0) + len(image_set)
        return real(image_set, model, **kw)

    monkeypatch.setattr(extract, "iter_feature_batches", counting)
    clear_memo()
    yield seen
    clear_memo()


@pytest.mark.parametrize("metrics,n_ref", [(("fid", "degenerate"), 50), (("fid", "kid"), 10)])
def test_reference_is_extracted_once(tmp_path, random_weights, counted_images, metrics, n_ref):
    ref = write_random_pngs(tmp_path / "ref", n_ref, size=(16, 16), seed=1)
    base = write_random_pngs(tmp_path / "base", 6, size=(16, 16), seed=2)
    cand = write_random_pngs(tmp_path / "cand", 6, size=(16, 16), seed=3)
    result = msgan_eval.compare(base, cand, ref, metrics=metrics, bootstrap=10,
                                inception_weights=str(random_weights))
    assert counted_images == {"ref": n_ref, "base": 6, "cand": 6}
    if "degenerate" not in metrics:
        return
    # the FID of statistics streamed batch by batch, as `fid` makes them (no cache: compare
    # wrote the reference's statistics from the rows)
    streamed = msgan_eval.fid(ref, cand, inception_weights=str(random_weights), use_cache=False)
    assert counted_images["ref"] == 2 * n_ref
    assert result.runs["candidate"]["fid"]["value"] == pytest.approx(streamed.fid, rel=1e-9)


def test_fid_alone_streams_the_reference(tmp_path, random_weights, counted_images):
    """No other family reads the rows: the statistics are streamed (memory stays O(d^2))."""
    import msgan_eval.evaluate.features as features

    ref = write_random_pngs(tmp_path / "ref", 20, size=(16, 16), seed=1)
    run = write_random_pngs(tmp_path / "run", 6, size=(16, 16), seed=2)
    msgan_eval.compare(run, run, ref, metrics=("fid",), bootstrap=10,
                       inception_weights=str(random_weights))
    assert counted_images == {"ref": 20, "run": 6}
    assert not any(key[0] == msgan_eval.scan_images(ref).fingerprint() for key in features._MEMO)


def test_runs_over_seeds_are_extracted_once_each(tmp_path, random_weights, counted_images):
    """Three runs per arm and the reference are 7 sets: with a memo of 4 sets the realism gate
    re-extracted every run FID had (the memo now keeps more sets while they are small)."""
    ref = write_random_pngs(tmp_path / "ref", 50, size=(16, 16), seed=1)
    runs = {arm: [write_random_pngs(tmp_path / f"{arm}{k}", 4, size=(16, 16), seed=10 * i + k)
                  for k in range(3)] for i, arm in enumerate(("base", "cand"))}
    msgan_eval.compare(runs["base"], runs["cand"], ref, metrics=("fid", "degenerate"),
                       bootstrap=10, inception_weights=str(random_weights))
    assert counted_images == {"ref": 50, **{f"{arm}{k}": 4 for arm in runs for k in range(3)}}
