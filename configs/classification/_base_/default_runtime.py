# mmpretrain's runtime; 200 epochs of checkpoints would fill a disk, so only
# the last two are kept.
_base_ = ['mmpretrain::_base_/default_runtime.py']
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2))

# The imports of every classification config, which each config sets with
#   custom_imports = {{_base_.classification_custom_imports}}
# (mmengine refuses a key in two bases, and ../../_base_/{sam,arsam}.py set
# custom_imports too): arsam_mm registers the optimizer wrappers and the
# hook, arsam_mm.mmpretrain the CIFAR backbones and LocalCIFAR10/100.
classification_custom_imports = dict(
    imports=['arsam_mm', 'arsam_mm.mmpretrain'], allow_failed_imports=False)
