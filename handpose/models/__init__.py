"""Estimators: the DSTformer backbone and the MGDHand teacher/student (``models.mgdhand``)."""
