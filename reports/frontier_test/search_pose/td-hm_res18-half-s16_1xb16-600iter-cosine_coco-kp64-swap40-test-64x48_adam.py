# As ./td-hm_res18-half-s16_1xb16-600iter-cosine_coco-kpnoise-test-64x48_adam.py
# on a quarter of the train images with noisier keypoints (64 images,
# keypoint noise 0.03, left/right swaps 0.4: about 100 epochs in 600
# iterations, the regime where the base optimizer memorises noisy labels).
# Data:
#   python tools/generate_data.py coco --out data/search/coco-kp64-swap40-test \
#       --num-train 64 --num-val 64 --num-test 64 --size 128x160 \
#       --keypoint-noise 0.03 --swap-prob 0.4
_base_ = ['./td-hm_res18-half-s16_1xb16-600iter-cosine_'
          'coco-kpnoise-test-64x48_adam.py']
data_root = 'data/search/coco-kp64-swap40-test/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
val_evaluator = dict(
    ann_file=data_root + 'annotations/person_keypoints_val2017.json')
test_dataloader = dict(dataset=dict(data_root=data_root))
test_evaluator = dict(
    ann_file=data_root + 'annotations/person_keypoints_test2017.json')
