# CPU-scale label-noise task for the accuracy-vs-cost frontier
# (reports/frontier/search_classification.md): the setting of ../label_noise/
# (digits, 30% of the train labels flipped, test labels clean, plain SGD)
# shrunk to ~30 s per SGD run on one CPU thread. Data (539 train / 1258 test
# digits: a small train set, so that SGD memorises the flipped labels within
# 600 iterations = 18 epochs):
#   python tools/generate_data.py digits --out data/digits_noise30_test70 \
#       --noise-rate 0.3 --test-fraction 0.7
# Delta to the label-noise config: ResNet-18 with 8 instead of 16 base
# channels, lr 0.1 instead of 0.05 (0.05 and 0.01 learn too slowly in 600
# iterations), no augmentation (random crop delays the memorisation that
# SAM's gain rests on), 600 iterations with the cosine decay over them.
_base_ = ['../label_noise/resnet18-w16_1xb16_digits-noise30_sgd.py']

data_root = 'data/digits_noise30_test70'
max_iters = 600

model = dict(
    backbone=dict(stem_channels=8, base_channels=8),
    head=dict(in_channels=64))

optim_wrapper = dict(optimizer=dict(lr=0.1))

train_dataloader = dict(
    dataset=dict(data_root=data_root, pipeline=[dict(type='PackInputs')]))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(
        type='CosineAnnealingLR', T_max=max_iters, eta_min=0.0, by_epoch=False)
]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=max_iters))
