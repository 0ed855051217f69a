# The toy config with a test split apart from val (other samples of the
# same problem), for the benchmark's test-split scoring.
_base_ = ['./toy_sgd.py']
test_dataloader = dict(
    batch_size=16, num_workers=0,
    dataset=dict(type='ToyDataset', size=40, seed=0, sample_seed=2),
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'))
test_evaluator = dict(type='ToyAccuracy')
test_cfg = dict()
