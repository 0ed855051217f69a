# The quick ResNet-18 run on scikit-learn's handwritten digits (real 8x8
# images upsampled to 32x32 RGB, CIFAR-10 files; optional label noise on
# the train split): write them first with
#   python tools/generate_data.py digits --out data/digits [--noise-rate 0.2]
# A mirrored digit is not the same digit, so the horizontal flip of the
# CIFAR recipe is dropped; crop and Cutout stay, and so does the CIFAR-10
# normalization (Cutout's fill is its mean colour).
_base_ = ['./resnet18-w16_1xb16_cifar10.py']

data_root = 'data/digits'

train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        pipeline=[
            dict(type='RandomCrop', crop_size=32, padding=4),
            dict(type='Cutout', shape=16, pad_val=(125, 123, 114), prob=1.0),
            dict(type='PackInputs'),
        ]))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
