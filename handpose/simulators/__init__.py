"""Simulators: synthetic hand motion (``motion``) and body-worn IMUs (``imu``), and the
synthetic VIHand-like dataset built from them (``synth``)."""
