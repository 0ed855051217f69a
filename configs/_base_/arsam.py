# ARSAM delta for any mmengine config: keeps the config's own optimizer,
# paramwise_cfg, clip_grad and accumulative_counts. In a task config:
#   _base_ = ['<toolbox>::<config>.py', '../_base_/arsam.py']
#   optim_wrapper = {{_base_.arsam_optim_wrapper}}
#   custom_hooks = {{_base_.arsam_custom_hooks}}
# The authors' CIFAR settings: window 50, warm-up 3 of 200 epochs (1.5% of
# the run, set by ARSAMHook from the run length). Short runs need a smaller
# window and an explicit warm-up: the quick configs override both.
custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
arsam_optim_wrapper = dict(
    type='ARSAMOptimWrapper',
    rho=0.05,
    window=50,
    max_sam_ratio=0.8,
    alpha=(0.13, 0.13),
    beta=0.7,
    max_reuse_steps=6,
    stat_tensors=10)
arsam_custom_hooks = [dict(type='ARSAMHook', warmup_ratio=0.015)]
