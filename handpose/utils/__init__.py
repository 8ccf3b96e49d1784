"""Small shared helpers: atomic file writes (:mod:`.io`), input validation (:mod:`.validate`)."""

from handpose.utils.io import atomic_path, atomic_write_bytes, atomic_write_text

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text"]
