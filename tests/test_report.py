"""Report assembly and rendering (msgan_eval/report/compare.py bookkeeping, render.py, schema.py).

Metric outcomes here come from the bootstrap functions on synthetic arrays, so these tests need no
network weights; tests/test_cli_compare.py runs the real metrics end to end.
"""
import base64
import io
import json
import re
from html import escape as html_escape

import numpy as np
import pytest
from PIL import Image

from msgan_eval.images import scan_images
from msgan_eval.metrics import bootstrap as bs
from msgan_eval.report import compare as cmp
from msgan_eval.report.render import (
    render_html,
    render_markdown,
    render_table,
    sample_grid,
    short_reason,
    skipped_reasons,
)
from msgan_eval.report.schema import ReportInvalid, validate_report


def _image_folder(root, conditions, n, seed, size=(12, 10)):
    rng = np.random.default_rng(seed)
    for c in conditions:
        (root / c).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(
                root / c / f"{i:03d}.png")
    return scan_images(root)


@pytest.fixture
def sets(tmp_path):
    return {"baseline": _image_folder(tmp_path / "base", ["a", "b"], 5, 0),
            "candidate": _image_folder(tmp_path / "cand", ["a", "b", "c"], 4, 1),
            "reference": _image_folder(tmp_path / "ref", ["a", "b", "c"], 6, 2)}


def _outcomes():
    """FID and NDB/JSD outcomes from the bootstrap on synthetic data (LPIPS left out)."""
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(200, 3))
    mu, sigma = ref.mean(0), np.cov(ref, rowvar=False)
    fid = {"baseline": bs.bootstrap_fid(rng.normal(2.0, 1.0, (80, 3)), mu, sigma, rng=rng, n_boot=50),
           "candidate": bs.bootstrap_fid(rng.normal(0.1, 1.0, (80, 3)), mu, sigma, rng=rng, n_boot=50)}
    from msgan_eval.metrics.ndb import assign_bins, fit_bins

    bins = fit_bins(rng.uniform(size=(100, 2)), k=5, seed=0)
    ndb, jsd = {}, {}
    for run, scale in (("baseline", 0.3), ("candidate", 1.0)):
        ndb[run], jsd[run] = bs.bootstrap_ndb(bins, assign_bins(bins, rng.uniform(0, scale, (60, 2))),
                                              rng=rng, n_boot=50)
    details = {"k": 5, "reference": bins.proportions.tolist(),
               "baseline": [0.5, 0.5, 0, 0, 0], "candidate": [0.2] * 5,
               "baseline_different": [True, True, False, True, True],
               "candidate_different": [False] * 5}
    return {"fid": cmp.MetricOutcome(estimates={"fid": fid},
                                     weights={"inception": {"sha256": "a" * 64, "source": "explicit"}}),
            "ndb": cmp.MetricOutcome(estimates={"ndb": ndb, "jsd": jsd}, details={"ndb": details},
                                     notes=["a note"])}


def _report(sets, lpips_reason="lpips-alex weights not found"):
    runs = {"baseline": sets["baseline"], "candidate": sets["candidate"]}
    config = cmp.CompareConfig(bootstrap=50)
    return cmp.assemble_report(runs, cmp.Reference(images=sets["reference"]), config, _outcomes(),
                               {"lpips": lpips_reason}, {"fid": 1.0}, ["msgan-eval", "compare"])


def test_assembled_report_validates_and_holds_the_estimates(sets):
    report = _report(sets)
    validate_report(json.loads(json.dumps(report)))
    out = _outcomes()
    fid_b = out["fid"].estimates["fid"]["baseline"]
    assert report["runs"]["baseline"]["fid"] == {"value": fid_b.value, "ci": [fid_b.low, fid_b.high],
                                                 "bias": fid_b.bias}
    v = bs.compare_estimates(fid_b, out["fid"].estimates["fid"]["candidate"], higher_is_better=False)
    assert report["verdicts"]["fid"] == v.verdict == "candidate-better"
    assert report["deltas"]["fid"]["ci"] == [v.low, v.high]
    assert report["metrics"] == ["fid", "ndb", "jsd"]
    assert report["skipped"] == {"lpips": "lpips-alex weights not found"}
    assert report["inputs"]["candidate"]["n_images"] == 12
    assert report["inputs"]["candidate"]["conditions"] == 3
    assert report["inputs"]["reference"]["fingerprint"] == sets["reference"].fingerprint(with_mtime=False)
    assert report["parameters"]["seed"] == 0 and report["bootstrap"]["n"] == 50
    assert report["provenance"]["packages"]["numpy"] == np.__version__
    assert report["provenance"]["weights"]["inception"]["sha256"] == "a" * 64


