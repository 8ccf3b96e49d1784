"""Reports: tables and pictures of results (millimetres)."""
