"""Where a batch's files go: a local folder or any fsspec URL (``s3://``, ``gs://``,
``memory://``), with per-image done markers.

The stages write into a local staging folder (extreme3d.stages.outputs, unchanged); `commit`
moves those files into place one by one, each atomically (a rename on a local folder; an upload
to a temporary name and a move elsewhere), so a reader never sees a half-written file. After all
files of an image, the driver writes ``.extreme3d/done/<name>.json`` (its records), also
atomically: an image with a marker is complete and a rerun skips it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Folder of the done markers and staging folders inside the output.
STATE_DIR = ".extreme3d"
DONE_DIR = f"{STATE_DIR}/done"
STAGING_DIR = f"{STATE_DIR}/staging"


class Sink:
    """An output folder or URL; picklable (workers rebuild the file system from the URL)."""

    def __init__(self, url: str | os.PathLike[str]) -> None:
        import fsspec
        from fsspec.implementations.local import LocalFileSystem

        text = os.fspath(url)
        self.fs, root = fsspec.core.url_to_fs(text)
        self.local = isinstance(self.fs, LocalFileSystem)
        self.url = str(Path(root).absolute()) if self.local else text.rstrip("/")
        self.root = str(Path(root).absolute()) if self.local else root.rstrip("/")
        #: False for a file system that lives in one process (memory://): workers then send
        #: their files to the driver, which commits them.
        self.shared = getattr(self.fs, "protocol", None) not in ("memory", ("memory",))

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (Sink, (self.url,))

    def path(self, rel: str) -> str:
        """The full path (local) or URL of an output file `rel` (e.g. imgs/x.png)."""
        if self.local:
            return str(Path(self.root) / rel)
        return f"{self.url}/{rel}"

    def _target(self, rel: str) -> str:
        return f"{self.root}/{rel}"

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A fresh local folder to write an image's files into (inside the output for a local
        folder, so that commits are renames); removed afterwards."""
        if self.local:
            base = Path(self.root) / STAGING_DIR
            base.mkdir(parents=True, exist_ok=True)
            folder = Path(tempfile.mkdtemp(prefix="img-", dir=base))
        else:
            folder = Path(tempfile.mkdtemp(prefix="extreme3d-"))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def commit(self, staging: Path, rels: list[str]) -> None:
        """Moves the staged files `rels` (paths relative to `staging`) into place, each
        atomically."""
        for rel in rels:
            src = staging / rel
            if self.local:
                dst = Path(self.root) / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
            else:
                self.write_bytes(rel, src.read_bytes())

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Writes one file atomically (temporary name beside it, then a rename / move)."""
        target = self._target(rel)
        parent = target.rsplit("/", 1)[0]
        self.fs.makedirs(parent, exist_ok=True)
        tmp = f"{parent}/.{target.rsplit('/', 1)[1]}.{uuid.uuid4().hex}.tmp"
        with self.fs.open(tmp, "wb") as handle:
            handle.write(data)
        self.fs.mv(tmp, target)

    def write_files(self, files: dict[str, bytes]) -> None:
        """Writes files sent by a worker (relative path -> bytes), each atomically."""
        for rel, data in files.items():
            self.write_bytes(rel, data)

    def read_bytes(self, rel: str) -> bytes:
        """The content of output file `rel`."""
        return self.fs.cat_file(self._target(rel))

    def exists(self, rel: str) -> bool:
        """Whether output file `rel` exists."""
        return self.fs.exists(self._target(rel))

    def done_names(self) -> set[str]:
        """Names of the images whose done marker exists."""
        folder = self._target(DONE_DIR)
        if not self.fs.exists(folder):
            return set()
        names = set()
        for p in self.fs.ls(folder, detail=False):
            base = str(p).rstrip("/").rsplit("/", 1)[-1]
            if base.endswith(".json") and not base.startswith("."):
                names.add(base[: -len(".json")])
        return names

    def write_marker(self, name: str, records: list[dict[str, Any]]) -> None:
        """The done marker of image `name` (its records, summary.json's layout), written last."""
        self.write_bytes(f"{DONE_DIR}/{name}.json",
                         (json.dumps({"records": records}, indent=1) + "\n").encode())

    def read_marker(self, name: str) -> list[dict[str, Any]]:
        """The records saved in the done marker of image `name`."""
        return json.loads(self.read_bytes(f"{DONE_DIR}/{name}.json"))["records"]

    def clean_staging(self) -> None:
        """Removes what killed workers left in the staging folder."""
        if self.local:
            shutil.rmtree(Path(self.root) / STAGING_DIR, ignore_errors=True)


def staged_files(staging: Path) -> list[str]:
    """Every file under a staging folder, relative, sorted (temporary files excluded)."""
    return sorted(str(p.relative_to(staging)) for p in staging.rglob("*")
                  if p.is_file() and not p.name.endswith(".tmp"))
