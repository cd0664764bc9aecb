"""Train the bundled text encoder (msgan_eval/features/text_encoder.py) deterministically.

Every caption the fashion-mnist-captions grammar can write (msgan_eval/train/caption_data.py),
each labelled with its class and its colour (or none); the encoder and two linear heads are
trained full-batch with Adam (seed 0, one torch thread) until both labels are right for every
caption; the heads are dropped, the encoder and its vocabulary written (float32, a few kB).

    PYTHONPATH=. .venv/bin/python scripts/train_text_encoder.py \
        --out msgan_eval/data/text-encoder-fashion-captions.pt        # the shipped file
"""
import argparse
import hashlib
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from msgan_eval.features.text_encoder import FILE_FORMAT, T_DIM, build_text_encoder  # noqa: E402
from msgan_eval.fileio import write_bytes_atomic  # noqa: E402
from msgan_eval.train.caption_data import (  # noqa: E402
    COLOUR_TEMPLATES,
    COLOUR_WORDS,
    NOUNS,
    PLAIN_TEMPLATES,
    article,
    vocabulary,
)


def every_caption():
    """(text, class, colour or 6 for none) for every word choice and template of the grammar."""
    out = []
    for c, nouns in enumerate(NOUNS):
        for noun in nouns:
            for template in PLAIN_TEMPLATES:
                out.append((article(template.format(noun=noun)), c, 6))
            for h, colours in enumerate(COLOUR_WORDS):
                for colour in colours:
                    for template in COLOUR_TEMPLATES:
                        text = template.format(colour=colour, noun=noun)
                        out.append((article(text), c, h))
    return out


def train(steps: int, seed: int, lr: float):
    torch.manual_seed(seed)
    encoder = build_text_encoder(vocabulary())
    heads = torch.nn.ModuleDict({"noun": torch.nn.Linear(T_DIM, len(NOUNS)),
                                 "colour": torch.nn.Linear(T_DIM, len(COLOUR_WORDS) + 1)})
    captions = every_caption()
    ids, offsets = encoder.token_ids([t for t, _, _ in captions])
    nouns = torch.tensor([c for _, c, _ in captions])
    colours = torch.tensor([h for _, _, h in captions])
    params = list(encoder.net.parameters()) + list(heads.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        e = encoder.net(ids, offsets)
        loss = F.cross_entropy(heads["noun"](e), nouns) + F.cross_entropy(heads["colour"](e), colours)
        loss.backward()
        opt.step()
    with torch.no_grad():
        e = encoder.net(ids, offsets)
        right = (heads["noun"](e).argmax(1) == nouns) & (heads["colour"](e).argmax(1) == colours)
    return encoder, float(right.float().mean()), len(captions), float(loss.detach())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=0.01)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    encoder, accuracy, n, loss = train(args.steps, args.seed, args.lr)
    blob = {"format": FILE_FORMAT, "vocab": list(encoder.vocab), "t_dim": T_DIM,
            "state_dict": {k: v.float().contiguous() for k, v in encoder.net.state_dict().items()},
            "accuracy": accuracy, "captions": n, "seed": args.seed, "steps": args.steps}
    buffer = io.BytesIO()          # no file name in the archive: the same bytes on every run
    torch.save(blob, buffer)
    write_bytes_atomic(args.out, buffer.getvalue())
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"{n} captions, final loss {loss:.4f}, class and colour right for {accuracy:.2%}; "
          f"{args.out} ({args.out.stat().st_size} bytes) sha256 {digest}")


if __name__ == "__main__":
    main()
