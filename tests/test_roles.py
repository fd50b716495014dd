"""Issue 26, item 2: with ``st.login`` on, owners are login subjects and roles decide who changes what.

Viewers open and export; members change their own items and jobs; admins change anything and restore. The rule
table (:func:`featlib.store.permissions.can`) is checked whole; the store refuses a member's change of another's
item (each example of the issue: a note overwritten, a view renamed and deleted, a model deleted, a job cancelled);
an index written before owners were recorded gains the column and loses nothing; and the Workspace page, run by
Streamlit's AppTest with ``AppTest.user`` and ``AppTest.secrets`` standing for a login, disables what the role does
not allow, with the reason as the tooltip. Real SQLite indexes and files in ``tmp_path``.
"""

from __future__ import annotations

import hashlib
import itertools
import sqlite3

import numpy as np
import pytest
from app_testing import APP, page_path
from streamlit.testing.v1 import AppTest

from featlib import jobs
from featlib.app import identity
from featlib.datasets import from_arrays
from featlib.errors import FeatlibError, RoleError
from featlib.jobs import JobManager
from featlib.maps import embed
from featlib.store import Workspace
from featlib.store import permissions as p
from featlib.store.index import OWNED_TABLES

ALICE, BOB, CAROL, VERA = "https://idp.example|alice-1", "https://idp.example|bob-2", "carol-3", "vera-4"
REP = "rep/mfp/dsfp/train/dense/function/0-1"
MAP = f"emb/{REP}/sample=None/seed=0/umap-n_neighbors=15"
PNG = b"\x89PNG\r\n\x1a\n" + b"thumbnail"

# ----------------------------------------------------------------------------- the rule table, whole

EXPECTED = {  # (role, action) -> (own item, another's item, an item without an owner's subject)
    **{(role, action): (True, True, True) for role in p.ROLES for action in ("open", "export")},
    **{("viewer", action): (False, False, False) for action in p.ACTIONS if action not in ("open", "export")},
    ("member", "create"): (True, True, True),
    **{("member", action): (True, False, False) for action in ("rename", "note", "delete", "cancel")},
    ("member", "restore"): (False, False, False),
    ("member", "purge"): (False, False, False),
    **{("admin", action): (True, True, True) for action in p.ACTIONS},
}


def test_the_table_covers_every_role_and_action():
    assert set(EXPECTED) == set(itertools.product(p.ROLES, p.ACTIONS))


@pytest.mark.parametrize(("role", "action"), sorted(EXPECTED))
def test_the_permission_table(role, action):
    own, others, unowned = EXPECTED[(role, action)]
    assert p.can(role, action, ALICE, ALICE) is own
    assert p.can(role, action, BOB, ALICE) is others
    assert p.can(role, action, "", ALICE) is unowned
    assert p.can(role, action, "", "") is unowned  # no subject on either side never reads as "the same person"
    actor = p.Actor("Alice", ALICE, role)
    if own:
        p.check(actor, action, ALICE)
    if not others:
        with pytest.raises(RoleError) as refused:
            p.check(actor, action, BOB, "model 'bob-mlp'")
        message = str(refused.value)
        assert f"you are a {role}" in message and p.rule(role, action) in message and "model 'bob-mlp'" in message
        assert "FEATLIB_ADMINS" in message or "FEATLIB_VIEWERS" in message  # the fix
        assert isinstance(refused.value, FeatlibError) and isinstance(refused.value, PermissionError)


def test_without_a_login_nothing_is_refused():
    for action in p.ACTIONS:
        p.check(None, action, BOB)
        assert p.why_not(None, action, "") == ""


def test_unknown_roles_and_actions_are_refused_by_name():
    with pytest.raises(ValueError, match="Unknown role 'owner'"):
        p.can("owner", "rename", ALICE, ALICE)
    with pytest.raises(ValueError, match="Unknown action 'chmod'"):
        p.can("admin", "chmod", ALICE, ALICE)


def test_the_subject_is_the_sub_claim_with_its_issuer():
    assert p.subject_of({"sub": "alice-1", "iss": "https://idp.example", "name": "Alice"}) == ALICE
    assert p.subject_of({"sub": "carol-3"}) == "carol-3"
    assert p.subject_of({"name": "no sub", "email": "x@y"}) == ""


