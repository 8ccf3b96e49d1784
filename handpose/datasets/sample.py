"""Moved to :mod:`handpose.formats.sample`.

``handpose.datasets.sample`` stays an alias of that module (the very same module object), so existing
imports keep working; new code imports :mod:`handpose.formats.sample`.
"""

import sys

from handpose.formats import sample as _moved

sys.modules[__name__] = _moved
