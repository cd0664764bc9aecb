"""msgan_eval.names: a name read from a file becomes a path component only when it stays one."""
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msgan_eval.errors import UserError
from msgan_eval.names import name_problem, path_component, path_components


@pytest.mark.parametrize("name", ["../x", "..", ".", "", "/etc", "a/b", "a\\b", "C:", "C:x",
                                  "a\nb", "a\x00b", "tab\there", "\x7f", "x" * 256, 3, None,
                                  b"bytes"])
def test_unsafe_names_are_refused_naming_the_source(name):
    with pytest.raises(UserError) as info:
        path_component(name, "run/checkpoint.pt")
    message = str(info.value)
    assert message.startswith("run/checkpoint.pt: class name ") and "\n" not in message


@pytest.mark.parametrize("name", ["T-shirt/top".replace("/", "-"), "Ankle boot", "...", ".hidden",
                                  "a..b", "日本", "x" * 255, "bad\udcffname", "~", "-rf"])
def test_plain_names_pass_unchanged(name):
    assert path_component(name, "src") == name


def test_duplicates_would_merge_two_classes():
    with pytest.raises(UserError, match="'a' appears twice"):
        path_components(["a", "b", "a"], "labels.npz")


@settings(max_examples=300, deadline=None)
@given(name=st.text(max_size=40) | st.sampled_from(["..", ".", "../..", "a/../..", "/"]))
def test_any_accepted_name_stays_one_level_inside(name):
    base = Path("/nonexistent/out")
    if name_problem(name) is not None:
        with pytest.raises(UserError):
            path_component(name, "src")
        return
    joined = base / path_component(name, "src")
    assert joined.parent == base and joined.name == name
    assert os.path.normpath(joined) == str(joined)          # nothing to collapse: no '..', no '/'
    assert all(ord(ch) >= 32 and ord(ch) != 127 for ch in name)
