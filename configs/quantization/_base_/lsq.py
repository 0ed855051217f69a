# LSQ quantization-aware training delta for any mmengine config (see
# arsam_mm/quantization/mm_model.py). In a task config:
#   _base_ = ['<float config>.py', '<this file>']
#   custom_imports = dict(
#       _base_.custom_imports,
#       imports=[*_base_.custom_imports.imports, 'arsam_mm.quantization'])
#   model = dict(_delete_=True, type='LSQQuantizedModel',
#                model={{_base_.model}}, w_bits=4, a_bits=4)
#   optim_wrapper = dict(paramwise_cfg={{_base_.lsq_paramwise_cfg}})
# (the last line only with weight decay: mmengine refuses decay_mult when
# the optimizer has none, as the pose configs' Adam).
# custom_imports are the float config's plus arsam_mm.quantization (a
# classification config's include arsam_mm.mmpretrain).
# The float config's optimizer wrapper (SGD/Adam, SAM or ARSAM), schedule,
# data and hooks stay as they are; the first and last quantized layers keep
# 8 bits (first_last_bits=8).
#
# Step sizes are parameters like any other: SAM/ARSAM perturb them (add
# `rho=0.0` to the custom_keys entry to exclude them). They are exempt from
# weight decay: a decay of 5e-4..1e-3 over a long run shrinks them against
# LSQ's deliberately small, gradient-scaled updates.
#
# LSQ's protocol fine-tunes a trained float model: pass
# `--cfg-options load_from=<float checkpoint>`; the step sizes then
# initialise from the loaded weights and the first batch (float checkpoints
# load into the quantized model as they are).
lsq_paramwise_cfg = dict(custom_keys={'.step_size': dict(decay_mult=0.0)})
