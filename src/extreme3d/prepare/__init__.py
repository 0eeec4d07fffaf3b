"""Model preparation: convert morphable models into the BaselFaceModel_mod.h5 layout.

- `extreme3d.prepare.sfm.convert_sfm`: the open Surrey Face Model (eos files) -> h5.
- `extreme3d.prepare.bfm.convert_bfm`: Basel Face Model 2009 + 3DDFA expressions -> h5 (+ .mat).
- `extreme3d.prepare.fetch`: obtain the Surrey model files (local copy or download, sha256 checked).
- `extreme3d.prepare.layout`: the h5 layout itself (dataset names, orientation, 1-based indices).
"""
