"""Skip GL tests (with the reason) where no EGL context can be created."""

import pytest

from handpose.render.gl import gl_available

GL_OK, GL_WHY = gl_available()
needs_gl = pytest.mark.skipif(not GL_OK, reason=f"no EGL context: {GL_WHY}")
