#!/usr/bin/env bash
# Segmentation and pose benchmarks on a lent GPU machine (no network there).
# Wheels for its Python (3.12) travel in build/wheels312 (`make wheels312`
# here, then carry build/wheels312); xtcocotools is built there from its
# sdist.
# Usage on the device, from the repo root: bash tools/device/gpu_bench.sh
# Every finished run lands in $OUT/seg_pose/records.json at once. If a
# session ran out of device time, commit what came back to
# reports/gpu/seg_pose/: the next run starts from it (--resume) and runs
# only what is missing.
set -euo pipefail
OUT=${OUT:-reports/gpu}
SITE=build/site312
W=build/wheels312
python -m pip install -q --no-index --no-deps --target "$SITE" $W/*.whl
export PYTHONPATH="$PWD:$PWD/$SITE:${PYTHONPATH:-}"
python -m pip install -q --no-index --no-deps --no-build-isolation \
  --target "$SITE" $W/xtcocotools-*.tar.gz
python tools/generate_data.py cityscapes --out data/quick/cityscapes --overwrite
python tools/generate_data.py coco --out data/quick/coco --overwrite
DONE=reports/gpu/seg_pose/records.json
if [ -f "$DONE" ] && [ "$OUT" != reports/gpu ]; then
  mkdir -p "$OUT/seg_pose" && cp "$DONE" "$OUT/seg_pose/"
fi
python tools/benchmark.py --resume \
  configs/mmseg/quick/fcn_r18-d8_1xb2-20iter_cityscapes-128x128_sgd.py \
  configs/mmpose/quick/td-hm_res18_1xb4-20iter_coco-128x96_adam.py \
  --optimizers base sam arsam --iters 120 --repeats 2 --evals 3 \
  --cfg-options train_dataloader.batch_size=8 \
  --work-dir "$OUT/seg_pose" 2>&1 | tail -40