def test_schema_refuses_missing_and_mistyped_fields(sets):
    report = _report(sets)
    del report["runs"]["candidate"]["fid"]["ci"]
    with pytest.raises(ReportInvalid, match=r"runs\.candidate\.fid\.ci: missing"):
        validate_report(report)
    report = _report(sets)
    report["inputs"]["baseline"]["fingerprint"] = "abc"
    with pytest.raises(ReportInvalid, match=r"inputs\.baseline\.fingerprint"):
        validate_report(report)
    report = _report(sets)
    report["bootstrap"]["n"] = True
    with pytest.raises(ReportInvalid, match=r"bootstrap\.n: expected integer"):
        validate_report(report)
    report = _report(sets)
    assert report["parameters"]["processes"] == 1    # torchrun world size, 1 without torchrun
    report["parameters"]["processes"] = 0
    with pytest.raises(ReportInvalid, match=r"parameters\.processes: 0 is below 1"):
        validate_report(report)
    del report["parameters"]["processes"]            # reports written before it still validate
    validate_report(report)
    assert (report["parameters"]["kid_subsets"], report["parameters"]["kid_subset_size"],
            report["parameters"]["prdc_k"]) == (100, 1000, 5)       # defaults.py's, recorded
    report["parameters"]["prdc_k"] = 0
    with pytest.raises(ReportInvalid, match=r"parameters\.prdc_k: 0 is below 1"):
        validate_report(report)
    for key in ("kid_subsets", "kid_subset_size", "prdc_k"):   # older reports lack them
        del report["parameters"][key]
    validate_report(report)


def test_table_and_markdown_show_every_metric_with_interval_and_verdict(sets):
    report = _report(sets)
    table = render_table(report)
    md = render_markdown(report)
    for text in (table, md):
        fid = report["runs"]["candidate"]["fid"]
        assert f"{fid['value']:.2f} [{fid['ci'][0]:.2f}, {fid['ci'][1]:.2f}]" in text
        assert "candidate-better" in text
        assert "skipped: lpips-alex weights not found" in text
        for label in ("FID", "NDB", "JSD", "LPIPS diversity"):
            assert label in text
    assert "| set | path | images | conditions | file-list sha256 |" in md
    assert "> note: a note" in md


def test_overall_verdict_under_the_metrics_in_every_rendering(sets):
    report = _report(sets)
    overall = report["overall"]
    assert overall["verdict"] == "candidate-better" and overall["better"] == ["fid", "ndb", "jsd"]
    reasons = overall["reasons"]
    assert reasons[0].startswith("candidate better on fidelity: FID -")
    assert reasons[-1] == "not measured (skipped, see the reasons in the report): LPIPS diversity"
    table = render_table(report).splitlines()
    at = table.index("overall: candidate-better")
    assert table[at + 1:] == [f"  - {r}" for r in reasons]
    assert at > max(i for i, line in enumerate(table) if line.startswith(("FID", "NDB", "JSD")))
    md = render_markdown(report)
    assert "**Overall: candidate-better**" in md and f"- {reasons[0]}" in md
    assert md.index("**Overall") < md.index("### Inputs")
    html = render_html(report, {})
    assert "<h2>Overall: <span class='candidate-better'>candidate-better</span></h2>" in html
    assert f"<li>{html_escape(reasons[0])}</li>" in html
    assert html.index("Overall:") < html.index("Quality and diversity")


def _decode_pngs(html):
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(b))).convert("RGB"))
            for b in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)]


