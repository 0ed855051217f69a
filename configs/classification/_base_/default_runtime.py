# mmpretrain's runtime; 200 epochs of checkpoints would fill a disk, so only
# the last two are kept.
_base_ = ['mmpretrain::_base_/default_runtime.py']
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2))
