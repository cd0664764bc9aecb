"""DINOv2 / CLIP feature extraction: images per second of msgan-eval against the reference
pipelines, in the same run, on the same files and the same (seeded random) weights, and the
largest difference of their features.

- ``dinov2-vit-s14``: dgm-eval's pipeline (``ImagePathDataset`` opening ``convert("RGB")``,
  ``DINOv2Encoder.transform``, a DataLoader of 50, ``get_representations``' loop) on the official
  DINOv2 forward (tests/reference_dinov2.py), against ``msgan-eval`` with ``--preset dgm-eval``;
- ``clip-vit-b32``: OpenAI's ``preprocess`` (``_transform``) in a DataLoader of 50 on OpenAI's
  model (torch-fidelity's copy of clip/model.py, ``build_model``), against ``--preset openai-clip``;
  and torch-fidelity's ``FeatureExtractorCLIP`` (TorchScript archive, uint8 batches, its TF1
  resize) against ``--preset torch-fidelity``.

Each side is timed end to end in this process: weights read and the network built, images decoded,
preprocessed and embedded (msgan-eval also scans and validates the folder). Fashion-MNIST test
images (28x28 grayscale PNGs) from Debian's dataset-fashion-mnist. Weights are random (no
pretrained file exists offline): speed does not depend on their values. Goal: >= 1.5x.

    .venv/bin/python benchmarks/bench_features.py [--n 200] [--threads 1] [--json]
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))


def fashion_pngs(folder: Path, n: int) -> Path:
    import numpy as np
    from PIL import Image

    from msgan_eval.datasets import load_fashion_mnist

    images = load_fashion_mnist("test")[0][:n]
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(np.asarray(images)):
        Image.fromarray(img.squeeze()).save(folder / f"{i:05d}.png")
    return folder


def _loader(files, transform, batch_size=50):
    import torch
    from PIL import Image

    class ImagePathDataset(torch.utils.data.Dataset):      # dgm_eval/dataloaders.py
        def __len__(self):
            return len(files)

        def __getitem__(self, i):
            return transform(Image.open(files[i]).convert("RGB"))

    return torch.utils.data.DataLoader(ImagePathDataset(), batch_size=batch_size, num_workers=0)


def reference_dinov2(files, weights):
    import numpy as np
    import torch
    import torchvision.transforms as TF
    from reference_dinov2 import dinov2_hub_model

    model = dinov2_hub_model("vits14")
    model.load_state_dict(torch.load(weights, map_location="cpu"))
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    resize = TF.Compose([TF.Resize((224, 224), TF.InterpolationMode.BICUBIC), TF.ToTensor()])
    out = []
    with torch.no_grad():
        for batch in _loader(files, lambda im: TF.Normalize(mean, std)(resize(im))):
            out.append(model(batch).numpy())
    return np.concatenate(out).astype(np.float64)


def reference_openai(files, state_file):
    import numpy as np
    import torch
    import torchvision.transforms as TF
    from torch_fidelity.feature_extractor_clip import build_model

    visual = build_model(torch.load(state_file, map_location="cpu"), torch.float32).visual.eval()
    preprocess = TF.Compose([TF.Resize(224, interpolation=TF.InterpolationMode.BICUBIC),
                             TF.CenterCrop(224), lambda im: im.convert("RGB"), TF.ToTensor(),
                             TF.Normalize((0.48145466, 0.4578275, 0.40821073),
                                          (0.26862954, 0.26130258, 0.27577711))])
    out = []
    with torch.no_grad():
        for batch in _loader(files, preprocess):
            out.append(visual(batch).numpy())
    return np.concatenate(out).astype(np.float64)


def reference_torch_fidelity(files, archive):
    import numpy as np
    import torch
    from torch_fidelity.feature_extractor_clip import FeatureExtractorCLIP

    extractor = FeatureExtractorCLIP("clip-vit-b-32", ["clip"], feature_extractor_weights_path=str(archive))
    to_uint8 = lambda im: torch.from_numpy(np.array(im)).permute(2, 0, 1)   # noqa: E731
    out = []
    with torch.no_grad():
        for batch in _loader(files, to_uint8):
            out.append(extractor(batch)[0].numpy())
    return np.concatenate(out).astype(np.float64)


def ours(folder, name, weights, preset, batch_size):
    from msgan_eval.evaluate import features as memo
    from msgan_eval.evaluate.features import feature_source
    from msgan_eval.evaluate.inputs import as_image_set
    from msgan_eval.features import vit

    vit._cached.cache_clear()
    memo.clear_memo()
    source = feature_source(name, preset=preset, feature_weights=weights, device="cpu",
                            batch_size=batch_size)
    return source.of(as_image_set(str(folder), param="x"))


def timed(fn, *args):
    """(result, wall seconds, CPU seconds of this process): on a machine other jobs load, the CPU
    time of the one thread is the steadier figure."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=2,
                        help="runs of each side, alternating; the fastest counts")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import numpy as np
    import torch
    from _vit_fixtures import clip_state, write_clip_archive, write_dinov2

    torch.set_num_threads(args.threads)
    os.environ.setdefault("MSGAN_EVAL_CACHE", tempfile.mkdtemp())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = fashion_pngs(tmp / "images", args.n)
        files = sorted(folder.glob("*.png"))
        dino = tmp / "dinov2_vits14_pretrain.pth"
        write_dinov2(dino, "dinov2-vit-s14", seed=0)
        state = clip_state("clip-vit-b32", seed=0)
        torch.save(state, tmp / "clip-state.pt")
        write_clip_archive(tmp / "ViT-B-32.pt", state)
        cases = [("dinov2-vit-s14", "dgm-eval", "dgm-eval + official DINOv2",
                  lambda: reference_dinov2(files, dino), dino),
                 ("clip-vit-b32", "openai-clip", "OpenAI preprocess + model",
                  lambda: reference_openai(files, tmp / "clip-state.pt"), tmp / "ViT-B-32.pt"),
                 ("clip-vit-b32", "torch-fidelity", "torch-fidelity FeatureExtractorCLIP",
                  lambda: reference_torch_fidelity(files, tmp / "ViT-B-32.pt"), tmp / "ViT-B-32.pt")]
        for name, preset, reference, run_reference, weights in cases:
            best = {"ref": (float("inf"),) * 2, "ours": (float("inf"),) * 2}
            for _ in range(args.repeats):
                ref, *t_ref = timed(run_reference)
                mine, *t_ours = timed(ours, folder, name, weights, preset, args.batch_size)
                best = {"ref": tuple(map(min, best["ref"], t_ref)),
                        "ours": tuple(map(min, best["ours"], t_ours))}
            (w_ref, c_ref), (w_ours, c_ours) = best["ref"], best["ours"]
            rows.append({"features": name, "preset": preset, "reference": reference, "n": args.n,
                         "reference_img_s": args.n / w_ref, "ours_img_s": args.n / w_ours,
                         "ratio": w_ref / w_ours, "cpu_ratio": c_ref / c_ours,
                         "max_abs_diff": float(np.abs(ref - mine).max())})
    load = os.getloadavg()
    if args.json:
        print(json.dumps({"rows": rows, "threads": args.threads, "loadavg": load}))
        return
    for r in rows:
        print(f"{r['features']:15s} {r['preset']:15s} ours {r['ours_img_s']:6.2f} img/s, "
              f"{r['reference']} {r['reference_img_s']:6.2f} img/s: {r['ratio']:.2f}x wall, "
              f"{r['cpu_ratio']:.2f}x CPU time; max |diff| {r['max_abs_diff']:.2e}")
    print(f"threads {args.threads}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