def test_written_report_files(sets, tmp_path):
    report = _report(sets)
    runs = {"baseline": sets["baseline"], "candidate": sets["candidate"]}
    paths = cmp.write_report(tmp_path / "out", report, runs)
    assert json.loads(paths["json"].read_text()) == json.loads(json.dumps(report))
    assert paths["md"].read_text() == render_markdown(report)
    html = paths["html"].read_text()
    grids = _decode_pngs(html)
    assert len(grids) == 2
    np.testing.assert_array_equal(grids[0], sample_grid(sets["baseline"]))
    np.testing.assert_array_equal(grids[1], sample_grid(sets["candidate"]))
    assert html.count("<svg") == 5      # FID, NDB, JSD bar charts, the NDB bin plot, FID vs NDB
    assert "NDB bins" in html and "<table>" in html and "candidate-better" in html
    assert "lpips-alex weights not found" in html
    assert not re.search(r"(src|href)=['\"]?https?:", html)     # self-contained
    assert not list((tmp_path / "out").glob(".*part*"))


@pytest.mark.parametrize("reason, short", [
    ("lpips-alex weights not found; provide the weights", "lpips-alex weights not found"),
    ("the bins do not fit. Fit them again", "the bins do not fit"),
    ("images below 31x31 (e.g. pass --lpips-resize 32); or use vgg", "images below 31x31 (e.g. pass --lpips-resize 32)"),
    ("--ref /data/v1.2/ref.npz is a FID statistics file", "--ref /data/v1.2/ref.npz is a FID statistics file"),
    ("weights missing.", "weights missing"),
])
def test_short_reason_is_the_first_clause(reason, short):
    assert short_reason(reason) == short


def test_short_reason_cuts_a_long_clause_at_a_word():
    reason = "the reference folder holds " + "very " * 30 + "many images"
    short = short_reason(reason, limit=40)
    assert short == "the reference folder holds very very..."
    assert reason.startswith(short[:-3])


def test_long_skip_reason_is_short_in_the_tables_and_whole_below(sets, tmp_path):
    """The real reason compare records when the LPIPS backbone is missing offline."""
    from msgan_eval.errors import WeightsUnavailable
    from msgan_eval.features.lpips_net import resolve_lpips_backbone

    with pytest.raises(WeightsUnavailable) as info:
        resolve_lpips_backbone("alex")
    reason = str(info.value)
    assert len(reason) > 300 and "four ways" in reason
    report = _report(sets, reason)
    cell = "skipped: lpips-alex weights not found (reason below)"
    assert skipped_reasons(report) == [("LPIPS diversity", reason)]

    table = render_table(report).splitlines()
    row = next(line for line in table if line.startswith("LPIPS diversity"))
    assert row.endswith(cell) and "four ways" not in row
    assert table[table.index("overall: candidate-better") - 1] == f"LPIPS diversity skipped: {reason}"

    md = render_markdown(report)
    assert f"| {cell} |" in md
    assert md.count(reason) == 1 and f"- **LPIPS diversity**: {reason}" in md
    assert md.index(cell) < md.index(reason) < md.index("### Inputs")

    html = render_html(report, {})
    assert f'<td class="skipped">{cell}</td>' in html
    assert html.count("four ways") == 1
    assert f"<li><b>LPIPS diversity</b>: {html_escape(reason)}</li>" in html

    paths = cmp.write_report(tmp_path / "out", report, {"baseline": sets["baseline"],
                                                        "candidate": sets["candidate"]})
    assert json.loads(paths["json"].read_text())["skipped"]["lpips"] == reason


def test_short_skip_reason_needs_no_note(sets):
    report = _report(sets)
    assert skipped_reasons(report) == []
    table = render_table(report).splitlines()
    assert table[table.index("overall: candidate-better") - 1].startswith("JSD")   # no note between
    assert next(line for line in table if line.startswith("LPIPS")).endswith(
        "skipped: lpips-alex weights not found")
    assert "Skipped:" not in render_markdown(report) and "Skipped:" not in render_html(report, {})


