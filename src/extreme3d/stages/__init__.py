"""The per-face pipeline as stages with plain inputs and outputs (see docs/api.md, "Architecture").

Data flow, one way::

    photo --prepare--> landmarks + 500x500 crop (PreparedFace)
          --shape----> identity coefficients (Identity)
          --fit------> pose + expression (fitting.FitResult)
          --bump-----> bump map + mask (BumpMaps)
          --geometry-> foundation, dense and final meshes (geometry.GeometryResult)
          --result---> coloured meshes, pose, landmarks (FaceResult)
          --outputs--> files (the only stage that writes)

Modules: ``models`` (sources and model loading, once per run), ``prepare``, ``shape``, ``bump``,
``face`` (fit + bump + geometry + result for one face), ``result`` (FaceResult and colours),
``outputs`` (every file). ``extreme3d.api.Reconstructor`` composes them for one photo;
``extreme3d.pipeline.run_batch`` drives them over a list (batching, workers, summary).
"""
