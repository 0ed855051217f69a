# CIFAR-10 as the SAM papers train on it: batch 128, random crop (4 px zero
# padding) + horizontal flip + Cutout 16x16, over mmpretrain's CIFAR-10 base.
#
# LocalCIFAR10 (arsam_mm.data.local_cifar, registered by `import arsam_mm`)
# reads the official batch files extracted into data_root, or those written
# by `python tools/generate_data.py cifar10 --out data/cifar10`, and never
# downloads; mmpretrain's own `type='CIFAR10'` downloads the official set
# when online but refuses generated files (md5 check).
_base_ = ['mmpretrain::_base_/datasets/cifar10_bs16.py']
dataset_type = 'LocalCIFAR10'

# Cutout fills with the mean colour (RGB), i.e. zero after normalization,
# as the reference implementation, which masks normalized images.
train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='Cutout', shape=16, pad_val=(125, 123, 114), prob=1.0),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=128, dataset=dict(type=dataset_type, pipeline=train_pipeline))
val_dataloader = dict(batch_size=128, dataset=dict(type=dataset_type))
test_dataloader = val_dataloader
