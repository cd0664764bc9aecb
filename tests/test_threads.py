"""The default thread count: free cores now, not a minute ago (msgan_eval/threads.py)."""
import os

import pytest

from msgan_eval import threads


def _loadavg(tmp_path, line):
    path = tmp_path / "loadavg"
    path.write_text(line)
    return str(path)


def test_runnable_now_excludes_this_process(tmp_path):
    # fourth field "running/total": 1 running = only the reader itself
    assert threads.runnable_now(_loadavg(tmp_path, "7.90 3.00 1.00 1/300 4242\n"), interval=0) == 0
    assert threads.runnable_now(_loadavg(tmp_path, "0.10 0.10 0.10 3/300 4242\n"), interval=0) == 2


def test_runnable_now_unreadable_is_none(tmp_path):
    assert threads.runnable_now(str(tmp_path / "missing"), interval=0) is None
    assert threads.runnable_now(_loadavg(tmp_path, "garbage\n"), interval=0) is None


def test_a_finished_job_in_the_load_average_does_not_cost_a_core(monkeypatch):
    # pytorch-fid ran for a minute and ended: load average ~2, nothing running now
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (2.0, 1.5, 1.0))
    monkeypatch.setattr(threads, "runnable_now", lambda *a, **k: 0)
    assert threads.default_threads() == 2
    monkeypatch.setattr(threads, "runnable_now", lambda *a, **k: 1)       # one job running now
    assert threads.default_threads() == 1
    monkeypatch.setattr(threads, "runnable_now", lambda *a, **k: 9)       # oversubscribed: still 1
    assert threads.default_threads() == 1


@pytest.mark.parametrize("load, expected", [(0.2, 2), (1.4, 1), (5.0, 1)])
def test_load_average_is_the_fallback(monkeypatch, load, expected):
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    monkeypatch.setattr(threads, "runnable_now", lambda *a, **k: None)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert threads.default_threads() == expected
