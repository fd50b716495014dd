"""A layer's outputs as TensorBoard's Embedding Projector reads them (issue 25, item 3).

The projector (``tensorboard --logdir FOLDER``, the Projector tab; or projector.tensorflow.org, "Load")
reads four files, described by ``projector_config.pbtxt`` (TensorBoard's ``ProjectorConfig`` in protobuf
text format, ``tensorboard/plugins/projector/projector_config.proto``):

- ``tensors.tsv``: one row per image, one tab-separated number per unit of the layer;
- ``metadata.tsv``: a header row, then per image its index, true and predicted label and whether the
  model got it right (more than one column, so the header is required);
- ``sprite.png``: the images in a square grid of thumbnails, row by row in the order of the rows, as the
  projector cuts them (``single_image_dim``); at most :data:`SPRITE_MAX_PX` pixels a side, its limit;
- ``projector_config.pbtxt``: the tensor's name and the three paths, relative to the folder.

featlib writes them itself (no TensorBoard needed to export); the tests load them with TensorBoard's
projector plugin. Text cells a spreadsheet would run are neutralised (:mod:`featlib.csv_cells`), and tabs or
line breaks in a class name (refused at upload) would break the TSV, so they are replaced by spaces.
"""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from featlib.csv_cells import safe_cell
from featlib.errors import ExportError
from featlib.lazy import pil_image

TENSORS, METADATA, SPRITE, CONFIG = "tensors.tsv", "metadata.tsv", "sprite.png", "projector_config.pbtxt"
"""The files of an export, as ``projector_config.pbtxt`` names them."""
SPRITE_MAX_PX = 8192
"""The projector's largest sprite image, pixels a side (TensorBoard's documentation)."""
MAX_POINTS = 100_000
"""The most images an export holds: the projector computes its PCA and t-SNE in the browser."""


def projector_files(
    outputs: np.ndarray,
    images: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray,
    class_names: Sequence[str],
    tensor_name: str,
    indices: np.ndarray | None = None,
) -> dict[str, bytes]:
    """The four files of a projector export, by name.

    Args:
        outputs: float ``(n, units)``, the layer's outputs of the ``n`` exported images (rows in order).
        images: uint8 ``(n, h, w)`` or ``(n, h, w, c)`` (``c`` 1 or 3), the same images.
        labels: int ``(n,)``, their true labels; predicted: int ``(n,)``, the model's labels.
        class_names: the name of each class (a label without one is written as its number).
        tensor_name: what the projector calls the tensor (``"mlp · dense_1 · train"``).
        indices: int ``(n,)``, each image's index in its split, written in the metadata (default ``0..n-1``).

    Returns:
        ``{"tensors.tsv", "metadata.tsv", "sprite.png", "projector_config.pbtxt": bytes}``.

    Raises:
        ExportError: no images, more than :data:`MAX_POINTS`, arrays of different lengths, outputs that are
            not a 2-D table of finite numbers, or images that are not uint8 pictures.
    """
    outputs = np.asarray(outputs)
    images = np.asarray(images)
    n = len(outputs)
    if not 1 <= n <= MAX_POINTS:
        raise ExportError(
            f"A projector export holds 1 to {MAX_POINTS:,} images (the projector maps them in the browser); "
            f"received {n:,}. Export a sample."
        )
    sizes = {"images": len(images), "labels": len(labels), "predicted": len(predicted)}
    if indices is not None:
        sizes["indices"] = len(indices)
    if any(size != n for size in sizes.values()):
        raise ExportError(f"Every array of a projector export has one row per image ({n:,} outputs); received {sizes}.")
    if outputs.ndim != 2 or not np.issubdtype(outputs.dtype, np.number) or not np.isfinite(outputs).all():
        raise ExportError(
            "A projector export needs the layer's outputs as a table of finite numbers (images × units); "
            f"received shape {outputs.shape}, dtype {outputs.dtype}{'' if outputs.ndim != 2 else ', with NaN or inf'}."
        )
    indices = np.arange(n) if indices is None else np.asarray(indices)
    return {
        TENSORS: _tensors(outputs),
        METADATA: _metadata(indices, np.asarray(labels), np.asarray(predicted), class_names),
        SPRITE: sprite_png(images),
        CONFIG: projector_config(tensor_name, images.shape[1:3]).encode(),
    }


def write_folder(folder: str | Path, files: Mapping[str, bytes]) -> list[Path]:
    """Writes :func:`projector_files` into ``folder`` (created if missing; files of those names replaced).

    Returns:
        The paths written, in the order of ``files``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in files.items():
        path = folder / name
        tmp = path.with_name(f".{name}.part")
        tmp.write_bytes(data)
        tmp.replace(path)  # a reader (TensorBoard) never sees half a file
        written.append(path)
    return written


def zip_bytes(files: Mapping[str, bytes], folder: str = "projector") -> bytes:
    """:func:`projector_files` as one ``.zip`` whose ``folder/`` unpacks to a ``--logdir`` for TensorBoard."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(f"{folder}/{name}", data)
    return buffer.getvalue()


