"""What a model file says about its inputs, read without torch (``predict`` starts decoding with it while torch
is imported): the preprocessing config in the checkpoint's pickle, every tensor in it left unbuilt. Anything
unexpected gives None and the caller waits for the real load (``checkpoint.load_checkpoint``), which judges the
file; nothing in the pickle is ever called."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

from tui_tagger.core.regular import open_regular
from tui_tagger.model.transforms import preprocess_config

_PICKLE_LIMIT = 4 * 2**20  # a model's pickle (tensors are stored beside it) is a few KiB


def _nothing(*args, **kwargs) -> None:
    return None


class _Plain(pickle.Unpickler):
    """Plain data only: a tensor (torch's rebuild function, a storage) becomes None, an OrderedDict a dict;
    any other global refuses the file."""

    def find_class(self, module: str, name: str):
        if module == "collections" and name == "OrderedDict":
            return dict
        if module == "torch" and name.endswith("Storage") or module == "torch._utils" and name.startswith("_rebuild"):
            return _nothing
        raise pickle.UnpicklingError(f"{module}.{name}")

    def persistent_load(self, pid):
        return None


def model_preprocess(path: str | Path) -> dict[str, Any] | None:
    """The preprocessing config of the model in ``path`` (as ``ModelInfo.preprocess``), or None."""
    try:
        with open_regular(Path(path)) as fh, zipfile.ZipFile(fh) as z:  # a FIFO is refused, never waited on
            info = next((i for i in z.infolist() if i.filename.endswith("/data.pkl")), None)
            if info is None or info.file_size > _PICKLE_LIMIT:
                return None
            blob = _Plain(z.open(info)).load()
        if not isinstance(blob, dict) or blob.get("magic") != "tui-tagger-model":
            return None
        return preprocess_config(blob["preprocess"])
    except Exception:  # not a zip, a FIFO, a damaged or foreign pickle: the real load says what is wrong
        return None
