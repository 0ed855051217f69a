# SAM delta for any mmengine config: keeps the config's own optimizer,
# paramwise_cfg, clip_grad and accumulative_counts. In a task config:
#   _base_ = ['<toolbox>::<config>.py', '../_base_/sam.py']
#   optim_wrapper = {{_base_.sam_optim_wrapper}}
#   custom_hooks = {{_base_.sam_custom_hooks}}
custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
sam_optim_wrapper = dict(type='SAMOptimWrapper', rho=0.05)
sam_custom_hooks = [dict(type='ARSAMHook')]
