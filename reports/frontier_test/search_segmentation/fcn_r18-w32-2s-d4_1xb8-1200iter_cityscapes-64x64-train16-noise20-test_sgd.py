# The frontier segmentation task (1200 iterations with `--iters 1200`, as
# reports/frontier_test/segmentation_1200 runs it) on a quarter of the
# train images: the first 16 of the frontier's 64 (label noise 0.2, 600
# epochs in 1200 iterations); val and test are those of the frontier data.
# Data:
#   python tools/generate_data.py cityscapes \
#       --out data/search/cityscapes-64x64-train16-noise20-test --size 64x64 \
#       --num-train 16 --num-val 32 --num-test 64 --label-noise 0.2
_base_ = [
    '../../../configs/mmseg/frontier/'
    'fcn_r18-w32-2s-d4_1xb8-320iter_cityscapes-64x64-noise20-test_sgd.py'
]
data_root = 'data/search/cityscapes-64x64-train16-noise20-test'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
