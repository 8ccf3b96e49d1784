"""Moved to :mod:`handpose.formats.shards`.

``handpose.datasets.shards`` stays an alias of that module (the very same module object), so existing
imports keep working; new code imports :mod:`handpose.formats.shards`.
"""

import sys

from handpose.formats import shards as _moved

sys.modules[__name__] = _moved
