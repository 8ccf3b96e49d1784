"""Experiment runners that reproduce the comparisons of the papers handpose implements.

- :mod:`handpose.experiments.mgdhand`: the MGDHand comparison (teacher, twelve distillation
  variants at 7 IMUs, three at 3 and 2 IMUs, several seeds) → ``docs/results/mgdhand.md``.
"""
