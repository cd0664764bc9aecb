"""``msgan-eval check`` (msgan_eval/report/check.py): every rule kind, exit codes 0/1/2, messages."""
import json

import pytest
from click.testing import CliRunner

from msgan_eval.cli import main
from msgan_eval.report.check import evaluate_rules, load_rules
from msgan_eval.report.compare import overall_json
from msgan_eval.report.schema import SCHEMA_ID, validate_report

SHA = "0" * 64


def synthetic_report() -> dict:
    """A v1 report written by hand: FID, NDB and JSD computed, LPIPS skipped."""
    def est(value, low, high):
        return {"value": value, "ci": [low, high], "bias": 0.0}

    def inp(path):
        return {"path": path, "n_images": 100, "conditions": 10, "skipped_files": 0,
                "fingerprint": SHA}
    report = {
        "schema": SCHEMA_ID, "version": "0.1.0", "metrics": ["fid", "ndb", "jsd"],
        "runs": {"baseline": {"fid": est(50.0, 45.0, 55.0), "ndb": est(30, 25, 35),
                              "jsd": est(0.2, 0.15, 0.25)},
                 "candidate": {"fid": est(35.0, 31.0, 39.0), "ndb": est(12, 9, 15),
                               "jsd": est(0.05, 0.03, 0.07)}},
        "deltas": {"fid": {"value": -15.0, "ci": [-21.0, -9.0], "better": "lower"},
                   "ndb": {"value": -18, "ci": [-24, -12], "better": "lower"},
                   "jsd": {"value": -0.15, "ci": [-0.2, -0.1], "better": "lower"}},
        "verdicts": {"fid": "candidate-better", "ndb": "candidate-better", "jsd": "candidate-better"},
        "skipped": {"lpips": "lpips-alex weights not found"},
        "inputs": {"baseline": inp("b"), "candidate": inp("c"), "reference": inp("r")},
        "bootstrap": {"n": 200, "seed": 0, "confidence": 0.95, "method": "percentile-recentred"},
        "parameters": {}, "provenance": {"tool": {"name": "msgan-eval", "version": "0.1.0"},
                                         "packages": {}, "weights": {}, "command": []},
    }
    report["overall"] = overall_json(report["verdicts"], report["deltas"], report["runs"], {},
                                     report["skipped"])
    return report


def _write(tmp_path, report=None, rules=""):
    rpath = tmp_path / "report.json"
    rpath.write_text(json.dumps(synthetic_report() if report is None else report))
    epath = tmp_path / "expect.toml"
    epath.write_text(rules)
    return rpath, epath


def _check(*args):
    return CliRunner().invoke(main, ["check", *map(str, args)])


def test_synthetic_report_is_valid():
    validate_report(synthetic_report())


@pytest.mark.parametrize("rules,passes", [
    ("[candidate.fid]\nmax = 40", True),
    ("[candidate.fid]\nmax = 30", False),
    ("[candidate.fid]\nmax = 35", True),                      # bounds are inclusive
    ("[baseline.ndb]\nmin = 31", False),
    ("[baseline.ndb]\nmin = 20\nmax = 40", True),
    ("[delta.fid]\nmax = 0.5", True),
    ("[delta.jsd]\nmax = -0.2", False),
    ("[verdicts]\nndb = \"candidate-better\"", True),
    ("[verdicts]\nfid = \"baseline-better\"", False),
    ("[verdicts]\nfid = [\"candidate-better\", \"no-significant-difference\"]", True),
    ("[overall]\nverdict = \"candidate-better\"", True),
    ("[overall]\nverdict = \"trade-off\"", False),
    ("[overall]\nverdict = [\"trade-off\", \"candidate-better\"]", True),
])
def test_each_rule_kind(tmp_path, rules, passes):
    rpath, epath = _write(tmp_path, rules=rules)
    result = _check(rpath, "--expect", epath)
    assert result.exit_code == (0 if passes else 1), result.output
    first = result.output.splitlines()[0]
    assert first.startswith("PASS" if passes else "FAIL")


def test_lines_name_rule_value_bound_and_interval(tmp_path):
    rpath, epath = _write(tmp_path, rules="[candidate.fid]\nmax = 30\n[verdicts]\nndb = \"candidate-better\"")
    result = _check(rpath, "--expect", epath)
    lines = result.output.splitlines()
    assert lines[0] == "FAIL  candidate.fid <= 30: 35 (95% CI 31 .. 39)"
    assert lines[1] == "PASS  verdicts.ndb in candidate-better: candidate-better"
    assert "1 of 2 rules failed" in lines[2]


def test_overall_rule_line_and_json(tmp_path):
    rpath, epath = _write(tmp_path, rules="[overall]\nverdict = \"candidate-better\"")
    result = _check(rpath, "--expect", epath)
    assert result.output.splitlines()[0] == (
        "PASS  overall.verdict in candidate-better: candidate-better (candidate better on fidelity: "
        "FID -15.00; diversity: NDB -18.0, JSD -0.1500; worse on none of the 3 metrics measured)")
    out = json.loads(_check(rpath, "--expect", epath, "--json").stdout)
    assert out["rules"][0]["rule"] == "overall.verdict.verdict"
    assert out["rules"][0]["bound"] == ["candidate-better"] and out["rules"][0]["passed"] is True


def test_overall_rule_on_a_report_without_it_fails_with_the_reason(tmp_path):
    report = synthetic_report()
    del report["overall"]                        # a report written before the joint verdict
    rpath, epath = _write(tmp_path, report=report, rules="[overall]\nverdict = \"candidate-better\"")
    result = _check(rpath, "--expect", epath)
    assert result.exit_code == 1
    assert "no overall verdict (written by an older msgan-eval); re-run compare" in result.output