def test_roles_come_from_the_admins_and_viewers_settings():
    env = {"FEATLIB_ADMINS": f" {CAROL} , Root@Example.org", "FEATLIB_VIEWERS": f"vera-4, {CAROL}, alice-1"}
    assert p.role_of(CAROL, environ=env) == "admin"  # on both lists: an admin
    assert p.role_of("someone", "root@example.ORG", environ=env) == "admin"  # an e-mail, in any case
    assert p.role_of(VERA, environ=env) == "viewer"
    assert p.role_of(ALICE, environ=env) == "viewer"  # the sub without its issuer matches too
    assert p.role_of(BOB, "bob@example.org", environ=env) == "member"  # everyone else logged in
    assert p.role_of(BOB, environ={}) == "member"


# ----------------------------------------------------------------------------- the store


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Workspace:
    """Four login accounts (carol admin, vera viewer, alice and bob members); alice made a model with a
    representation and a map, a saved view and a dataset upload; bob made a model."""
    monkeypatch.setenv("FEATLIB_ADMINS", CAROL)
    monkeypatch.setenv("FEATLIB_VIEWERS", VERA)
    ws = Workspace(tmp_path / "ws")
    for subject, name in ((ALICE, "Alice"), (BOB, "Bob"), (CAROL, "Carol"), (VERA, "Vera")):
        assert ws.sign_in(subject, name, f"{name.lower()}@example.org") == name
    a = ws.save_model_file(b"alice-weights" * 50, "alice-mlp", fingerprint="mfp", architecture="a", dataset="digits")
    ws.claim("model", a.id, "Alice")
    ws.save_array("representation", REP, np.arange(15, dtype="float32").reshape(5, 3), model_id=a.id, creator="Alice")
    ws.save_array("embedding", MAP, np.ones((5, 2)), model_id=a.id, creator="Alice")
    ws.set_note("model", a.id, "alice's own words", who="Alice")
    ws.save_view("explore", {"model": a.id, "layer": "dense"}, "alice's view", creator="Alice", thumbnail=PNG)
    images, labels = np.random.default_rng(0).integers(0, 256, (20, 8, 8), dtype=np.uint8), np.arange(20) % 10
    ws.save_dataset(from_arrays(images, labels, "alice-data"), creator="Alice")
    ws.save_model_file(
        b"bob-weights" * 40, "bob-mlp", fingerprint="bfp", architecture="a", dataset="digits", creator="Bob"
    )
    return ws


def _actor(ws: Workspace, subject: str, name: str) -> p.Actor:
    return p.Actor(name, subject, p.role_of(subject))


def _state(ws: Workspace) -> tuple:
    return sorted((i.kind, i.id, i.name, i.creator, i.note) for i in ws.items()), len(ws.history()), len(ws.trash())


def test_every_item_records_its_owners_subject_beside_the_name(ws):
    owners = {(i.kind, i.name): (i.creator, i.creator_subject) for i in ws.items()}
    assert owners[("model", "alice-mlp")] == ("Alice", ALICE)  # claimed after saving
    assert owners[("model", "bob-mlp")] == ("Bob", BOB)
    assert owners[("view", "alice's view")] == ("Alice", ALICE)
    assert owners[("dataset", "alice-data")] == ("Alice", ALICE)
    assert {s for (kind, _), (_, s) in owners.items() if kind in ("representation", "embedding")} == {ALICE}
    assert ws.get_item("view", ws.list_views()[0].id).creator_subject == ALICE
    ws.jobs.add("j1", "emb/x", "reduce", title="a map", creator="Alice")
    assert ws.jobs.get("j1").creator_subject == ALICE
    ws.jobs.add("j2", "emb/y", "reduce", title="a CLI map", creator="somebody-else")  # no such account
    assert ws.jobs.get("j2").creator_subject == ""


def test_a_member_changes_nothing_of_another_members(ws):
    """The issue's examples: bob overwrites alice's note, renames and deletes her view, deletes her model and map."""
    bob = _actor(ws, BOB, "Bob")
    model = next(m for m in ws.list_models() if m.name == "alice-mlp")
    view = ws.list_views()[0]
    fingerprint = ws.list_datasets()[0]["fingerprint"]
    before = _state(ws)
    refusals = [
        lambda: ws.set_note("model", model.id, "bob was here", who="Bob", actor=bob),
        lambda: ws.rename("view", view.id, "bob's view now", who="Bob", actor=bob),
        lambda: ws.delete("view", view.id, who="Bob", actor=bob),
        lambda: ws.delete_view(view.id, who="Bob", actor=bob),
        lambda: ws.delete("model", model.id, who="Bob", actor=bob),
        lambda: ws.delete("embedding", MAP, who="Bob", actor=bob),
        lambda: ws.rename("representation", REP, "mine", who="Bob", actor=bob),
        lambda: ws.set_note("dataset", fingerprint, "x", who="Bob", actor=bob),
    ]
    for change in refusals:
        with pytest.raises(RoleError, match="members change only their own items and jobs, and you are a member"):
            change()
    assert _state(ws) == before  # nothing changed, nothing recorded
    assert ws.get_model(model.id).note == "alice's own words"


