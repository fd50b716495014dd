"""The Workspace page's glue: the shared listing, its filters, and each item's actions."""

from __future__ import annotations

import dataclasses
import hashlib

import streamlit as st

from featlib import datasets, names, provenance, settings
from featlib.app import clipboard, comparing, identity, links, resources, state, text, widgets
from featlib.app.resources import UPLOAD_PREFIX
from featlib.errors import FeatlibError, RoleError, TextError
from featlib.maps.embed import REDUCERS
from featlib.read.extract import METHODS
from featlib.share.views import View, ViewError
from featlib.store import ARRAY_KINDS, InUseError, Item, SavedViewError, WorkspaceError
from featlib.store.permissions import why_not

KIND_TITLES = {
    "model": "Model",
    "dataset": "Dataset upload",
    "representation": "Representation",
    "embedding": "Map",
    "view": "Saved view",
}
SORTS = {
    "newest first": (lambda i: i.created, True),
    "oldest first": (lambda i: i.created, False),
    "name": (lambda i: i.name.lower(), False),
    "maker": (lambda i: (i.creator or "~").lower(), False),
    "size, largest first": (lambda i: i.bytes, True),
    "test accuracy, best first": (lambda i: _figure(i.test_accuracy), True),
    "kNN accuracy, best first": (lambda i: _figure(i.knn_accuracy), True),
}
PAGE_SIZE = 50
NOTE_MAX = 2_000
"""The most characters a note typed on the Workspace page may have."""


def _figure(value: object) -> float:
    """A stored figure for sorting: itself, or -1 when there is none (or it is not a number)."""
    return float(value) if widgets.computed(value) else -1.0


_PENDING_DELETE = "featlib.pending_delete"
_PENDING_CHANGE = "featlib.pending_change"


def size(n: int) -> str:
    """``n`` bytes in KiB, MiB or GiB."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{n} B"


def filtered(items: list[Item], text: str, kinds: list[str], makers: list[str], sort: str) -> list[Item]:
    """Items of the chosen kinds and makers whose name, note or origin holds ``text``, sorted."""
    text = text.strip().lower()
    chosen = [
        i
        for i in items
        if i.kind in kinds
        and (not makers or (i.creator or "(nobody)") in makers)
        and (not text or text in f"{i.name} {i.note} {i.made_from} {i.creator}".lower())
    ]
    key, reverse = SORTS[sort]
    return sorted(chosen, key=key, reverse=reverse)


LAYOUTS = {"groups": "By model and dataset", "table": "Table", "cards": "Cards"}
"""How the Workspace page lists the items: grouped (near-identical ones collapsed), as one table, or one card each."""
_BULK_DELETE = "featlib.bulk_delete"
NO_MODEL = "no model"


def group_of(item: Item, records: dict, dataset_names: dict[str, str]) -> tuple[str, str]:
    """``(model, dataset)`` an item belongs to, in words, for grouping the listing.

    Args:
        records: the workspace's model records by id.
        dataset_names: dataset names by fingerprint (uploads, and the data the models were measured on).
    """
    params = item.parameters if isinstance(item.parameters, dict) else {}
    if item.kind == "model":
        record = records.get(item.id)
        return item.name, record.dataset if record is not None else ""
    if item.kind == "dataset":
        return NO_MODEL, item.name
    if item.kind == "view":
        ids = [str(params["model"])] if params.get("model") else []
        ids += [str(params[k]).split(":", 1)[0] for k in ("p1", "p2", "p3", "p4") if params.get(k)]
        models_shown = list(dict.fromkeys(records[i].name if i in records else i for i in ids))
        key = str(params.get("dataset", ""))  # "digits", or "upload:<fingerprint>": named as the other items name it
        fingerprint = key.removeprefix(UPLOAD_PREFIX) if key.startswith(UPLOAD_PREFIX) else ""
        return " + ".join(models_shown) or NO_MODEL, dataset_names.get(fingerprint, key) if fingerprint else key
    record = records.get(item.model_id or "")
    fingerprint = str(params.get("dataset_fingerprint", ""))
    dataset = dataset_names.get(fingerprint) or (f"data {fingerprint[:8]}" if fingerprint else "")
    return (record.name if record is not None else NO_MODEL), dataset


def dataset_names(records: list) -> dict[str, str]:
    """Dataset names by fingerprint: the uploads', and those the models' accuracies were measured on."""
    found = {r.meta["dataset_fingerprint"]: r.dataset for r in records if r.meta.get("dataset_fingerprint")}
    found.update({row["fingerprint"]: row["name"] for row in resources.workspace().list_datasets()})
    return found


def family(item: Item) -> tuple:
    """What near-identical items share: the maps of one Layers pass (every layer of one sample) collapse into one,
    and so do items of one kind with the same name."""
    params = item.parameters if isinstance(item.parameters, dict) else {}
    if item.kind == "embedding" and params.get("method") == "all layers in one pass":
        return ("layers", item.model_id, *sorted((k, str(v)) for k, v in params.items() if k != "layer"))
    return (item.kind, item.name)


def grouped(items: list[Item]) -> dict[tuple[str, str], list[list[Item]]]:
    """The items by ``(model, dataset)`` (:func:`group_of`), each group's items in families (:func:`family`), in
    the listing's order."""
    records = {r.id: r for r in resources.workspace().list_models()}
    names_by_fp = dataset_names(list(records.values()))
    groups: dict[tuple[str, str], dict[tuple, list[Item]]] = {}
    for item in items:
        groups.setdefault(group_of(item, records, names_by_fp), {}).setdefault(family(item), []).append(item)
    return {key: list(families.values()) for key, families in groups.items()}


