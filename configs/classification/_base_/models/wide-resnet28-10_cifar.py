# WRN-28-10 (Zagoruyko & Komodakis; arsam_mm's WideResNetCIFAR, 36.5M
# parameters), 640 features, trained with label smoothing 0.1 (the SAM
# papers' CIFAR recipe). Registered by `import arsam_mm`.
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='WideResNetCIFAR', depth=28, widen_factor=10, dropout=0.0),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=640,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
    ))