def test_rule_on_skipped_metric_fails_with_the_reason(tmp_path):
    rpath, epath = _write(tmp_path, rules="[candidate.lpips]\nmin = 0.2")
    result = _check(rpath, "--expect", epath)
    assert result.exit_code == 1
    assert "skipped: lpips-alex weights not found" in result.output


def test_json_output_is_one_object(tmp_path):
    rpath, epath = _write(tmp_path, rules="[candidate.fid]\nmax = 40\n[delta.ndb]\nmax = -20")
    result = _check(rpath, "--expect", epath, "--json")
    out = json.loads(result.stdout)          # click >= 8.2 keeps stderr out of result.stdout
    assert result.exit_code == 1 and out["passed"] is False and out["version"]
    assert [r["passed"] for r in out["rules"]] == [True, False]
    assert out["rules"][1] == {"rule": "delta.ndb.max", "bound": -20.0, "value": -18.0,
                               "passed": False, "detail": "95% CI -24 .. -12"}


def test_report_folder_is_accepted(tmp_path):
    _, epath = _write(tmp_path, rules="[candidate.fid]\nmax = 40")
    assert _check(tmp_path, "--expect", epath).exit_code == 0


@pytest.mark.parametrize("rules,needle", [
    ("[candidate.fidd]\nmax = 40", "unknown metric 'fidd'"),
    ("[candidate.fid]\nbelow = 40", "unknown key 'below'"),
    ("[candidate.fid]\nmax = \"forty\"", "max must be a finite number"),
    ("[candidate.fid]\nmax = true", "max must be a finite number"),
    ("[winner.fid]\nmax = 1", "unknown section [winner]"),
    ("[verdicts]\nfid = \"better\"", "use one of candidate-better"),
    ("[verdicts]\nlpipz = \"candidate-better\"", "unknown metric 'lpipz'"),
    ("[candidate.fid\nmax = 1", "not valid TOML"),
    ("", "no rules"),
    ("[overall]\nverdikt = \"candidate-better\"", "[overall] unknown key 'verdikt'; use verdict"),
    ("[overall]\nverdict = \"better\"", "[overall] verdict = 'better': use one of candidate-better, "
                                        "baseline-better, trade-off, no-significant-difference"),
    ("[overall]\nverdict = []", "[overall] verdict = []: use one of"),
    ("[overall]\nverdict = 1", "[overall] verdict = 1: use one of"),
    ("[overall]\n", "[overall] is empty"),
    ("overall = 1", "[overall] must be a table"),
])
def test_bad_rules_file_exits_2_naming_it(tmp_path, rules, needle):
    rpath, epath = _write(tmp_path, rules=rules)
    result = _check(rpath, "--expect", epath)
    assert result.exit_code == 2, result.output
    assert needle in result.output and str(epath) in result.output
    assert "Traceback" not in result.output


def _broken(change):
    report = synthetic_report()
    change(report)
    return report


@pytest.mark.parametrize("report,needle", [
    (_broken(lambda r: r.update(schema="msgan-eval/report/v2")), "'msgan-eval/report/v2' is not supported"),
    (_broken(lambda r: r.pop("verdicts")), "verdicts: missing"),
    (_broken(lambda r: r["runs"]["candidate"]["fid"].update(ci=[1.0])), "runs.candidate.fid.ci: 1 items"),
    (_broken(lambda r: r["runs"]["candidate"]["fid"].update(value="35")), "runs.candidate.fid.value: expected number"),
    (_broken(lambda r: r["verdicts"].update(fid="better")), "verdicts.fid: 'better' is not one of"),
    (_broken(lambda r: r["overall"].update(verdict="better")), "overall.verdict: 'better' is not one of"),
    (_broken(lambda r: r["overall"].pop("reasons")), "overall.reasons: missing"),
    (_broken(lambda r: r["runs"]["candidate"].update(fidelity={"value": 1, "ci": [0, 2]})), "runs.candidate.fidelity: unknown field"),
    ([1, 2], "expected object"),
])
def test_bad_report_exits_2_naming_the_field(tmp_path, report, needle):
    rpath, epath = _write(tmp_path, report=report, rules="[candidate.fid]\nmax = 40")
    result = _check(rpath, "--expect", epath)
    assert result.exit_code == 2, result.output
    assert needle in result.output and str(rpath) in result.output
    assert "Traceback" not in result.output


def test_missing_and_malformed_files_exit_2(tmp_path):
    rpath, epath = _write(tmp_path, rules="[candidate.fid]\nmax = 40")
    result = _check(tmp_path / "nope.json", "--expect", epath)
    assert result.exit_code == 2 and "nope.json: no such report" in result.output
    result = _check(rpath, "--expect", tmp_path / "nope.toml")
    assert result.exit_code == 2 and "nope.toml: no such expectations file" in result.output
    rpath.write_text("{not json")
    result = _check(rpath, "--expect", epath)
    assert result.exit_code == 2 and "not valid JSON" in result.output


def test_evaluate_rules_directly(tmp_path):
    (tmp_path / "e.toml").write_text("[candidate.fid]\nmin = 36\n[delta.fid]\nmax = 0")
    results = evaluate_rules(synthetic_report(), load_rules(tmp_path / "e.toml"))
    assert [r.passed for r in results] == [False, True]
    assert results[0].value == 35.0 and results[1].value == -15.0
