# Search for a pose setting where SAM beats Adam at the best-on-val
# checkpoint (issue 20, item 6): the frontier pose task (256 train images,
# keypoint noise 0.02, left/right swaps 0.2) trained twice as long, with
# the learning rate decayed to 0 by a cosine after the warm-up, so that both
# optimizers converge inside the run.
_base_ = ['../../../configs/mmpose/frontier/'
          'td-hm_res18-half-s16_1xb16-300iter_coco-kpnoise-test-64x48_adam.py']
train_cfg = dict(max_iters=600, val_interval=600)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=4, start_factor=0.001, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=4, end=600, T_max=596, eta_min=0.0,
         by_epoch=False)
]
default_hooks = dict(checkpoint=dict(interval=600))