def test_invalid_report_writes_nothing(sets, tmp_path):
    report = _report(sets)
    report["verdicts"]["fid"] = "maybe"
    with pytest.raises(ReportInvalid):
        cmp.write_report(tmp_path / "out", report, {"baseline": sets["baseline"]})
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_sample_grid_rows_are_conditions_in_sorted_order(sets):
    s = sets["candidate"]
    grid = sample_grid(s, per_condition=3, pad=1)
    h, w = s.sizes[0]
    label_width = grid.shape[1] - (3 * (w + 1) + 1)      # the class names' column, on the left
    assert grid.shape[0] == 3 * (h + 1) + 1 and label_width > 0 and grid.shape[2] == 3
    for r, (_, idx) in enumerate(s.groups().items()):
        for c in range(3):
            y, x = 1 + r * (h + 1), label_width + 1 + c * (w + 1)
            np.testing.assert_array_equal(grid[y:y + h, x:x + w], s[idx[c]])


def _ink_columns(cell: np.ndarray, background: int) -> np.ndarray:
    return np.nonzero((np.abs(cell.astype(int) - background) > 100).any(axis=(0, 2)))[0]


@pytest.mark.parametrize("background", [255, 0])
def test_grid_rows_carry_their_labels(background):
    from msgan_eval.report.render import LABEL_MAX_WIDTH, image_grid

    rows = [[np.full((32, 32, 3), 128, np.uint8)] * 2 for _ in range(3)]
    labels = ["T", "Ankle boot", "an unreasonably long class name, cut to fit the column " * 3]
    grid = image_grid(rows, background=background, row_labels=labels)
    width = grid.shape[1] - (2 * 34 + 2)
    ends = []
    for r in range(3):          # each row's label is drawn in its own row, in the contrasting ink
        cell = grid[2 + r * 34:2 + r * 34 + 32, :width]
        ink = _ink_columns(cell, background)
        assert ink.size, f"row {r} has no label"
        ends.append(ink.max())
    assert ends[0] < ends[1] < ends[2] <= LABEL_MAX_WIDTH + 4       # longer names, wider ink; cut
    gaps = np.concatenate([grid[r * 34:r * 34 + 2, :width] for r in range(4)])
    assert (gaps == background).all()                                # no label spills into a gap
    assert image_grid(rows, background=background).shape[1] == 2 * 34 + 2   # no labels: no column


def test_flat_folder_grid_has_no_label_column(tmp_path):
    s = _image_folder(tmp_path / "flat", ["x"], 3, 0)
    flat = scan_images(tmp_path / "flat" / "x")        # images directly in the folder: condition "."
    assert flat.conditions == ["."]
    assert sample_grid(flat, per_condition=3, pad=1).shape[1] == 3 * (s.sizes[0][1] + 1) + 1


def test_ndb_plot_marks_different_bins(sets):
    from msgan_eval.report.render import ndb_bins_svg

    svg = ndb_bins_svg(_outcomes()["ndb"].details["ndb"])
    # baseline: 4 different bins drawn filled in its colour; candidate: none
    assert svg.count('fill="#4c72b0" stroke="#4c72b0"') == 4
    assert svg.count('fill="#dd8452" stroke="#dd8452"') == 0


def test_flagged_samples_are_shown_per_run_and_flag(sets):
    from msgan_eval.report.flagged import flagged_html
    from msgan_eval.report.render import image_grid

    entry = {"n": 12, "fraction": 0.25, "counts": {"blank": 1, "saturated": 0, "noise": 2},
             "flagged": [{"index": 3, "path": "x", "flags": ["noise"]},
                         {"index": 7, "path": "y", "flags": ["blank", "noise"]},
                         {"index": 99, "path": "gone", "flags": ["noise"]}]}   # not in the set: left out
    report = {"details": {"degenerate": {"flags": ["blank", "saturated", "noise"], "candidate": entry}}}
    html = flagged_html(report, {"candidate": sets["candidate"], "baseline": sets["baseline"]})
    assert "<b>candidate</b>: 25.0% of 12 samples flagged (blank 1, saturated 0, noise 2)" in html
    assert "<b>baseline</b>" not in html                # no details for it
    grids = _decode_pngs(html)
    assert len(grids) == 2                               # blank and noise rows; saturated has none
    s = sets["candidate"]
    want = image_grid([[s[3], s[7]]], size=s.sizes[3], background=150)
    np.testing.assert_array_equal(grids[1], want[..., :grids[1].shape[2]])
    assert flagged_html({"details": {}}, {"candidate": s}) == ""
