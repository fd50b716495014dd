"""Text on the pages is escaped by default (:mod:`featlib.app.text`); markup is the explicit exception.

Two halves. The sources: no module of ``featlib/app`` (pages and glue) calls Streamlit's markdown-rendering
output functions itself, on ``st``, ``st.sidebar``, a column or a container, so a new page cannot forget to
escape; it calls ``text.markdown``, ``text.caption``… which escape any plain string. And the markup a page does
write comes from a literal template (``text.md("**{}**", name)``, ``text.Markup("  \\n")``): never from a string
built at run time, which could hold a name. The functions: a hostile name shown through each of them reaches
Streamlit escaped (read back under AppTest), ``md`` escapes its arguments and not its template, markup goes
through as it is.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from featlib.app import text
from featlib.app.text import Markup, code, escape, md

APP_DIR = Path(__file__).resolve().parents[1] / "featlib" / "app"
TEXT_MODULE = APP_DIR / "text.py"
REPO = APP_DIR.parents[1]

OUTPUTS = {"markdown", "caption", "info", "warning", "error", "success", "toast", "title", "header", "subheader"}
"""Streamlit's functions (and container methods) that render their body as markdown; pages call ``text.<name>``."""
ST_ONLY = {"write", "write_stream", "html"}
"""Also rendered as markdown or raw HTML, but common method names elsewhere (a file's ``write``): forbidden on
``st`` and what hangs off it (``st.sidebar.write``)."""
LOGGERS = {"logging", "log", "logger", "LOG", "LOGGER"}
"""Receivers that are loggers: ``logger.error(…)`` writes to the server's log, which no page renders."""

HOSTILE = "![x](http://127.0.0.1:9/beacon) **bold** [link](javascript:alert(1)) <img src=x> :red[red] :material/home:"


def app_sources() -> list[Path]:
    """Every module of ``featlib/app`` and its pages but :mod:`featlib.app.text`, which alone calls Streamlit's."""
    return sorted(path for path in APP_DIR.rglob("*.py") if path != TEXT_MODULE)


def _text_names(tree: ast.Module) -> set[str]:
    """The names this module binds to :mod:`featlib.app.text` (``from featlib.app import text [as t]``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "featlib.app":
            names |= {alias.asname or alias.name for alias in node.names if alias.name == "text"}
        elif isinstance(node, ast.Import):
            names |= {alias.asname for alias in node.names if alias.name == "featlib.app.text" and alias.asname}
    return names


def _root(node: ast.expr) -> ast.expr:
    """The start of an attribute chain or call chain: ``st`` for ``st.sidebar.columns(2)[0]``."""
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node


def _is_logger(receiver: ast.expr) -> bool:
    root = _root(receiver)
    return isinstance(root, ast.Name) and (root.id in LOGGERS or root.id.lower().endswith("logger"))


def _where(path: Path) -> str:
    """``path`` as the report names it: relative to the repository when it is in it."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else path.name


def _literal(node: ast.expr | None) -> bool:
    """A string literal (implicitly concatenated literals included), never an f-string or an expression."""
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def unescaped_calls(path: Path) -> list[str]:
    """``file:line`` and the call, for each output call of ``path`` that bypasses :mod:`featlib.app.text`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    allowed = _text_names(tree)
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name, receiver = node.func.attr, node.func.value
        if isinstance(receiver, ast.Name) and receiver.id in allowed:
            continue
        if not node.args and not any(k.arg == "body" for k in node.keywords):
            continue  # no body: not an output call ("name".title(), a column's .header attribute read)
        root = _root(receiver)
        on_st = isinstance(root, ast.Name) and root.id == "st"
        if (name in OUTPUTS and not _is_logger(receiver)) or (name in ST_ONLY and on_st):
            found.append(f"{_where(path)}:{node.lineno}: {ast.unparse(node.func)}(…)")
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "unsafe_allow_html":
            found.append(f"{_where(path)}:{node.value.lineno}: unsafe_allow_html")
    return sorted(found, key=lambda line: int(line.split(":")[1]))


def markup_from_non_literals(path: Path) -> list[str]:
    """``text.md(…)`` and ``text.Markup(…)`` calls of ``path`` whose template is not a string literal."""
    tree = ast.parse(path.read_text(), filename=str(path))
    allowed = _text_names(tree)
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("md", "Markup")
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in allowed
            and not _literal(node.args[0] if node.args else None)
        ):
            found.append(f"{_where(path)}:{node.lineno}: {ast.unparse(node)[:100]}")
        if isinstance(node, ast.ImportFrom) and node.module == "featlib.app.text":  # a bare md(…) goes unchecked
            found += [
                f"{_where(path)}:{node.lineno}: imports {a.name}" for a in node.names if a.name in ("md", "Markup")
            ]
    return found


def test_no_page_calls_streamlits_markdown_outputs_itself():
    """Every ``st.caption``, ``col.markdown``, ``st.sidebar.info``… of featlib/app goes through text.py."""
    assert len(app_sources()) > 20  # the walk found the pages and the glue
    found = [line for path in app_sources() for line in unescaped_calls(path)]
    assert not found, "call featlib.app.text's function instead (it escapes):\n" + "\n".join(found)


def test_markup_is_made_from_literal_templates_only():
    """``text.md``'s template and ``text.Markup``'s text are literals: what is markup is what featlib wrote."""
    found = [line for path in app_sources() for line in markup_from_non_literals(path)]
    assert not found, "\n".join(found)


def test_the_check_finds_each_way_round_it(tmp_path):
    """The source check is not vacuous: each bypass below is reported, and text.py's functions are not."""
    page = tmp_path / "page.py"
    page.write_text(
        "import streamlit as st\nfrom featlib.app import text\nimport logging\n"
        "st.caption(name)\nleft, right = st.columns(2)\nleft.markdown(f'**{name}**')\nst.sidebar.info(name)\n"
        "with st.container():\n    st.container().subheader(name)\nst.write(name)\nst.toast(name)\n"
        "text.caption(name)\ntext.markdown(text.md('**{}**', name), on=left)\nlogging.getLogger().error('x')\n"
        "name.title()\ntext.caption(name, unsafe_allow_html=True)\ntext.markdown(text.md(f'**{name}**'))\n"
        "text.markdown(text.Markup(name))\n"
    )
    found = unescaped_calls(page)
    assert [line.rsplit(": ", 1)[1] for line in found] == [
        "st.caption(…)",
        "left.markdown(…)",
        "st.sidebar.info(…)",
        "st.container().subheader(…)",
        "st.write(…)",
        "st.toast(…)",
        "unsafe_allow_html",
    ]
    assert len(markup_from_non_literals(page)) == 2


