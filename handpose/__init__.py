"""handpose: 3D hand pose and mesh estimation.

One shared base (a MANO-compatible hand model layer, the field's metrics, dataset loaders and
simulators) under four published estimators: MGDHand (sparse IMUs), EHPE (one RGB image),
PGTE (low-resolution video) and DIR (two interacting hands).

Units: metres inside the library, millimetres in reports.
"""

from handpose.errors import HandposeError

__version__ = "0.1.0"
__all__ = ["HandposeError", "__version__"]
