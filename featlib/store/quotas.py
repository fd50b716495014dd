"""Quotas: how much each maker, and the workspace, may store, and the disk space that must stay free.

Every new item (a model, a dataset upload, a representation, a map, a saved view, what a bundle import
stores) is checked by :meth:`featlib.store.index.IndexedFolder.check_room` (:func:`check_disk`, then
:func:`check_quotas`) before its file is written, with its maker and its size: it is
refused with :class:`~featlib.errors.QuotaError` when it would take its maker past
``FEATLIB_QUOTA_USER_MB`` or ``FEATLIB_QUOTA_USER_ITEMS``, the workspace past ``FEATLIB_QUOTA_WORKSPACE_MB``
or ``FEATLIB_QUOTA_WORKSPACE_ITEMS``, or leave less than ``FEATLIB_MIN_FREE_MB`` free on the workspace's
disk. The settings are read at each check (:mod:`featlib.settings`), so an admin's change applies to the next
item without a restart.

A maker's share is what the workspace lists as made by them (the ``creator`` of each model, dataset upload,
representation, map and saved view; an import counts for who imported it; results of jobs for whoever
asked), and the bytes the listing shows for each (:meth:`featlib.store.Workspace.items`): the file of a
model, upload or array, the thumbnail of a saved view. Items made with no name count for the maker ``""``
("nobody named"). The check runs again inside the index transaction that lists the item, with the size of
the file written, so two sessions storing at once cannot both pass a quota meant for one of them.
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from featlib import settings
from featlib.errors import QuotaError
from featlib.store.files import file_bytes

USER_MB = "FEATLIB_QUOTA_USER_MB"
USER_ITEMS = "FEATLIB_QUOTA_USER_ITEMS"
WORKSPACE_MB = "FEATLIB_QUOTA_WORKSPACE_MB"
WORKSPACE_ITEMS = "FEATLIB_QUOTA_WORKSPACE_ITEMS"
MIN_FREE_MB = "FEATLIB_MIN_FREE_MB"
MIB = 1024 * 1024
FIX = "Delete items that are no longer needed on the Workspace page, or ask the admin to raise {setting}."


@dataclass(frozen=True)
class Share:
    """What one maker has stored: ``items`` items of ``bytes`` bytes in all."""

    maker: str
    items: int
    bytes: int


@dataclass(frozen=True)
class Quotas:
    """The quotas in force now, in bytes and items; ``None``: no quota.

    Attributes:
        user_bytes, user_items: per maker (``FEATLIB_QUOTA_USER_MB``, ``FEATLIB_QUOTA_USER_ITEMS``).
        workspace_bytes, workspace_items: for the whole workspace (``FEATLIB_QUOTA_WORKSPACE_*``).
        min_free: the bytes that must stay free on the workspace's disk (``FEATLIB_MIN_FREE_MB``; 0: no floor).
    """

    user_bytes: int | None
    user_items: int | None
    workspace_bytes: int | None
    workspace_items: int | None
    min_free: int


def quotas() -> Quotas:
    """The quotas set now (read from the settings at each call).

    Raises:
        featlib.errors.SettingError: a quota setting holds a value outside its rule.
    """

    def mib(name: str) -> int | None:
        value = settings.get(name)
        return None if value is None else max(1, int(value * MIB))

    return Quotas(
        mib(USER_MB),
        settings.get(USER_ITEMS),
        mib(WORKSPACE_MB),
        settings.get(WORKSPACE_ITEMS),
        int(settings.get(MIN_FREE_MB)) * MIB,
    )


def shares(db: sqlite3.Connection, root: Path) -> dict[str, Share]:
    """Each maker's items and bytes, as the listing counts them (keyed by ``creator``; ``""``: nobody named).

    Args:
        db: an open connection to the workspace's index.
        root: the workspace folder (model and upload files are measured on disk).
    """
    items: dict[str, int] = {}
    sizes: dict[str, int] = {}

    def add(maker: object, count: int, size: int) -> None:
        name = maker.strip() if isinstance(maker, str) else ""
        items[name] = items.get(name, 0) + int(count)
        sizes[name] = sizes.get(name, 0) + int(size or 0)

    for table in ("models", "datasets"):
        for row in db.execute(f"SELECT creator, path FROM {table}"):
            add(row[0], 1, file_bytes(root / row[1]) if isinstance(row[1], str) else 0)
    # A stored figure (kind "result") counts its bytes, not as an item: it is not listed, and goes with its model.
    for row in db.execute("SELECT creator, SUM(kind != 'result'), SUM(bytes) FROM artifacts GROUP BY creator"):
        add(*row)
    for row in db.execute("SELECT creator, COUNT(*), SUM(LENGTH(thumbnail)) FROM saved_views GROUP BY creator"):
        add(*row)
    return {maker: Share(maker, items[maker], sizes[maker]) for maker in sorted(items)}


def items_text(n: int) -> str:
    """``"1 item"``, ``"1,200 items"``."""
    return f"{n:,} item{'' if n == 1 else 's'}"


def size_text(n: int) -> str:
    """``n`` bytes in words: ``"512 B"``, ``"19.6 MiB"``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{n} B"