def family_title(members: list[Item]) -> str:
    """One line for a family of near-identical items."""
    first = members[0]
    params = first.parameters if isinstance(first.parameters, dict) else {}
    if params.get("method") == "all layers in one pass":
        # In the model's order, as the pass stored them: the oldest first (the listing is newest first, and the
        # pass may cross a second, so its order alone can put the last layer first).
        made = sorted(members, key=lambda m: m.created)
        layers = ", ".join(dict.fromkeys(str(m.parameters.get("layer", "")) for m in made))
        reducer = first.name.split(" · ", 1)[0]
        return f"{reducer}s of {len(members)} layers, all layers in one pass ({layers})"
    return f"{first.name} × {len(members)} ({KIND_TITLES[first.kind]})"


def grouped_list(items: list[Item]) -> None:
    """The items grouped by model and dataset, one expander each; near-identical items collapse into one row."""
    for n, ((model, dataset), families) in enumerate(grouped(items).items()):
        count = sum(len(f) for f in families)
        label = f"{model} · {dataset or 'no dataset'} — {count} item{'s' * (count != 1)}"
        with st.expander(text.escape(label), expanded=n == 0 or len(items) <= 12):  # the newest group open
            for members in families:
                if len(members) == 1:
                    item_card(members[0])
                    continue
                slot = hashlib.sha1("|".join(f"{m.kind}/{m.id}" for m in members).encode()).hexdigest()[:12]
                with st.container(border=True, key=f"family-{slot}"):
                    text.markdown(
                        text.md(
                            "**{}** · {} · by {} · {}",
                            family_title(members),
                            KIND_TITLES[members[0].kind],
                            ", ".join(sorted({m.maker for m in members})),
                            size(sum(m.bytes for m in members)),
                        )
                    )
                    why = refusal(members[0], "delete") if len({m.creator_subject for m in members}) == 1 else ""
                    st.button(
                        f"Delete these {len(members)}…",
                        key=f"delete-family-{slot}",
                        icon=":material/delete:",
                        on_click=ask_bulk_delete,
                        args=([(m.kind, m.id) for m in members],),
                        disabled=bool(why),
                        help=text.escape(why) if why else None,
                    )
                    with st.expander(f"Show the {len(members)} items"):
                        for member in members:
                            item_card(member)


