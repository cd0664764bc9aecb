"""The feature networks beyond Inception: DINOv2 and OpenAI CLIP vision towers, one row each.

Each row names its official weight file (facebookresearch/dinov2's hub checkpoints, OpenAI's
released CLIP archives), the architecture the file must hold and the preprocessing preset that
reproduces the reference tool by default. The architecture is spelled out here, key by key and
shape by shape, so a file can be checked (and a wrong one named) without building a model and
without timm installed.

DINOv2 (``dinov2/hub/backbones.py``, ``dinov2/models/vision_transformer.py`` at b8931f7): ViT with
patch 14, LayerNorm eps 1e-6, LayerScale (``ls1``/``ls2.gamma``), qkv bias, exact GELU MLP (g/14:
SwiGLU ``mlp.w12``/``mlp.w3``), a 37 x 37 position grid (518 px) plus the class position, an unused
``mask_token``. CLIP (``clip/model.py`` ``VisionTransformer``, ``build_model``): ``visual.*`` keys,
QuickGELU, LayerNorm eps 1e-5, ``ln_post`` on the class token then ``@ proj`` (no bias).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

from msgan_eval.weights import WeightSpec

DINOV2_GRID = 37                  # the hub checkpoints' position grid: 518 px / 14
DINOV2_URL = "https://dl.fbaipublicfiles.com/dinov2"
CLIP_URL = "https://openaipublic.azureedge.net/clip/models"
# Meta publishes no checksum for the DINOv2 checkpoints, so no file can be verified against one.
DINOV2_NO_HASH = ("Meta publishes no SHA-256 for the DINOv2 checkpoints: the file's structure is "
                  "checked, its SHA-256 recorded, and results are marked unverified")


@dataclass(frozen=True)
class FeatureNet:
    """One feature network: its ``--features`` name, architecture, weights and default preset."""

    name: str
    family: str               # dinov2 | clip
    arch: str                 # how the official code names it (messages)
    timm_name: str            # the timm model that runs it (features/vit.py)
    dims: int                 # feature size
    input_size: int           # the network's input, pixels (square)
    patch: int
    width: int
    depth: int
    grid: int                 # position grid stored in the checkpoint (per side)
    swiglu: bool = False      # DINOv2 g/14's SwiGLU feed-forward
    spec: Optional[WeightSpec] = None

    @property
    def default_preset(self) -> str:
        return "dgm-eval" if self.family == "dinov2" else "openai-clip"

    @property
    def heads(self) -> int:
        return self.width // 64


def _dinov2(name: str, short: str, arch: str, width: int, depth: int, swiglu: bool = False) -> FeatureNet:
    stem = f"dinov2_{short}"
    spec = WeightSpec(
        key=name, filename=f"{stem}_pretrain.pth", url=f"{DINOV2_URL}/{stem}/{stem}_pretrain.pth",
        env_var=f"MSGAN_EVAL_{name.upper().replace('-', '_')}_WEIGHTS", option="--feature-weights",
        description=f"DINOv2 {arch} backbone (facebookresearch/dinov2 hub checkpoint)",
        ways="(3) copy the file from a machine where torch.hub.load('facebookresearch/dinov2', "
             f"'{stem}') ran (it is cached under the same name); ",
        no_hash_reason=DINOV2_NO_HASH)
    return FeatureNet(name, "dinov2", f"DINOv2 {arch}", f"vit_{_TIMM_SIZE[arch]}_patch14_dinov2",
                      width, 224, 14, width, depth, DINOV2_GRID, swiglu, spec)


_TIMM_SIZE = {"ViT-S/14": "small", "ViT-B/14": "base", "ViT-L/14": "large", "ViT-g/14": "giant"}


def _clip(name: str, file: str, sha256: str, arch: str, timm_name: str, dims: int, size: int,
          patch: int, width: int, depth: int) -> FeatureNet:
    spec = WeightSpec(
        key=name, filename=f"{file}.pt", url=f"{CLIP_URL}/{sha256}/{file}.pt",
        env_var=f"MSGAN_EVAL_{name.upper().replace('-', '_')}_WEIGHTS", option="--feature-weights",
        description=f"OpenAI CLIP {arch} (the released {file}.pt, or its model.state_dict())",
        sha256_prefix=sha256,
        ways=f"(3) copy ~/.cache/clip/{file}.pt from a machine where clip.load ran; ")
    return FeatureNet(name, "clip", f"CLIP {arch}", timm_name, dims, size, patch, width, depth,
                      size // patch, False, spec)


NETWORKS: Dict[str, FeatureNet] = {n.name: n for n in (
    _dinov2("dinov2-vit-s14", "vits14", "ViT-S/14", 384, 12),
    _dinov2("dinov2-vit-b14", "vitb14", "ViT-B/14", 768, 12),
    _dinov2("dinov2-vit-l14", "vitl14", "ViT-L/14", 1024, 24),
    _dinov2("dinov2-vit-g14", "vitg14", "ViT-g/14", 1536, 40, swiglu=True),
    # SHA-256s: the URLs of openai/CLIP clip/clip.py _MODELS (lines 36-39)
    _clip("clip-vit-b32", "ViT-B-32", "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",
          "ViT-B/32", "vit_base_patch32_clip_quickgelu_224", 512, 224, 32, 768, 12),
    _clip("clip-vit-l14", "ViT-L-14", "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836",
          "ViT-L/14", "vit_large_patch14_clip_quickgelu_224", 768, 224, 14, 1024, 24),
    _clip("clip-vit-l14-336", "ViT-L-14-336px",
          "3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02",
          "ViT-L/14@336px", "vit_large_patch14_clip_quickgelu_336", 768, 336, 14, 1024, 24),
)}
NETWORK_NAMES: Tuple[str, ...] = tuple(NETWORKS)


def _dinov2_block(i: int, d: int, swiglu: bool) -> Iterator[Tuple[str, tuple]]:
    p = f"blocks.{i}."
    yield from ((p + "norm1.weight", (d,)), (p + "norm1.bias", (d,)),
                (p + "attn.qkv.weight", (3 * d, d)), (p + "attn.qkv.bias", (3 * d,)),
                (p + "attn.proj.weight", (d, d)), (p + "attn.proj.bias", (d,)),
                (p + "ls1.gamma", (d,)), (p + "norm2.weight", (d,)), (p + "norm2.bias", (d,)))
    if swiglu:      # SwiGLUFFNFused: hidden = (int(4d * 2 / 3) + 7) // 8 * 8 (layers/swiglu_ffn.py)
        h = (int(4 * d * 2 / 3) + 7) // 8 * 8
        yield from ((p + "mlp.w12.weight", (2 * h, d)), (p + "mlp.w12.bias", (2 * h,)),
                    (p + "mlp.w3.weight", (d, h)), (p + "mlp.w3.bias", (d,)))
    else:
        yield from ((p + "mlp.fc1.weight", (4 * d, d)), (p + "mlp.fc1.bias", (4 * d,)),
                    (p + "mlp.fc2.weight", (d, 4 * d)), (p + "mlp.fc2.bias", (d,)))
    yield p + "ls2.gamma", (d,)


def _clip_block(i: int, d: int) -> Iterator[Tuple[str, tuple]]:
    p = f"visual.transformer.resblocks.{i}."
    yield from ((p + "attn.in_proj_weight", (3 * d, d)), (p + "attn.in_proj_bias", (3 * d,)),
                (p + "attn.out_proj.weight", (d, d)), (p + "attn.out_proj.bias", (d,)),
                (p + "ln_1.weight", (d,)), (p + "ln_1.bias", (d,)),
                (p + "mlp.c_fc.weight", (4 * d, d)), (p + "mlp.c_fc.bias", (4 * d,)),
                (p + "mlp.c_proj.weight", (d, 4 * d)), (p + "mlp.c_proj.bias", (d,)),
                (p + "ln_2.weight", (d,)), (p + "ln_2.bias", (d,)))


def expected_shapes(net: FeatureNet) -> Dict[str, tuple]:
    """Every key of the official checkpoint (CLIP: its ``visual.*`` part) and its shape."""
    d, g = net.width, net.grid
    if net.family == "dinov2":
        out = {"cls_token": (1, 1, d), "pos_embed": (1, g * g + 1, d), "mask_token": (1, d),
               "patch_embed.proj.weight": (d, 3, net.patch, net.patch),
               "patch_embed.proj.bias": (d,)}
        for i in range(net.depth):
            out.update(_dinov2_block(i, d, net.swiglu))
        out.update({"norm.weight": (d,), "norm.bias": (d,)})
        return out
    out = {"visual.class_embedding": (d,), "visual.positional_embedding": (g * g + 1, d),
           "visual.proj": (d, net.dims), "visual.conv1.weight": (d, 3, net.patch, net.patch),
           "visual.ln_pre.weight": (d,), "visual.ln_pre.bias": (d,)}
    for i in range(net.depth):
        out.update(_clip_block(i, d))
    out.update({"visual.ln_post.weight": (d,), "visual.ln_post.bias": (d,)})
    return out


def identify_architecture(state: dict) -> Optional[FeatureNet]:
    """The network of this table whose every key and shape ``state`` holds, or None."""
    for net in NETWORKS.values():
        shapes = expected_shapes(net)
        if all(k in state and tuple(state[k].shape) == s for k, s in shapes.items()):
            return net
    return None


def describe_state(state: dict) -> str:
    """What a state dict looks like, for messages: the table's network, or its family and size."""
    net = identify_architecture(state)
    if net is not None:
        return f"a {net.arch} checkpoint (--features {net.name})"
    if "visual.conv1.weight" in state:
        w = tuple(state["visual.conv1.weight"].shape)
        return f"a CLIP-like checkpoint (visual.conv1 {w}) of no known architecture"
    if "blocks.0.attn.qkv.weight" in state or "cls_token" in state:
        return "a ViT checkpoint of no known DINOv2 architecture"
    return f"a state dict of {len(state)} tensors and no known architecture"


def key_problems(net: FeatureNet, state: dict, limit: int = 3) -> List[str]:
    """Missing, unexpected (CLIP: among ``visual.*``) and mis-shaped keys, a few of each named."""
    shapes = expected_shapes(net)
    ours = [k for k in state if net.family == "dinov2" or k.startswith("visual.")]
    missing = [k for k in shapes if k not in state]
    unexpected = [k for k in ours if k not in shapes]
    wrong = [f"{k} {tuple(state[k].shape)} (expected {shapes[k]})" for k in shapes
             if k in state and tuple(state[k].shape) != shapes[k]]
    out = []
    for what, keys in (("missing keys", missing), ("unexpected keys", unexpected),
                       ("wrong shapes", wrong)):
        if keys:
            more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
            out.append(f"{len(keys)} {what}: {', '.join(keys[:limit])}{more}")
    return out
