# The frontier segmentation task: the model and pipeline of
# ./fcn_r18-w32-2s-d4_cityscapes-64x64.py on generated Cityscapes-layout
# data whose training masks are noisy (each shape of a train image
# relabelled to a wrong class with probability 0.2; val labels clean):
#   python tools/generate_data.py cityscapes \
#       --out data/frontier/cityscapes-64x64-noise20 --size 64x64 \
#       --num-train 64 --num-val 32 --label-noise 0.2
# 320 iterations of batch 8 (40 epochs of the 64 train images), PolyLR over
# the run, one validation and a checkpoint at the end.
_base_ = './fcn_r18-w32-2s-d4_cityscapes-64x64.py'
__data_root = 'data/frontier/cityscapes-64x64-noise20'
__max_iters = 320
quick = dict(
    train_dataloader=dict(dataset=dict(data_root=__data_root)),
    val_dataloader=dict(dataset=dict(data_root=__data_root)),
    test_dataloader=dict(dataset=dict(data_root=__data_root)),
    train_cfg=dict(max_iters=__max_iters, val_interval=__max_iters),
    param_scheduler=[
        dict(
            type='PolyLR',
            eta_min=1e-4,
            power=0.9,
            begin=0,
            end=__max_iters,
            by_epoch=False)
    ],
    default_hooks=dict(
        logger=dict(interval=40),
        checkpoint=dict(by_epoch=False, interval=__max_iters)))
