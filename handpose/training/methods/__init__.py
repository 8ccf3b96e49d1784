"""Methods registered with the training harness (:mod:`handpose.training.registry`): one module
per method with its config schema, stages and data."""
