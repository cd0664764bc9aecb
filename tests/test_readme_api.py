"""The README's "Python API" section runs as written (random FID Inception and AlexNet weights,
named through the environment variables a user would set, and small image folders)."""
import os
import re
from pathlib import Path

import numpy as np
import pytest

from msgan_eval.images import write_image_folder

README = Path(__file__).parents[1] / "README.md"

pytestmark = [pytest.mark.filterwarnings("ignore:The `disp` argument:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:Matrix is singular")]


def python_blocks(text: str, section: str) -> list:
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", body, flags=re.S)


def test_readme_python_section_runs(tmp_path, monkeypatch, random_weights, one_torch_thread):
    from msgan_eval.features.lpips_net import write_random_backbone

    blocks = python_blocks(README.read_text(), "Python API")
    assert len(blocks) == 5
    rng = np.random.default_rng(0)
    for i, name in enumerate(("real", "fake", "baseline", "candidate")):
        write_image_folder(tmp_path / name, rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8),
                           [k % 2 for k in range(12)], ["cat", "dog"])
    monkeypatch.setenv("MSGAN_EVAL_INCEPTION_WEIGHTS", str(random_weights))
    monkeypatch.setenv("MSGAN_EVAL_LPIPS_BACKBONE",
                       str(write_random_backbone("alex", tmp_path / "alex.pth")))
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert set(namespace["report"].verdicts) == {"fid", "lpips", "ndb", "jsd"}
    assert (tmp_path / "report" / "report.html").is_file() and (tmp_path / "bins.npz").is_file()
    assert namespace["first"].k == 10 and set(namespace["diversity"].groups) == {"cat", "dog"}
    assert os.environ["MSGAN_EVAL_OFFLINE"] == "1"       # nothing was downloaded