def test_a_member_changes_their_own_and_the_audit_records_both_subjects(ws):
    alice = _actor(ws, ALICE, "Alice")
    view = ws.list_views()[0]
    ws.rename("view", view.id, "alice's better view", who="Alice", actor=alice)
    ws.delete("view", view.id, who="Alice", actor=alice)
    rename, delete = reversed(ws.history()[:2])
    assert (rename.action, rename.who, rename.who_subject, rename.owner, rename.owner_subject) == (
        "rename",
        "Alice",
        ALICE,
        "Alice",
        ALICE,
    )
    assert (delete.action, delete.who_subject, delete.owner_subject) == ("delete", ALICE, ALICE)
    entry = ws.trash()[0]
    assert (entry.owner_subject, entry.deleted_by_subject) == (ALICE, ALICE)
    with pytest.raises(RoleError, match="only admins may restore"):
        ws.restore(entry.id, who="Alice", actor=alice)  # members do not restore, even their own
    assert ws.trash() == [entry]


def test_an_admin_changes_anything_and_restores_and_a_viewer_nothing(ws):
    carol, vera = _actor(ws, CAROL, "Carol"), _actor(ws, VERA, "Vera")
    model = next(m for m in ws.list_models() if m.name == "alice-mlp")
    before = _state(ws)
    for change in (
        lambda: ws.set_note("model", model.id, "vera's words", actor=vera),
        lambda: ws.rename("model", model.id, "vera-mlp", actor=vera),
        lambda: ws.delete("model", model.id, actor=vera),
        lambda: ws.purge_trash(0, actor=vera),
    ):
        with pytest.raises(RoleError, match="viewers may open and export only, and you are a viewer"):
            change()
    assert _state(ws) == before
    ws.set_note("model", model.id, "checked by carol", who="Carol", actor=carol)
    deleted = ws.delete("model", model.id, who="Carol", actor=carol)
    assert f"model {model.name}" in deleted
    entry = ws.trash()[0]
    ws.restore(entry.id, who="Carol", actor=carol)
    restored = ws.get_item("model", model.id)
    assert (restored.note, restored.creator, restored.creator_subject) == ("checked by carol", "Alice", ALICE)
    row = ws.history()[0]
    assert (row.action, row.who_subject, row.owner_subject) == ("restore", CAROL, ALICE)


def test_a_member_cannot_cancel_another_members_job_and_an_admin_can(
    tmp_path, monkeypatch, shared_engine, hold_the_worker
):
    """The test process's real cluster of one worker (``shared_engine``): bob's cancel of alice's job is refused,
    and it goes on; carol's is done."""
    monkeypatch.setenv("FEATLIB_ADMINS", CAROL)
    engine = shared_engine
    ws = Workspace(tmp_path / "jobs-ws")
    for subject, name in ((ALICE, "Alice"), (BOB, "Bob"), (CAROL, "Carol")):
        ws.sign_in(subject, name)
    manager = JobManager(engine, ws)
    try:
        points = np.random.default_rng(0).normal(size=(3_000, 16)).astype("float32")
        spec = jobs.specs.reduce_spec("emb/alice", len(points), embed.PCAParams())
        hold_the_worker(engine, 5.0)  # alice's job waits for the worker until it is cancelled, however fast it is
        handle = manager.submit(spec, {"points": points}, creator="Alice")
        assert ws.jobs.get(handle.job_id).creator_subject == ALICE
        with pytest.raises(RoleError, match="You cannot cancel the job"):
            manager.cancel(handle.job_id, who="Bob", actor=p.Actor("Bob", BOB, "member"))
        assert not handle.stop_reason and all(r.action != "cancel" for r in ws.history())
        assert manager.cancel(handle.job_id, who="Carol", actor=p.Actor("Carol", CAROL, "admin"))
        assert handle.wait(10) and handle.status == "cancelled"
        row = ws.history()[0]
        assert (row.action, row.who, row.who_subject, row.owner, row.owner_subject) == (
            "cancel",
            "Carol",
            CAROL,
            "Alice",
            ALICE,
        )
    finally:
        manager.close()


