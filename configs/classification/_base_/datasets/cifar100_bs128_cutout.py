# CIFAR-100 as the SAM papers train on it: batch 128, random crop (4 px zero
# padding) + horizontal flip + Cutout 16x16, over mmpretrain's CIFAR-100
# base. LocalCIFAR100: see cifar10_bs128_cutout.py (`python
# tools/generate_data.py cifar100 --out data/cifar100` writes test data).
_base_ = ['mmpretrain::_base_/datasets/cifar100_bs16.py']
dataset_type = 'LocalCIFAR100'

# Cutout fills with the mean colour (RGB), i.e. zero after normalization.
train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='Cutout', shape=16, pad_val=(129, 124, 112), prob=1.0),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=128, dataset=dict(type=dataset_type, pipeline=train_pipeline))
val_dataloader = dict(batch_size=128, dataset=dict(type=dataset_type))
test_dataloader = val_dataloader
