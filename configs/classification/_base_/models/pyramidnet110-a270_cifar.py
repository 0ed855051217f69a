# PyramidNet-110 with alpha=270 and basic blocks (Han et al.; arsam_mm's
# PyramidNetCIFAR, 28.5M parameters; the SAM papers' model without
# ShakeDrop), 286 features, trained with label smoothing 0.1 (the SAM
# papers' CIFAR recipe). Registered by `import arsam_mm`.
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='PyramidNetCIFAR', depth=110, alpha=270, bottleneck=False),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=286,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
    ))