def test_display_names_stay_unique_per_account(tmp_path):
    ws = Workspace(tmp_path / "ws")
    assert ws.sign_in(ALICE, "Alex Smith", "alex@one.org") == "Alex Smith"
    assert ws.sign_in(BOB, "Alex Smith", "alex@two.org") == "Alex Smith (alex@two.org)"
    assert ws.sign_in(CAROL, "Alex Smith") == "Alex Smith #2"
    assert ws.sign_in(ALICE, "Alex Smith", "alex@one.org") == "Alex Smith"  # the same account, the same name
    ws.save_view("explore", {"model": "m", "layer": "dense"}, "v", creator="Alex Smith (alex@two.org)")
    assert ws.items()[0].creator_subject == BOB  # the namesake's item is the namesake's, by subject
    assert ws.sign_in(ALICE, "Alexandra Smith", "alex@one.org") == "Alexandra Smith"  # renamed at the provider
    with pytest.raises(ValueError, match="needs a subject"):
        ws.sign_in("", "x")


def _make_old(root) -> None:
    """Turns the index at ``root`` back into one written before owners were recorded."""
    with sqlite3.connect(root / "index.sqlite") as db:
        for table in OWNED_TABLES:
            db.execute(f"DROP TRIGGER IF EXISTS {table}_owner")
            db.execute(f"ALTER TABLE {table} DROP COLUMN creator_subject")
        for table, columns in (
            ("audit", ("who_subject", "owner_subject")),
            ("trash", ("owner_subject", "deleted_by_subject")),
        ):
            for column in columns:
                db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        db.execute("DROP TABLE accounts")


def test_an_old_index_gains_the_owner_column_and_loses_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("FEATLIB_ADMINS", CAROL)
    root = tmp_path / "old"
    ws = Workspace(root)
    a = ws.save_model_file(
        b"old-weights", "old-mlp", fingerprint="ofp", architecture="a", dataset="digits", creator="Alice"
    )
    ws.save_array("embedding", MAP, np.ones((5, 2)), model_id=a.id, creator="Alice")
    ws.set_note("model", a.id, "from before", who="Alice")
    v, _ = ws.save_view("explore", {"model": a.id, "layer": "dense"}, "old view", creator="Alice", thumbnail=PNG)
    ws.delete("view", v.id, who="Alice")
    ws.jobs.add("old-job", "emb/x", "reduce", title="an old map", creator="Alice")
    _make_old(root)
    with sqlite3.connect(root / "index.sqlite") as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(models)")}
        old_rows = {
            t: db.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()
            for t in ("models", "artifacts", "jobs", "audit", "trash")
        }
    assert "creator_subject" not in columns

    ws = Workspace(root)  # opening it migrates
    with sqlite3.connect(root / "index.sqlite") as db:
        for table, rows in old_rows.items():
            now = db.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
            assert [row[: len(rows[0])] for row in now] == rows  # every old value kept, in place
        for table in OWNED_TABLES:
            assert {r[0] for r in db.execute(f"SELECT creator_subject FROM {table}")} <= {""}
    assert [(i.name, i.creator, i.note, i.creator_subject) for i in ws.items() if i.kind == "model"] == [
        ("old-mlp", "Alice", "from before", "")
    ]
    ws.sign_in(ALICE, "Alice")  # the same display name, logged in now: the old rows stay without an owner
    alice, carol = p.Actor("Alice", ALICE, "member"), p.Actor("Carol", CAROL, "admin")
    with pytest.raises(RoleError, match="made before owners were recorded, so only an admin"):
        ws.rename("model", a.id, "mine-now", actor=alice)
    with pytest.raises(RoleError, match="You cannot cancel"):
        ws.jobs.check_cancel("old-job", alice)
    trashed = ws.trash()[0]
    ws.restore(trashed.id, who="Carol", actor=carol)  # trashed before the column: restored still without an owner
    assert ws.get_item("view", v.id).creator_subject == ""
    ws.rename("model", a.id, "renamed-by-admin", who="Carol", actor=carol)
    assert ws.get_model(a.id).name == "renamed-by-admin"
    assert Workspace(root).items() == ws.items()  # opening again changes nothing


# ----------------------------------------------------------------------------- the Workspace page under a login


def _slot(kind: str, ident: str) -> str:
    return hashlib.sha1(f"{kind}/{ident}".encode()).hexdigest()[:12]


