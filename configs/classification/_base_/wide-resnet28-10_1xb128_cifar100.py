# WRN-28-10 on CIFAR-100, the SAM papers' recipe: batch 128,
# crop + flip + Cutout, label smoothing 0.1, SGD lr 0.05 with per-iteration
# cosine decay to 0, 200 epochs. The optimizer wrapper is the variant's:
# ../wide-resnet28-10_1xb128_cifar100_{sgd,sam,arsam}.py.
_base_ = [
    './models/wide-resnet28-10_cifar.py',
    './datasets/cifar100_bs128_cutout.py',
    './schedules/cifar_bs128_sgd-cos_200e.py',
    './default_runtime.py',
]

model = dict(head=dict(num_classes=100))
