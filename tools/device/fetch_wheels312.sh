#!/usr/bin/env bash
# Fills build/wheels312 (or $1) with what tools/device/gpu_bench.sh installs
# on the lent GPU machine: it runs Python 3.12 with its own torch, numpy and
# OpenCV, and has no network. Run here, from the repo root, after `make env`;
# then pass carry=["build/wheels312"] to the device run (about 32 MiB).
set -euo pipefail
W=${1:-build/wheels312}
PIP=${PIP:-.venv/bin/pip}
mkdir -p "$W"
"$PIP" download -q --dest "$W" --python-version 3.12 --only-binary=:all: \
  --no-deps \
  mmengine==0.10.7 mmcv-lite==2.1.0 mmsegmentation==1.2.2 mmpose==1.3.2 \
  mmdet==3.3.0 setuptools==81.0.0 addict yapf termcolor platformdirs rich \
  markdown-it-py mdurl pygments matplotlib contourpy cycler fonttools \
  kiwisolver pyparsing python-dateutil six packaging ftfy wcwidth regex \
  prettytable json-tricks munkres cython wheel
# xtcocotools has no cp312 wheel: its sdist is built on the device.
"$PIP" download -q --dest "$W" --no-binary=:all: --no-deps \
  --no-build-isolation xtcocotools==1.14.3
ls "$W"
