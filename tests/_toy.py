"""A toy mmengine model and data, registered in mmengine's registries."""
from typing import List, Optional

import torch
from mmengine.model import BaseDataPreprocessor, BaseModel
from torch import nn
from torch.utils.data import Dataset


class NoisyPreprocessor(BaseDataPreprocessor):
    """Adds random noise in training: a random batch augmentation."""

    def __init__(self, noise: float = 0.1) -> None:
        super().__init__()
        self.noise = noise

    def forward(self, data, training=False):
        data = self.cast_data(data)
        if isinstance(data, (list, tuple)):  # from a DataLoader of dicts
            data = data[0]
        x, y = data['inputs'], data['labels']
        if training and self.noise:
            x = x + self.noise * torch.randn_like(x)
        return dict(inputs=x, labels=y)


class ToyModel(BaseModel):
    """MLP classifier; records the inputs of every forward in ``seen``."""

    def __init__(self,
                 in_dim: int = 4,
                 hidden: int = 8,
                 classes: int = 3,
                 bn: bool = False,
                 dropout: float = 0.0,
                 noise: float = 0.1) -> None:
        super().__init__(data_preprocessor=NoisyPreprocessor(noise))
        self.fc1 = nn.Linear(in_dim, hidden)
        self.bn = nn.BatchNorm1d(hidden) if bn else nn.Identity()
        self.drop = nn.Dropout(dropout) if dropout else nn.Identity()
        self.fc2 = nn.Linear(hidden, classes)
        self.seen: List[torch.Tensor] = []
        self.record = False

    def logits(self, x):
        return self.fc2(self.drop(torch.tanh(self.bn(self.fc1(x)))))

    def forward(self, inputs, labels=None, mode='loss'):
        if self.record:
            self.seen.append(inputs.detach().clone())
        out = self.logits(inputs)
        if mode == 'loss':
            return dict(loss=nn.functional.cross_entropy(out, labels))
        if mode == 'predict':
            return [dict(pred=o.argmax(), label=lab)
                    for o, lab in zip(out, labels)]
        return out


class ToyDataset(Dataset):
    """Gaussian blobs, deterministic for a seed."""

    def __init__(self, size: int = 64, in_dim: int = 4, classes: int = 3,
                 seed: int = 0, sample_seed: Optional[int] = None) -> None:
        gen = torch.Generator().manual_seed(seed)
        centers = torch.randn(classes, in_dim, generator=gen) * 2
        if sample_seed is not None:  # same problem, other samples
            gen = torch.Generator().manual_seed(10_000 + sample_seed)
        self.labels = torch.randint(0, classes, (size, ), generator=gen)
        self.inputs = centers[self.labels] + torch.randn(
            size, in_dim, generator=gen)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return dict(inputs=self.inputs[i], labels=self.labels[i])


def make_batches(n: int, batch: int = 16, in_dim: int = 4, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    return [
        dict(
            inputs=torch.randn(batch, in_dim, generator=gen),
            labels=torch.randint(0, 3, (batch, ), generator=gen))
        for _ in range(n)
    ]


def register_toys():
    """Register the toy model, data set and an accuracy metric in mmengine's
    root registries (for config-driven runs: the benchmark tests)."""
    from mmengine.evaluator import BaseMetric
    from mmengine.registry import DATASETS, METRICS, MODELS

    class ToyAccuracy(BaseMetric):

        def process(self, data_batch, data_samples):
            for s in data_samples:
                self.results.append(float(s['pred'] == s['label']))

        def compute_metrics(self, results):
            return {'accuracy/top1': 100 * sum(results) / len(results)}

    MODELS.register_module('ToyModel', module=ToyModel, force=True)
    DATASETS.register_module('ToyDataset', module=ToyDataset, force=True)
    METRICS.register_module('ToyAccuracy', module=ToyAccuracy, force=True)


register_toys()