def projector_config(tensor_name: str, image_size: tuple[int, int]) -> str:
    """``projector_config.pbtxt``: one embedding with its tensor, metadata and sprite (protobuf text format).

    Args:
        tensor_name: shown in the projector's list of tensors; quotes, backslashes and control characters are
            escaped as protobuf's text format requires.
        image_size: ``(height, width)`` of one image in the sprite, pixels.
    """
    height, width = (int(size) for size in image_size)
    return (
        "embeddings {\n"
        f"  tensor_name: {_quoted(tensor_name)}\n"
        f'  tensor_path: "{TENSORS}"\n'
        f'  metadata_path: "{METADATA}"\n'
        "  sprite {\n"
        f'    image_path: "{SPRITE}"\n'
        f"    single_image_dim: {width}\n"
        f"    single_image_dim: {height}\n"
        "  }\n"
        "}\n"
    )


def sprite_png(images: np.ndarray) -> bytes:
    """The images in a square grid (``ceil(sqrt(n))`` a side, row by row), as a PNG; the last row padded black.

    Args:
        images: uint8 ``(n, h, w)``, ``(n, h, w, 1)`` or ``(n, h, w, 3)``.

    Raises:
        ExportError: images of another dtype or shape, or a grid wider than :data:`SPRITE_MAX_PX` pixels.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[3] not in (1, 3)):
        raise ExportError(
            "A projector sprite is made of uint8 images (n × height × width, with 1 or 3 channels); "
            f"received shape {images.shape}, dtype {images.dtype}."
        )
    if images.ndim == 4 and images.shape[3] == 1:
        images = images[..., 0]
    n, height, width = images.shape[:3]
    side = math.ceil(math.sqrt(n))
    if side * max(height, width) > SPRITE_MAX_PX:
        most = (SPRITE_MAX_PX // max(height, width)) ** 2
        raise ExportError(
            f"The projector's sprite is at most {SPRITE_MAX_PX:,} pixels a side: {n:,} images of {height}×{width} "
            f"need {side * max(height, width):,}. Export at most {most:,} of them."
        )
    grid = np.zeros((side * height, side * width) + images.shape[3:], dtype=np.uint8)
    for i, image in enumerate(images):
        row, column = divmod(i, side)
        grid[row * height : (row + 1) * height, column * width : (column + 1) * width] = image
    buffer = io.BytesIO()
    pil_image.fromarray(grid).save(buffer, format="PNG")
    return buffer.getvalue()


def refusal(n: int, image_size: tuple[int, ...]) -> str:
    """Why :func:`projector_files` would refuse ``n`` images of ``image_size`` (height, width, ...), or ``""``."""
    height, width = (int(size) for size in image_size[:2])
    side = math.ceil(math.sqrt(max(n, 1)))
    if n > MAX_POINTS:
        return f"at most {MAX_POINTS:,} images; the map has {n:,}"
    if side * max(height, width) > SPRITE_MAX_PX:
        return f"the projector's sprite holds at most {(SPRITE_MAX_PX // max(height, width)) ** 2:,} images this size"
    return ""


def _tensors(outputs: np.ndarray) -> bytes:
    buffer = io.StringIO()
    np.savetxt(buffer, outputs.astype(np.float32), fmt="%.6g", delimiter="\t")
    return buffer.getvalue().encode()


def _metadata(indices: np.ndarray, labels: np.ndarray, predicted: np.ndarray, class_names: Sequence[str]) -> bytes:
    def name(label: int) -> str:
        text = class_names[label] if 0 <= label < len(class_names) else str(label)
        return str(safe_cell(" ".join(str(text).split())))  # no tab or line break inside a cell

    rows = ["index\tlabel\tpredicted\tcorrect"]
    for index, label, guess in zip(indices.tolist(), labels.tolist(), predicted.tolist(), strict=True):
        rows.append(f"{int(index)}\t{name(int(label))}\t{name(int(guess))}\t{'yes' if label == guess else 'no'}")
    return ("\n".join(rows) + "\n").encode()


def _quoted(text: str) -> str:
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif char == "\n":
            escaped.append("\\n")
        elif ord(char) < 32 or ord(char) == 127:
            escaped.append(f"\\{ord(char):03o}")
        else:
            escaped.append(char)
    # Non-ASCII text as UTF-8 octal escapes: protobuf's text format reads them back as the same string.
    out = "".join(escaped)
    return '"' + "".join(c if ord(c) < 128 else "".join(f"\\{b:03o}" for b in c.encode()) for c in out) + '"'
