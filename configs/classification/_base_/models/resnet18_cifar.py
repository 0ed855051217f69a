# ResNet-18 with the CIFAR stem (mmpretrain's ResNet_CIFAR: 3x3 stem, no
# max-pooling), 512 features, trained with label smoothing 0.1 (the SAM
# papers' CIFAR recipe).
_base_ = ['mmpretrain::_base_/models/resnet18_cifar.py']
model = dict(
    head=dict(
        loss=dict(
            _delete_=True,
            type='LabelSmoothLoss',
            label_smooth_val=0.1,
            mode='original')))
