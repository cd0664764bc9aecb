"""The joint verdict of compare (msgan_eval/metrics/overall.py) on crafted per-metric verdict sets.

The rule is stated in the issue (#22): candidate-better = better on at least one metric and
significantly worse on none; baseline-better its mirror; trade-off = better on some, worse on
others; no-significant-difference = none differs. These tests write the rule out again on every
combination of three verdicts instead of trusting the module's own branches.
"""
import itertools

import pytest

from msgan_eval.metrics.overall import overall_verdict
from msgan_eval.metrics.registry import (
    BASELINE_BETTER,
    CANDIDATE_BETTER,
    FACTS,
    METRICS,
    NO_DIFFERENCE,
    OVERALL_VERDICTS,
    ROLES,
    TRADE_OFF,
    VERDICTS,
)

B, C, N = BASELINE_BETTER, CANDIDATE_BETTER, NO_DIFFERENCE


def _written_rule(verdicts):
    better = C in verdicts.values()
    worse = B in verdicts.values()
    return {(True, False): C, (False, True): B, (True, True): TRADE_OFF, (False, False): N}[(better, worse)]


@pytest.mark.parametrize("combo", list(itertools.product(VERDICTS, repeat=3)))
def test_every_combination_of_three_verdicts_follows_the_rule(combo):
    verdicts = dict(zip(("fid", "lpips", "ndb"), combo))
    got = overall_verdict(verdicts, {m: 1.0 for m in verdicts})
    assert got.verdict == _written_rule(verdicts)
    assert set(got.better) == {m for m, v in verdicts.items() if v == C}
    assert set(got.worse) == {m for m, v in verdicts.items() if v == B}
    # the mirror: swapping the arms swaps the two one-sided verdicts and keeps the others
    mirror = {m: {C: B, B: C}.get(v, v) for m, v in verdicts.items()}
    flipped = overall_verdict(mirror, {m: -1.0 for m in verdicts}).verdict
    assert flipped == {C: B, B: C}.get(got.verdict, got.verdict)


def test_the_issues_trade_off_reads_as_the_issue_writes_it():
    got = overall_verdict({"lpips": C, "fid": B, "ndb": N}, {"lpips": 0.34, "fid": 136.0, "ndb": 1.0})
    assert got.verdict == TRADE_OFF and got.better == ("lpips",) and got.worse == ("fid",)
    assert got.reasons[0] == ("candidate better on diversity: LPIPS diversity +0.3400; "
                              "worse on fidelity: FID +136.00")
    assert got.reasons[1].startswith("more diverse but less faithful")


def test_mode_dropping_reads_as_such():
    got = overall_verdict({"fid": C, "recall": B}, {"fid": -5.0, "recall": -0.2})
    assert got.verdict == TRADE_OFF
    assert got.reasons[0] == "candidate better on fidelity: FID -5.00; worse on diversity: Recall -0.2000"
    assert "mode dropping" in got.reasons[1]


def test_one_sided_and_null_headlines():
    got = overall_verdict({"fid": C, "lpips": C, "ndb": N}, {"fid": -20.0, "lpips": 0.01, "ndb": 0})
    assert got.reasons == ("candidate better on fidelity: FID -20.00; diversity: LPIPS diversity "
                           "+0.0100; worse on none of the 3 metrics measured",)
    got = overall_verdict({"fid": B}, {"fid": 3.0})
    assert got.verdict == B and got.reasons == ("candidate worse on fidelity: FID +3.00; better on "
                                                "none of the 1 metric measured",)
    got = overall_verdict({"fid": N, "jsd": N}, {"fid": 0.1, "jsd": 0.0})
    assert got.reasons == ("no significant difference on any of the 2 metrics measured (FID, JSD)",)
    assert overall_verdict({}, {}).reasons == ("no metric measured",)


def test_skipped_metrics_are_named_and_left_out_of_the_verdict():
    got = overall_verdict({"fid": C}, {"fid": -1.0}, skipped=("lpips", "ndb", "jsd"))
    assert got.verdict == C
    assert got.reasons[-1] == ("not measured (skipped, see the reasons in the report): "
                               "LPIPS diversity, NDB, JSD")


def test_a_diversity_only_gain_without_inspection_is_flagged():
    got = overall_verdict({"lpips": C, "fid": N}, {"lpips": 0.3, "fid": 2.0})
    assert got.verdict == C and "degenerate samples were not inspected" in got.reasons[1]


def test_unknown_metric_is_refused():
    with pytest.raises(ValueError, match="unknown metrics"):
        overall_verdict({"fidelity": C}, {"fidelity": 1.0})


def test_every_metric_declares_a_role_and_as_dict_keys():
    assert all(m.role in ROLES for m in METRICS)
    assert {FACTS[m].role for m in ("fid", "kid", "precision", "density", "fid_per_class")} == {"fidelity"}
    assert {FACTS[m].role for m in ("lpips", "recall", "coverage", "vendi", "ndb", "jsd")} == {"diversity"}
    got = overall_verdict({"fid": C}, {"fid": -1.0}).as_dict()
    assert set(got) == {"verdict", "reasons", "better", "worse"} and got["verdict"] in OVERALL_VERDICTS


def test_docstring_example_runs():
    import doctest

    import msgan_eval.metrics.overall as module

    assert doctest.testmod(module, raise_on_error=True).attempted >= 1