def free_bytes(root: Path) -> int:
    """The bytes free on the disk that holds ``root`` (:func:`shutil.disk_usage`)."""
    return shutil.disk_usage(root).free


def check_disk(root: Path, nbytes: int, *, what: str = "item") -> None:
    """Refuses writing ``nbytes`` more when that would leave less than ``FEATLIB_MIN_FREE_MB`` free on ``root``'s disk.

    Raises:
        QuotaError: naming the floor, the bytes free now, the size of the item and the fix; nothing was written.
    """
    floor = quotas().min_free
    if not floor:
        return
    free = free_bytes(root)
    if free - max(0, nbytes) < floor:
        raise QuotaError(
            f"Storing this {what} ({size_text(nbytes)}) would leave {size_text(max(0, free - nbytes))} free on the "
            f"disk of the workspace ({root}), under the floor {MIN_FREE_MB} = {size_text(floor)} (free now: "
            f"{size_text(free)}). Nothing was stored. Free disk space (delete items on the Workspace page, or "
            f"other files on that disk), or ask the admin to give the workspace more disk or lower {MIN_FREE_MB}.",
            MIN_FREE_MB,
        )


def check_quotas(
    db: sqlite3.Connection,
    root: Path,
    maker: str,
    nbytes: int,
    *,
    what: str = "item",
    new_items: int = 1,
    replacing: int = 0,
) -> None:
    """Refuses a new item that would take its maker or the workspace past a quota; returns when it fits.

    Args:
        db: an open connection to the workspace's index (inside the writer's transaction, for the check
            made again with the size of the file written).
        root: the workspace folder.
        maker: who the item counts for (its ``creator``; ``""``: nobody named).
        nbytes: the bytes of the item.
        what: the item in words, for the message (``"model"``, ``"map"``, ...).
        new_items: 1 for a new item; 0 when it replaces one listed under the same key.
        replacing: the bytes of the item it replaces (freed when it is stored).

    Raises:
        QuotaError: naming the quota, the use now, the size of the item and the fix; nothing was stored.
        featlib.errors.SettingError: a quota setting holds a value outside its rule.
    """
    limits = quotas()
    if not any(
        v is not None for v in (limits.user_bytes, limits.user_items, limits.workspace_bytes, limits.workspace_items)
    ):
        return
    maker = maker.strip()
    grows = nbytes - replacing
    item = f"this {what} ({size_text(nbytes)})"
    found = shares(db, root)
    mine = found.get(maker, Share(maker, 0, 0))
    who = repr(maker) if maker else "nobody named (made without a user name)"
    total_items = sum(s.items for s in found.values())
    total_bytes = sum(s.bytes for s in found.values())
    if limits.user_bytes is not None and grows > 0 and mine.bytes + grows > limits.user_bytes:
        raise QuotaError(
            f"Storing {item} would take the items made by {who} past their quota {USER_MB} = "
            f"{size_text(limits.user_bytes)}: they use {size_text(mine.bytes)} now ({items_text(mine.items)}). "
            f"Nothing was stored. {FIX.format(setting=USER_MB)}",
            USER_MB,
        )
    if limits.user_items is not None and new_items and mine.items + new_items > limits.user_items:
        raise QuotaError(
            f"Storing {item} would take the items made by {who} past their quota {USER_ITEMS} = "
            f"{items_text(limits.user_items)}: they hold {items_text(mine.items)} now ({size_text(mine.bytes)}). "
            f"Nothing was stored. {FIX.format(setting=USER_ITEMS)}",
            USER_ITEMS,
        )
    if limits.workspace_bytes is not None and grows > 0 and total_bytes + grows > limits.workspace_bytes:
        raise QuotaError(
            f"Storing {item} would take the workspace past its quota {WORKSPACE_MB} = "
            f"{size_text(limits.workspace_bytes)}: its items use {size_text(total_bytes)} now "
            f"({items_text(total_items)}). Nothing was stored. {FIX.format(setting=WORKSPACE_MB)}",
            WORKSPACE_MB,
        )
    if limits.workspace_items is not None and new_items and total_items + new_items > limits.workspace_items:
        raise QuotaError(
            f"Storing {item} would take the workspace past its quota {WORKSPACE_ITEMS} = "
            f"{items_text(limits.workspace_items)}: it holds {items_text(total_items)} now ({size_text(total_bytes)}). "
            f"Nothing was stored. {FIX.format(setting=WORKSPACE_ITEMS)}",
            WORKSPACE_ITEMS,
        )
