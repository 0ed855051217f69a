# The frontier segmentation task with a test split apart from val: the task
# of ./fcn_r18-w32-2s-d4_1xb8-320iter_cityscapes-64x64-noise20_sgd.py (that
# file stays as it was, for its committed reports) on the same train and
# val images plus 64 test images (clean masks, a random stream of their
# own). Validation, and any selection, uses val; reported figures use test
# (`tools/benchmark.py` scores both at every validation). Data:
#   python tools/generate_data.py cityscapes \
#       --out data/frontier/cityscapes-64x64-noise20-test --size 64x64 \
#       --num-train 64 --num-val 32 --num-test 64 --label-noise 0.2
_base_ = ['./fcn_r18-w32-2s-d4_1xb8-320iter_cityscapes-64x64-noise20_sgd.py']
data_root = 'data/frontier/cityscapes-64x64-noise20-test'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        data_prefix=dict(
            img_path='leftImg8bit/test', seg_map_path='gtFine/test')))
