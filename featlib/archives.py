"""The zip-bomb rule shared by every archive a user can upload (.keras, .npz, gzip, bundles).

An archive is refused before anything is inflated when its members declare
more than a limit in all, or, past :data:`BOMB_MIN_BYTES`, more than
:data:`BOMB_MAX_RATIO` times their compressed size (real model and data
files compress far less: Keras stores members uncompressed, ratio ~1).
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence

BOMB_MIN_BYTES = 50 * 1024 * 1024
BOMB_MAX_RATIO = 200


def is_bomb(inflated: int, packed: int, limit: int) -> bool:
    """Whether ``inflated`` bytes from ``packed`` break ``limit`` or the ratio rule."""
    packed = max(1, packed)
    return inflated > limit or (inflated > BOMB_MIN_BYTES and inflated / packed > BOMB_MAX_RATIO)


def declared_sizes(members: Sequence[zipfile.ZipInfo]) -> tuple[int, int]:
    """``(inflated, packed)``: the bytes the members declare, uncompressed and compressed (at least 1)."""
    return sum(m.file_size for m in members), max(1, sum(m.compress_size for m in members))