def table(items: list[Item]) -> None:
    """Every item as one row of a table; the rows selected can be deleted at once (:func:`ask_bulk_delete`)."""
    records = {r.id: r for r in resources.workspace().list_models()}
    names_by_fp = dataset_names(list(records.values()))
    rows = []
    for item in items:
        model, dataset = group_of(item, records, names_by_fp)
        rows.append(
            {
                "kind": KIND_TITLES[item.kind],
                "name": item.name,
                "model": model,
                "dataset": dataset,
                "by": item.maker,
                "made (UTC)": str(item.created).replace("T", " ")[:16],
                "size": size(item.bytes),
                "test acc.": item.test_accuracy,
                "kNN acc.": item.knn_accuracy,
                "note": item.note,
            }
        )
    event = st.dataframe(
        rows,
        key="workspace-table",
        on_select="rerun",
        selection_mode="multi-row",
        hide_index=True,
        width="stretch",
        column_config={"name": st.column_config.TextColumn("name", width="large")},
    )
    picked = [items[i] for i in event.selection.rows if i < len(items)]
    text.caption("Select rows (the boxes at their left) to delete several at once.")
    if picked:
        why = next((refusal(i, "delete") for i in picked if refusal(i, "delete")), "")
        st.button(
            f"Delete the {len(picked)} selected…",
            key="delete-selected",
            icon=":material/delete:",
            type="primary",
            on_click=ask_bulk_delete,
            args=([(i.kind, i.id) for i in picked],),
            disabled=bool(why),
            help=text.escape(why) if why else None,
        )


def ask_bulk_delete(chosen: list[tuple[str, str]]) -> None:
    """Asks to delete several items (``(kind, id)`` pairs): the confirmation is shown on the next run."""
    st.session_state[_BULK_DELETE] = list(chosen)


def _forget_bulk_delete() -> None:
    st.session_state.pop(_BULK_DELETE, None)


DELETE_ORDER = {"view": 0, "embedding": 1, "representation": 2, "model": 3, "dataset": 4}
"""Results before what they were made from, datasets last (a dataset is refused while anything uses it)."""


