# The frontier classification task with a test split apart from val: the
# task of ./resnet18-w8_1xb16-600iter_digits-noise30-test70_sgd.py (that
# file stays as it was, for its committed reports), whose 1258 held-out
# digits (70% of each class) served as val, now split per class into 629
# val (35% of each class) and 629 test digits; the 539 train digits and
# their noisy labels are the same bytes. Validation, and any selection,
# uses val; reported figures use test (`tools/benchmark.py` scores both at
# every validation). Data:
#   python tools/generate_data.py digits \
#       --out data/digits_noise30_test70-test --noise-rate 0.3 \
#       --test-fraction 0.7 --val-fraction 0.35
_base_ = ['./resnet18-w8_1xb16-600iter_digits-noise30-test70_sgd.py']
data_root = 'data/digits_noise30_test70-test'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root, split='val'))
test_dataloader = dict(dataset=dict(data_root=data_root, split='test'))
