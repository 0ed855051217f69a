# The frontier pose task with a test split apart from val: the task of
# ./td-hm_res18-half-s16_1xb16-300iter_coco-kpnoise-64x48_adam.py (that file
# stays as it was, for its committed reports) on the same train and val
# images plus 64 test images (clean keypoints, a random stream of their
# own). Validation, and any selection, uses val; reported figures use test
# (`tools/benchmark.py` scores both at every validation). Data:
#   python tools/generate_data.py coco --out data/frontier/coco-kpnoise-test \
#       --num-train 256 --num-val 64 --num-test 64 --size 128x160 \
#       --keypoint-noise 0.02 --swap-prob 0.2
_base_ = ['./td-hm_res18-half-s16_1xb16-300iter_coco-kpnoise-64x48_adam.py']
data_root = 'data/frontier/coco-kpnoise-test/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
val_evaluator = dict(
    ann_file=data_root + 'annotations/person_keypoints_val2017.json')
test_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        ann_file='annotations/person_keypoints_test2017.json',
        data_prefix=dict(img='test2017/')))
test_evaluator = dict(
    ann_file=data_root + 'annotations/person_keypoints_test2017.json')
