"""Moved to :mod:`handpose.formats.imu_file`.

``handpose.datasets.storage`` stays an alias of that module (the very same module object), so existing
imports keep working; new code imports :mod:`handpose.formats.imu_file`.
"""

import sys

from handpose.formats import imu_file as _moved

sys.modules[__name__] = _moved
