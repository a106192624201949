"""Training checkpoints mirrored to the store, so that a retried task resumes where a failed one stopped.

A training folder holds one sub-folder per model being trained (``<sub>/checkpoint.pt`` and
``<sub>/best.safetensors``). After every epoch the files are uploaded under a store prefix that
depends only on the training's configuration and data; a new attempt of the same task restores
them before it starts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from stainworth.store.base import Store


class StoreCheckpoints:
    """Mirror a training folder's checkpoint files to ``store`` under ``prefix``."""

    files = ("checkpoint.pt", "best.safetensors")

    def __init__(self, store: Store, prefix: str, folder: Path) -> None:
        self.store, self.prefix, self.folder = store, prefix, folder

    def restore(self) -> bool:
        """Fetch a checkpoint left by an earlier attempt; True when there was one."""
        found = False
        for sub in sorted({key.split("/")[-2] for key in self.store.list(self.prefix + "/")}):
            for name in self.files:
                key = f"{self.prefix}/{sub}/{name}"
                if self.store.exists(key):
                    self.store.get_file(key, self.folder / sub / name)
                    found = True
        return found

    def push(self) -> None:
        """Upload every sub-folder's checkpoint files."""
        for path in sorted(self.folder.glob("*/*")):
            if path.name in self.files:
                self.store.put_file(f"{self.prefix}/{path.parent.name}/{path.name}", path)

    def printer(self, marker: str) -> Callable[[str], None]:
        """A progress printer that pushes the checkpoints after every line starting with ``marker``."""
        def log(line: str) -> None:
            print(line, flush=True)
            if line.startswith(marker):
                self.push()

        return log