def delete_many(workspace, chosen: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """Deletes items through the store's own :meth:`~featlib.store.Workspace.delete` (with its checks), one by one.

    Results go before the models and representations they were made from, datasets last; an item already
    gone with another (a map with its model) is not an error.

    Under a login the store refuses what the user's role does not allow (another member's item; anything, for a
    viewer): said among the refused.

    Returns:
        ``(deleted, refused)``: what was deleted (the store's descriptions), and why some were not.
    """
    deleted, refused = [], []
    actor = identity.actor()
    for kind, ident in sorted(chosen, key=lambda c: DELETE_ORDER.get(c[0], 9)):
        try:
            deleted.extend(workspace.delete(kind, ident, who=identity.current_user(), actor=actor))
        except (InUseError, RoleError) as error:  # in use; or, under a login, not this user's to delete
            refused.append(str(error))
        except WorkspaceError:
            continue  # deleted with an item before it, or by someone else meanwhile
    return deleted, refused


def pending_bulk_delete(items: list[Item]) -> None:
    """Shows the confirmation of a delete of several items asked for on this page, if any."""
    chosen = st.session_state.get(_BULK_DELETE)
    if not chosen:
        return
    by_key = {(i.kind, i.id): i for i in items}
    present = [by_key[tuple(c)] for c in chosen if tuple(c) in by_key]
    if not present:
        _forget_bulk_delete()
        return
    _confirm_bulk_delete(present)


@st.dialog("Delete these from the shared workspace?", on_dismiss=_forget_bulk_delete)
def _confirm_bulk_delete(chosen: list[Item]) -> None:
    """Names every item and what goes with it, then deletes them through the store's delete."""
    workspace = resources.workspace()
    text.markdown(
        text.md(
            "**{} items** ({}) will be deleted for everyone using this server:",
            len(chosen),
            size(sum(i.bytes for i in chosen)),
        )
    )
    text.markdown(
        text.Markup("\n").join(text.md("- {} ({})", i.name, KIND_TITLES[i.kind]) for i in chosen[:30])
        + (text.md("\n- … and {} more", len(chosen) - 30) if len(chosen) > 30 else text.Markup(""))
    )
    makers = sorted({made_by_another(i) for i in chosen} - {""})
    if makers:
        text.warning(
            text.md("{} made some of these; names are only labels here — delete them anyway?", ", ".join(makers))
        )
    keys_chosen = {(i.kind, i.id) for i in chosen}
    derived = {
        (d.kind, d.id): d
        for i in chosen
        if i.kind in ("model", "representation")
        for d in workspace.derived_from(i.kind, i.id)
        if (d.kind, d.id) not in keys_chosen
    }
    if derived:
        text.markdown(f"With them go the {len(derived)} other result(s) made from them.")
    left, right = st.columns(2)
    right.button("Cancel", key="cancel-bulk-delete", on_click=_forget_bulk_delete)
    if left.button(f"Delete {len(chosen)}", type="primary", key="confirm-bulk-delete"):
        _forget_bulk_delete()
        deleted, refused = delete_many(workspace, [(i.kind, i.id) for i in chosen])
        for reason in refused:
            text.error(reason)
        if state.get(state.MODEL) and not any(r.id == state.get(state.MODEL) for r in workspace.list_models()):
            state.put(state.MODEL, None)
        resources.model.clear()
        if not refused:
            st.rerun()


def summary_line(item: Item) -> text.Markup:
    """One markdown line: kind, name, maker, date, origin, size, figures."""
    figures = []
    if item.test_accuracy is not None:
        figures.append(text.md("test acc **{}**", widgets.score(item.test_accuracy)))
    if item.knn_accuracy is not None:
        figures.append(text.md("kNN acc **{}**", widgets.score(item.knn_accuracy)))
    if item.imported or item.claimed_by:  # "imported by bob; bundle says made by alice": the claim shown as one
        maker = text.md("imported by **{}**", item.creator or "nobody named") + (
            text.md("; bundle says made by {}", item.claimed_by) if item.claimed_by else text.Markup("")
        )
    else:
        maker = text.md("by **{}**", item.creator or "unknown")
    return (
        text.md(
            "**{}** · {} · {} · {} UTC · {}",
            item.name,
            KIND_TITLES[item.kind],
            maker,
            str(item.created).replace("T", " ")[:16],
            size(item.bytes),
        )
        + (text.md(" · {}", text.Markup(" · ").join(figures)) if figures else text.Markup(""))
        + text.md("  \n{}", item.made_from)
    )


def provenance_lines(item: Item) -> text.Markup:
    """Fingerprints, seed and library versions of an item, as markdown lines."""
    made = item.provenance if isinstance(item.provenance, dict) else {}  # a bundle's fields are text, never markup
    if not made and item.kind == "view":  # a view stores no result: what it shows says what it is made from
        fingerprints = {r.id: r.fingerprint for r in resources.workspace().list_models()}
        made = provenance.of_view(dict(item.parameters), str(item.created), fingerprints)
    lines = [
        text.md("- {}: {}", label, made[key])
        for key, label in (
            ("model_fingerprint", "model fingerprint"),
            ("dataset_fingerprint", "dataset fingerprint"),
            ("seed", "seed"),
        )
        if made.get(key) is not None
    ]
    if item.kind == "view" and isinstance(made.get("parameters"), dict) and made["parameters"]:
        lines.append(text.md("- shows {}", ", ".join(f"{k} {v}" for k, v in made["parameters"].items())))
    versions = made.get("versions") or {}
    if isinstance(versions, dict) and versions:
        lines.append(text.md("- made with {}", ", ".join(f"{name} {version}" for name, version in versions.items())))
    if made.get("made_at"):
        lines.append(text.md("- at {}", str(made["made_at"]).replace("T", " ")))
    return text.Markup("\n").join(lines) or text.md("No provenance recorded (made before featlib recorded it).")


def item_card(item: Item) -> None:
    """One item: its summary, and an expander with provenance, rename, note and delete."""
    slot = hashlib.sha1(f"{item.kind}/{item.id}".encode()).hexdigest()[:12]
    with st.container(border=True, key=f"item-{slot}"):
        if item.kind == "view":
            _view_row(item, slot)
        else:
            text.markdown(summary_line(item))
        if item.note:
            text.caption(text.md("Note: {}", item.note))
        with st.expander("Details, rename, note, delete"):
            left, right = st.columns(2)
            with left:
                text.markdown(text.md("**Made from**"))
                text.markdown(provenance_lines(item))
                text.caption("Every parameter and the whole provenance record:")
                st.json({"parameters": item.parameters, "provenance": item.provenance}, expanded=False)
            with right:
                _rename(item, slot)
                _note(item, slot)
                if item.kind == "model" and st.button(
                    "Open on Explore", key=f"open-{slot}", icon=":material/scatter_plot:"
                ):
                    state.put(state.MODEL, item.id)
                    st.switch_page(widgets.EXPLORE_PAGE)
                if opens_a_view(item) and st.button(
                    "Open this view", key=f"view-{slot}", icon=":material/scatter_plot:"
                ):
                    view = view_of(item)
                    if view is None:
                        text.error(
                            f"{item.name} cannot be opened: the dataset it was made from (fingerprint "
                            f"{item.parameters.get('dataset_fingerprint')}) is not on this server."
                        )
                    else:
                        links.open_view(view)
                        st.switch_page(widgets.EXPLORE_PAGE)
                why = refusal(item, "delete")
                st.button(
                    "Delete…",
                    key=f"delete-{slot}",
                    icon=":material/delete:",
                    on_click=_ask_delete,
                    args=(item,),
                    disabled=bool(why),
                    help=text.escape(why) if why else None,
                )


def _view_row(item: Item, slot: str) -> None:
    """A saved view's row: its thumbnail, title, maker and time, what it shows, "Open" and its short link to copy."""
    thumbnail = _thumbnail(item.id)
    left, right = st.columns([1.4, 5], vertical_alignment="center")
    if thumbnail:
        left.image(thumbnail, width=160, output_format="PNG")
    else:
        text.caption("No thumbnail", on=left)
    with right:
        text.markdown(summary_line(item))
        row = st.container(horizontal=True, vertical_alignment="center", gap="small")
        with row:
            st.button(
                "Open",
                key=f"open-view-{slot}",
                icon=":material/open_in_new:",
                type="primary",
                on_click=_open_saved,
                args=(item.id,),
            )
            path = str(item.parameters.get("link", ""))
            root = links.page_root()
            text.markdown(text.code(f"{root}/{path}" if root else path))
            clipboard.copy_button(path, "Copy link", key=f"copy-view-{slot}")
        if st.session_state.get(_OPEN_ERROR, (None,))[0] == item.id:
            text.error(st.session_state.pop(_OPEN_ERROR)[1])


_OPEN_ERROR = "featlib.open_view_error"
_OPEN_PAGE = "featlib.open_view_page"


def _thumbnail(ident: str) -> bytes:
    """A saved view's PNG thumbnail (``b""``: none, or the view was deleted meanwhile)."""
    try:
        return resources.workspace().get_view(ident).thumbnail
    except SavedViewError:
        return b""


def open_saved(ident: str) -> str:
    """Makes the saved view ``ident`` the current choices of its page; returns that page (for ``st.switch_page``).

    Raises:
        SavedViewError: no such view, or one whose stored query is no longer a view.
        WorkspaceError: a view of a model or dataset no longer in the workspace.
    """
    saved = resources.workspace().get_view(ident)
    if saved.kind == "compare":
        try:
            view = comparing.CompareView.from_query(saved.query)
        except ValueError as error:
            raise SavedViewError(f"The saved view {saved.id!r} holds no comparison: {error}") from None
        for panel in view.panels:
            resources.record(panel.model)
        comparing.apply(view)
        return widgets.COMPARE_PAGE
    try:
        links.open_query(dict(saved.query))
    except ViewError as error:
        raise SavedViewError(f"The saved view {saved.id!r} holds no view: {error}") from None
    return widgets.EXPLORE_PAGE


def _open_saved(ident: str) -> None:
    """The "Open" button's callback: makes the saved view current; the page then switches to it."""
    try:
        st.session_state[_OPEN_PAGE] = open_saved(ident)
    except FeatlibError as error:
        st.session_state[_OPEN_ERROR] = (ident, f"This view cannot be opened: {error}")


def switch_to_opened() -> None:
    """Goes to the page of a saved view opened by an "Open" button in this run's callbacks, if any."""
    page = st.session_state.pop(_OPEN_PAGE, None)
    if page:
        st.switch_page(page)


def opens_a_view(item: Item) -> bool:
    """Whether ``item`` is a map the Explore page draws (one layer by one method), so that it can be opened there."""
    return (
        item.kind == "embedding"
        and bool(item.model_id)
        and item.parameters.get("method") in METHODS
        and item.id.rsplit("/", 1)[-1].split("-", 1)[0] in REDUCERS
    )


def view_of(item: Item) -> View | None:
    """The Explore view that shows the stored map ``item``, read from its key's parameters; ``None`` when its
    dataset is not on this server (or the key names no valid view)."""
    params = item.parameters
    dataset_key = _dataset_key(str(params.get("dataset_fingerprint", "")))
    if dataset_key is None:
        return None
    reducer = item.id.rsplit("/", 1)[-1].split("-", 1)[0]
    query = {
        "model": str(item.model_id),
        "dataset": dataset_key,
        "layer": str(params.get("layer", "")),
        "method": str(params.get("method", "")),
        "split": str(params.get("split", "")),
        "reducer": reducer,
        "sample": "all" if params.get("sample") in (None, "None") else str(params["sample"]),
    }
    for field in dataclasses.fields(REDUCERS[reducer]):
        if field.name in params:
            query[field.name] = "none" if params[field.name] == "None" else str(params[field.name])
    if params.get("reduction"):
        query["reduction"] = str(params["reduction"])
    try:
        return View.from_query(query)
    except ViewError:
        return None


def _dataset_key(fingerprint: str) -> str | None:
    """The dataset key (``digits``, ``upload:<fp>``) whose data have ``fingerprint``, or ``None``."""
    if fingerprint in {row["fingerprint"] for row in resources.workspace().list_datasets()}:
        return UPLOAD_PREFIX + fingerprint
    # The built-ins that load offline first: loading MNIST tries to download it where it was never downloaded.
    for key in sorted(datasets.BUILTIN_DATASETS, key=lambda name: name == "mnist"):
        try:
            if resources.builtin_dataset(key).fingerprint == fingerprint:
                return key
        except (datasets.DatasetError, datasets.DatasetUnavailableError):
            continue
    return None


def _rename(item: Item, slot: str) -> None:
    label = "Title" if item.kind in ARRAY_KINDS + ("view",) else "Name"
    with st.form(f"rename-{slot}", border=False):
        new = st.text_input(
            label, value=item.name, key=f"name-{slot}", max_chars=max(names.MAX_NAME_LENGTH, len(item.name))
        )
        why = refusal(item, "rename")
        if st.form_submit_button(
            "Rename", key=f"rename-button-{slot}", disabled=bool(why), help=text.escape(why) if why else None
        ):
            if _ask_first(item, "rename", new):
                return
            try:
                resources.workspace().rename(
                    item.kind, item.id, new, who=identity.current_user(), actor=identity.actor()
                )
            except FeatlibError as error:  # NameClashError, TextError, WorkspaceError, RoleError
                text.error(error)
                return
            st.rerun()


def check_note(text: str) -> str:
    """A note as typed, when it keeps :data:`NOTE_MAX` characters and no control character but line breaks and tabs.

    Raises:
        TextError: naming the rule and what was received.
    """
    if len(text) > NOTE_MAX:
        raise TextError(f"A note can have at most {NOTE_MAX:,} characters; got {len(text):,}.")
    bad = sorted({c for c in text if not c.isprintable() and c not in "\n\t"})
    if bad:
        raise TextError(
            f"A note must hold printable characters and line breaks only; got {', '.join(repr(c) for c in bad[:5])}."
        )
    return text


def _note(item: Item, slot: str) -> None:
    with st.form(f"note-{slot}", border=False):
        note = st.text_area(
            "Note", value=item.note, key=f"note-{slot}", height=80, max_chars=max(NOTE_MAX, len(item.note))
        )  # a longer note stored elsewhere still shows
        why = refusal(item, "note")
        if st.form_submit_button(
            "Save note", key=f"note-button-{slot}", disabled=bool(why), help=text.escape(why) if why else None
        ):
            if _ask_first(item, "note", note):
                return
            try:
                resources.workspace().set_note(
                    item.kind, item.id, check_note(note), who=identity.current_user(), actor=identity.actor()
                )
            except FeatlibError as error:  # TextError, WorkspaceError, RoleError
                text.error(error)
                return
            st.rerun()


def refusal(item: Item, action: str) -> str:
    """Why the current user may not do ``action`` (``"rename"``, ``"note"``, ``"delete"``) to ``item`` under a login
    (the rule, their role and the fix: the disabled button's tooltip); ``""`` when they may, and always without a
    login (:func:`featlib.store.permissions.why_not`). The store refuses the same change if it is reached anyway."""
    return why_not(identity.actor(), action, item.creator_subject, f"{KIND_TITLES[item.kind].lower()} {item.name!r}")


def made_by_another(item: Item) -> str:
    """The maker of ``item`` when it is another person than the current user, else ``""``.

    Without a login, names are only labels anyone can type: a change to another person's item is asked first.
    With a login the roles decide instead (:func:`refusal`): nothing is asked.
    """
    if identity.actor() is not None:
        return ""
    me = identity.current_user()
    return item.creator if item.creator and item.creator != me else ""


def _ask_first(item: Item, action: str, value: str) -> bool:
    """True (and the question is shown on the next run) when ``item`` was made by another person and
    ``action`` (``"rename"``, ``"note"``) with ``value`` must be confirmed first."""
    if not made_by_another(item):
        return False
    st.session_state[_PENDING_CHANGE] = (action, item.kind, item.id, value)
    st.rerun()
    return True


def _forget_change() -> None:
    st.session_state.pop(_PENDING_CHANGE, None)


def pending_change(items: list[Item]) -> None:
    """Shows the question of a change to another person's item asked for on this page, if any."""
    pending = st.session_state.get(_PENDING_CHANGE)
    item = next((i for i in items if (i.kind, i.id) == tuple(pending[1:3])), None) if pending else None
    if item is None:
        _forget_change()
        return
    _confirm_change(item, pending[0], pending[3])


@st.dialog("Change another person's item?", on_dismiss=_forget_change)
def _confirm_change(item: Item, action: str, value: str) -> None:
    """Asks before renaming or noting an item made by another person; then changes it, recorded in History."""
    what = text.md("rename **{}** to **{}**", item.name, value) if action == "rename" else text.md("set its note")
    text.warning(
        text.md("{} made this; names are only labels here — change it anyway?", item.creator)
        + text.Markup(" (")
        + what
        + text.Markup(")")
    )
    left, right = st.columns(2)
    right.button("Cancel", key="cancel-change", on_click=_forget_change)
    if left.button("Change anyway", type="primary", key="confirm-change"):
        _forget_change()
        workspace, who, actor = resources.workspace(), identity.current_user(), identity.actor()
        try:
            if action == "rename":
                workspace.rename(item.kind, item.id, value, who=who, actor=actor)
            else:
                workspace.set_note(item.kind, item.id, check_note(value), who=who, actor=actor)
        except FeatlibError as error:
            text.error(error)
            return
        st.rerun()


def _ask_delete(item: Item) -> None:
    st.session_state[_PENDING_DELETE] = (item.kind, item.id)


def _forget_delete() -> None:
    st.session_state.pop(_PENDING_DELETE, None)


def pending_delete(items: list[Item]) -> None:
    """Shows the confirmation of a delete asked for on this page, if any (until confirmed or dismissed)."""
    pending = st.session_state.get(_PENDING_DELETE)
    item = next((i for i in items if (i.kind, i.id) == pending), None) if pending else None
    if item is None:
        _forget_delete()  # none asked, or deleted meanwhile by someone else
        return
    _confirm_delete(item)


@st.dialog("Delete from the shared workspace?", on_dismiss=_forget_delete)
def _confirm_delete(item: Item) -> None:
    """Asks for confirmation, naming everything that goes with the item."""
    workspace = resources.workspace()
    text.markdown(
        text.md(
            "**{}** ({}, {}) will be deleted for everyone using this server.",
            item.name,
            KIND_TITLES[item.kind],
            size(item.bytes),
        )
    )
    if item.kind == "dataset":
        users = workspace.users_of_dataset(item.id)
        if users:
            text.error(
                f"It cannot be deleted: {len(users)} item(s) were made from it ({', '.join(users[:5])}). "
                "Delete those first."
            )
            return
    derived = workspace.derived_from(item.kind, item.id) if item.kind in ("model", "representation") else []
    if derived:
        text.markdown(f"With it go the {len(derived)} result(s) made from it:")
        text.markdown(
            text.Markup("\n").join(
                text.md("- {} ({}, {})", d.name, KIND_TITLES[d.kind], size(d.bytes)) for d in derived[:20]
            )
        )
    else:
        text.markdown("Nothing else was made from it.")
    maker = made_by_another(item)
    if maker:
        text.warning(text.md("{} made this; names are only labels here — delete it anyway?", maker))
    text.caption(f"It goes to the trash, restorable below for {settings.get('FEATLIB_TRASH_DAYS')} days.")
    left, right = st.columns(2)
    right.button("Cancel", key="cancel-delete", on_click=_forget_delete)
    if left.button("Delete", type="primary", key="confirm-delete"):
        _forget_delete()
        try:
            workspace.delete(item.kind, item.id, who=identity.current_user(), actor=identity.actor())
        except (InUseError, WorkspaceError, RoleError) as error:
            text.error(error)
            return
        if item.kind == "model" and state.get(state.MODEL) == item.id:
            state.put(state.MODEL, None)
        resources.model.clear()
        st.rerun()
