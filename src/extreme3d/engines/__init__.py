"""Batch engines beyond the local one: the output sink (local folder or fsspec URL, done
markers) and the Ray engine (extreme3d.engines.ray_engine; docs/scale.md)."""
