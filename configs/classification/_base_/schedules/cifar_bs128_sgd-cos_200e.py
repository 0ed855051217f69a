# The SAM papers' CIFAR schedule (as used by the ARSAM authors): SGD with
# lr 0.05, momentum 0.9, weight decay 1e-3 at batch 128; cosine decay to 0
# stepped every iteration; 200 epochs. The SAM-family configs wrap this same
# optimizer (a two-key optim_wrapper delta).
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-3))

param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=200,
        eta_min=0.0,
        by_epoch=True,
        convert_to_iter_based=True)
]

train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=1)
val_cfg = dict()
test_cfg = dict()

# `tools/train.py --cfg-options auto_scale_lr.enable=True` rescales lr for
# another total batch size.
auto_scale_lr = dict(base_batch_size=128)
