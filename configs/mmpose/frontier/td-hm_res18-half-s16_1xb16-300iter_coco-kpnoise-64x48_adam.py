# Frontier pose task (CPU scale):
# ../td-hm_res50_8xb64-210e_coco-256x192_adam.py
# (the zoo's SimpleBaseline with Adam, lr 5e-4) on a half-width, stride-16
# ResNet-18 at 64x48 input, batch 16, 300 iterations. Data (256 train + 64
# val images; train keypoints jittered by 0.02 x the person's size and 20%
# of train persons' left/right labels swapped; val clean):
#   python tools/generate_data.py coco --out data/frontier/coco-kpnoise \
#       --num-train 256 --num-val 64 --size 128x160 \
#       --keypoint-noise 0.02 --swap-prob 0.2
# reports/frontier/search_pose.md says how it was chosen.
_base_ = [
    '../td-hm_res50_8xb64-210e_coco-256x192_adam.py',
    './_base_/coco-kpnoise_res18-half-s16_300iter.py'
]
model = {{_base_.quick.model}}
train_dataloader = {{_base_.quick.train_dataloader}}
val_dataloader = {{_base_.quick.val_dataloader}}
test_dataloader = {{_base_.quick.test_dataloader}}
val_evaluator = {{_base_.quick.val_evaluator}}
test_evaluator = {{_base_.quick.test_evaluator}}
train_cfg = {{_base_.quick.train_cfg}}
param_scheduler = {{_base_.quick.param_scheduler}}
default_hooks = {{_base_.quick.default_hooks}}
log_processor = {{_base_.quick.log_processor}}
