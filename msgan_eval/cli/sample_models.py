"""``msgan-eval sample`` of the unpaired (DRIT) and text-to-image (StackGAN) runs: call the
sampler, print what it wrote and its hue counts."""
import json
from pathlib import Path

from msgan_eval import __version__

from .options import emit


def sample_unpaired(run_dir, out, inputs, per_input, seed, step, device, quiet, as_json):
    from msgan_eval.train.drit_sampler import sample_drit_run

    sample_drit_run(run_dir, out, inputs=inputs, per_input=per_input, seed=seed, device=device,
                    quiet=quiet, step=step)
    hues = json.loads((Path(out) / "sample.json").read_text()).get("hues")
    payload = {"version": __version__, "run": run_dir, "out": out, "inputs": inputs,
               "per_input": per_input, "seed": seed, "step": step, "n": inputs * per_input,
               "hues": hues}
    line = (f"wrote {per_input} A->B translations of each of {inputs} test inputs to {out}/samples "
            "(inputs beside it)")
    if hues:
        line += f"; distinct hues per input: {hues['mean_distinct']:.2f} (of 6)"
    emit(payload, as_json, line)


def sample_captions(run_dir, out, captions, per_caption, seed, step, device, quiet, as_json):
    from msgan_eval.train.stackgan_sampler import sample_stackgan_run

    sample_stackgan_run(run_dir, out, captions=captions, per_caption=per_caption, seed=seed,
                        device=device, quiet=quiet, step=step)
    manifest = json.loads((Path(out) / "sample.json").read_text())
    payload = {"version": __version__, "run": run_dir, "out": out, "captions": manifest["captions"],
               "per_caption": per_caption, "seed": seed, "step": step,
               "n": manifest["captions"] * per_caption, "hues": manifest.get("hues")}
    line = (f"wrote {per_caption} images for each of {manifest['captions']} captions to "
            f"{out}/samples (captions.json beside it)")
    hues = manifest.get("hues") or {}
    if hues.get("colourless"):
        line += (f"; distinct hues per colourless caption: {hues['colourless']['mean_distinct']:.2f}"
                 f" (of 6)")
    if hues.get("named_hue_share") is not None:
        line += f"; samples in the named hue: {hues['named_hue_share']:.0%}"
    emit(payload, as_json, line)
