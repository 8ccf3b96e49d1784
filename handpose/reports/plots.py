"""Moved to :mod:`handpose.metrics.plots`.

``handpose.reports.plots`` stays an alias of that module (the very same module object), so existing
imports keep working; new code imports :mod:`handpose.metrics.plots`.
"""

import sys

from handpose.metrics import plots as _moved

sys.modules[__name__] = _moved