def _login(root, user: dict) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s"}}
    at.user = {"is_logged_in": True, "iss": "https://idp.example", **user}
    at.run()
    at.switch_page(page_path("workspace")).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def page_ws(tmp_path, monkeypatch) -> tuple[Workspace, str, str]:
    """A workspace where alice (logged in before) made a model and bob made one; carol is an admin, vera a viewer."""
    root = tmp_path / "page-ws"
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(root))
    monkeypatch.setenv("FEATLIB_ADMINS", "carol@example.org")
    monkeypatch.setenv("FEATLIB_VIEWERS", "vera-4")
    ws = Workspace(root)
    ws.sign_in(ALICE, "Alice", "alice@example.org")
    ws.sign_in(BOB, "Bob", "bob@example.org")
    a = ws.save_model_file(
        b"alice-weights", "alice-mlp", fingerprint="afp", architecture="a", dataset="digits", creator="Alice"
    )
    b = ws.save_model_file(
        b"bob-weights", "bob-mlp", fingerprint="bfp", architecture="a", dataset="digits", creator="Bob"
    )
    return ws, a.id, b.id


BOB_LOGIN = {"sub": "bob-2", "name": "Bob", "email": "bob@example.org"}


def test_the_page_disables_a_members_changes_to_anothers_item_and_the_store_refuses_them(page_ws):
    ws, alices, bobs = page_ws
    at = _login(ws.root, BOB_LOGIN)
    assert any("Logged in as Bob (member)" in c.value for c in at.sidebar.caption)
    s = _slot("model", alices)
    for key in (f"rename-button-{s}", f"note-button-{s}", f"delete-{s}"):
        button = at.button(key=key)
        assert button.disabled, key
        assert "members change only their own items and jobs, and you are a member" in button.help
    mine = _slot("model", bobs)
    assert not any(
        at.button(key=k).disabled for k in (f"rename-button-{mine}", f"note-button-{mine}", f"delete-{mine}")
    )
    at.text_input(key=f"name-{mine}").set_value("bob-mlp-2")
    at.button(key=f"rename-button-{mine}").click().run()  # his own: no question, renamed at once
    assert not at.exception, [e.value for e in at.exception]
    assert ws.get_model(bobs).name == "bob-mlp-2"
    assert (ws.history()[0].who, ws.history()[0].who_subject) == ("Bob", "https://idp.example|bob-2")
    # a click that reaches the store anyway (a stale page) is refused there, by the same rule
    bob = p.Actor("Bob", "https://idp.example|bob-2", "member")
    with pytest.raises(RoleError):
        ws.delete("model", alices, who="Bob", actor=bob)
    assert ws.get_model(alices).name == "alice-mlp"


def test_only_an_admin_restores_on_the_page(page_ws):
    ws, alices, _ = page_ws
    ws.delete("model", alices, who="Alice")
    entry = ws.trash()[0]
    at = _login(ws.root, BOB_LOGIN)
    restore = at.button(key=f"restore-{entry.id}")
    assert restore.disabled and "only admins may restore" in restore.help
    at = _login(ws.root, {"sub": "carol-3", "name": "Carol", "email": "carol@example.org"})
    assert any("Logged in as Carol (admin)" in c.value for c in at.sidebar.caption)
    assert not at.button(key=f"delete-{_slot('model', _other(ws, alices))}").disabled  # anyone's
    at.button(key=f"restore-{entry.id}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert ws.trash() == [] and ws.get_model(alices).name == "alice-mlp"
    assert ws.history()[0].who_subject == "https://idp.example|carol-3"


def _other(ws: Workspace, ident: str) -> str:
    return next(m.id for m in ws.list_models() if m.id != ident)


def test_a_viewer_opens_but_changes_nothing_on_the_page(page_ws):
    ws, alices, bobs = page_ws
    at = _login(ws.root, {"sub": "vera-4", "name": "Vera", "email": "vera@example.org"})
    for ident in (alices, bobs):
        s = _slot("model", ident)
        for key in (f"rename-button-{s}", f"note-button-{s}", f"delete-{s}"):
            assert at.button(key=key).disabled
            assert "viewers may open and export only" in at.button(key=key).help
    assert not at.button(key=f"open-{_slot('model', alices)}").disabled  # opening is a viewer's right


def test_the_glue_maps_a_login_to_its_account_and_role(page_ws):
    ws, _, _ = page_ws
    found = identity.actor_of(
        {"sub": "bob-2", "iss": "https://idp.example", "name": "Bob", "email": "bob@example.org"}, ws
    )
    assert found == p.Actor("Bob", "https://idp.example|bob-2", "member")
    found = identity.actor_of(
        {"sub": "new-9", "iss": "https://idp.example", "name": "Bob", "email": "bob@other.org"}, ws
    )
    assert found == p.Actor("Bob (bob@other.org)", "https://idp.example|new-9", "member")  # another Bob
    assert identity.actor_of({"sub": "c", "email": "Carol@Example.org"}, ws).role == "admin"
