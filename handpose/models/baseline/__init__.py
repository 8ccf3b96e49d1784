"""The image baseline estimator: backbone + 2.5D heatmap + soft-argmax for all 21 joints
("TW-stage only" of EHPE's Table 3). See :mod:`handpose.models.baseline.model`."""

from handpose.models.baseline.model import BaselineEstimator, BaselineNetConfig, BaselineOutput

__all__ = ["BaselineEstimator", "BaselineNetConfig", "BaselineOutput"]
