"""Estimators and their parts: the DSTformer backbone and the MGDHand teacher/student
(``models.mgdhand``); image backbones (``models.backbones``) and the heads and ops shared by
the image estimators (``models.heads``)."""
