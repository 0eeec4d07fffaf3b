"""Loaded by `make sanitize` (PYTHONPATH): imports the ASan+UBSan build of extreme3d._core
(EXTREME3D_SANITIZED_CORE) in place of the installed one, before any test imports it."""

import importlib.util
import os
import sys

_path = os.environ.get("EXTREME3D_SANITIZED_CORE")
if _path:
    import extreme3d

    _spec = importlib.util.spec_from_file_location("extreme3d._core", _path)
    _mod = importlib.util.module_from_spec(_spec)
    sys.modules["extreme3d._core"] = _mod
    _spec.loader.exec_module(_mod)
    extreme3d._core = _mod
