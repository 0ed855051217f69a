"""Config tools: what ``tools/train.py``, ``tools/benchmark.py`` and the
benchmark's workers do to an mmengine config before a run.

- :mod:`.walk`: the walks over a config every tool shares (every dict, the
  leaf datasets, the evaluator's metrics).
- :mod:`.generators`: the data generators of :mod:`arsam_mm.data` in one
  table, and which generated data each dataset type reads.
- :mod:`.shrink`: image sizes divided by one consistent factor.
- :mod:`.rewrite`: pretrained weights removed, ``SyncBN`` to ``BN``,
  precision switched (AMP twin and back).
- :mod:`.smoke`: ``--smoke``, a few CPU iterations on generated data.
- :mod:`.data_roots`: the missing-data check, naming the generator.
- :mod:`.train`: ``tools/train.py``'s options, CPU-only distributed runs.
- :mod:`.options`: command-line option helpers of the tools.

All but :mod:`.walk` and :mod:`.generators` import mmengine (and
:mod:`.rewrite` :mod:`arsam_mm.engine`, which never imports this package),
so this package imports none of them: import what you use from its module
(``from arsam_mm.cfgtools.smoke import apply_smoke``); writing data with
``tools/generate_data.py`` needs no mmengine.
"""