def test_escape_is_what_pages_did_before():
    """The escaping itself is unchanged (the old ``widgets.plain``): every markdown character backslashed."""
    assert escape("**bold** [l](javascript:x)") == "\\*\\*bold\\*\\* \\[l\\](javascript\\:x)"
    assert escape("dense_1 _em_") == "dense_1 \\_em\\_"  # an underscore inside a word stays
    assert escape("http://host") == "http\\:\u2060//host" and escape("a@b") == "a@\u2060b"  # no autolink
    assert escape("a\nb") == "a  \nb"
    assert escape(7) == "7" and isinstance(escape("x"), Markup)


def test_md_escapes_its_arguments_and_not_its_template():
    assert md("**{}** · layer **{}**", "**x**", "[l](u)") == "**\\*\\*x\\*\\*** · layer **\\[l\\](u)**"
    assert md("{name} {n:,} {f:.2f} {r!r}", name="a*b", n=12345, f=0.5, r="x_") == "a\\*b 12,345 0.50 'x\\_'"
    assert md("points {}", [3, 99999]) == "points [3, 99999]"  # numbers, and lists of them, hold no markup
    assert md("{}", ["**a**"]) == "\\['\\*\\*a\\*\\*'\\]"  # a list of strings is escaped
    assert md("{} {}", Markup("**kept**"), md("_{}_", "*")) == "**kept** _\\*_"  # markup goes in as it is
    assert md("{{literal}} {}", "x") == "{literal} x"
    assert isinstance(md("x"), Markup)


def test_markup_passes_through_and_mixing_escapes_the_plain_side():
    bold = Markup("**featlib's**")
    assert escape(bold) is bold
    assert bold + " *x*" == "**featlib's** \\*x\\*" and isinstance(bold + "x", Markup)
    assert "*x* " + bold == "\\*x\\* **featlib's**" and isinstance("x" + bold, Markup)
    assert Markup("  \n").join([md("**{}**", "a"), "*b*"]) == "**a**  \n\\*b\\*"
    assert Markup("{} is **{}**").format("*x*", 1) == "\\*x\\* is **1**"
    assert type(bold.upper()) is str  # any other operation gives plain text, escaped when shown


def test_code_spans_hold_anything():
    assert code("/srv/ws") == "`/srv/ws`" and code("a ` b") == "``a ` b``" and code("`x`") == "`` `x` ``"


def _hostile_page():
    """Run by AppTest: the hostile text through every output function, plain, as markup, and on a column."""
    import streamlit as st

    from featlib.app import text
    from featlib.app.text import md

    hostile = (
        "![x](http://127.0.0.1:9/beacon) **bold** [link](javascript:alert(1)) <img src=x> :red[red] :material/home:"
    )
    for show in (
        text.markdown,
        text.caption,
        text.info,
        text.warning,
        text.error,
        text.success,
        text.title,
        text.header,
        text.subheader,
        text.toast,
    ):
        show(hostile)
    (column,) = st.columns(1)
    text.caption(md("**{}** · {:,} points", hostile, 1200), on=column, help=hostile)


def test_every_output_function_shows_a_hostile_string_as_text():
    at = AppTest.from_function(_hostile_page, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    escaped = str(escape(HOSTILE))
    assert "\\!\\[x\\]" in escaped and "http\\:\u2060//" in escaped  # what escaped looks like
    assert at.caption[0].value == escaped
    for kind in ("markdown", "info", "warning", "error", "success", "title", "header", "subheader", "toast"):
        [element] = at.get(kind)
        assert element.proto.body == escaped, (kind, element.proto.body)
    on_column = at.columns[0].caption[0]
    assert on_column.value == f"**{escaped}** · 1,200 points"  # the template's bold, the text escaped
    assert on_column.proto.help == escaped


def test_raw_html_is_refused():
    with pytest.raises(TypeError, match="unsafe_allow_html"):
        text.markdown("<b>x</b>", unsafe_allow_html=True)
