"""The README and the manual in docs/ say what is true: their examples run, and nothing is missing or broken.

- Every ```python and ```bash (or ```sh) block of README.md and docs/*.md runs, in document order, in a temp
  folder of its own with its own workspace (``FEATLIB_WORKSPACE``), ``.venv`` linked in and the venv's ``bin``
  first on ``PATH``, as a reader following the page would run them. A shell block of plain ``featlib ...``
  lines runs each line through ``featlib.cli.main`` in this process, in that folder and environment (the
  entry point itself is run by tests/test_cli.py and, installed, tests/test_package.py); a python block runs
  as ``python block.py`` would, in this process too (``cli_testing.run_script``: its own namespace, that
  folder and environment); any other shell block runs in bash. A block that cannot run here (it starts a
  server, needs another machine or the network, takes minutes) is preceded by
  ``<!-- docs-test: skip (the reason) -->``; it must still parse, and name only real ``featlib`` commands and
  functions.
- The docstring examples (``>>>``) of featlib's modules pass doctest; those marked ``+SKIP`` name only functions
  that exist.
- Every setting of ``featlib.settings.SETTINGS`` is in docs/settings.md with its default; every command of the
  CLI's parser is in docs/cli.md as ``featlib <command>``; every ``FEATLIB_*`` name the docs mention is a setting.
- Every relative link and image of the README and the manual points at a file that exists (and a heading that
  exists, for ``page.md#anchor``); docs/index.md links every page of docs/.

Run alone: ``.venv/bin/python -m pytest -n 0 -q tests/test_docs.py`` (about a minute and a half on two cores
once the machine's compile cache is filled; the first run on a machine compiles umap-learn's code, ~30 s more).
"""

from __future__ import annotations

import ast
import builtins
import doctest
import importlib
import importlib.util
import os
import pkgutil
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_testing import run_command, run_script

import featlib

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
VENV = Path(sys.prefix)
VENV_BIN = VENV / "bin"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]

PYTHON_LANGS = {"python", "py"}
SHELL_LANGS = {"bash", "sh", "shell", "console"}
BLOCK_TIMEOUT_S = 300
MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*skip\s*(?:\((?P<reason>[^)]*)\))?\s*-->\s*$")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)")
# Variables the docs may name that are not featlib's settings: the tests' own switches.
OTHER_VARIABLES = {"FEATLIB_REQUIRE_BROWSER", "FEATLIB_FUZZ_EXAMPLES"}


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    skip: str | None  # the marker's reason; None: no marker

    @property
    def where(self) -> str:
        return f"{rel(self.page)}:{self.line}"

    @property
    def runnable_lang(self) -> bool:
        return self.lang in PYTHON_LANGS | SHELL_LANGS


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of ``page``, each with the skip marker right above it (blank lines allowed)."""
    found: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    marker: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        match = MARKER.match(line)
        if match:
            marker = (match.group("reason") or "").strip()
            i += 1
            continue
        fence = FENCE.match(line)
        if fence:
            close, indent = fence.group("fence"), len(fence.group("indent"))
            body: list[str] = []
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith(close):
                body.append(lines[j][indent:] if lines[j][:indent].isspace() else lines[j].lstrip())
                j += 1
            found.append(Block(page, i + 1, fence.group("lang").lower(), "\n".join(body) + "\n", marker))
            marker = None
            i = j + 1
            continue
        if line.strip():
            marker = None
        i += 1
    return found


def all_blocks() -> list[Block]:
    return [block for page in PAGES for block in blocks(page)]


# --- what a block names -------------------------------------------------------------------------------------------


def cli_commands() -> dict[str, object]:
    """The CLI's commands, from its parser: ``{name: subparser}``."""
    from featlib.cli import build_parser

    parser = build_parser()
    for action in parser._actions:  # argparse keeps its subparsers here
        if action.__class__.__name__ == "_SubParsersAction":
            return dict(action.choices)
    raise AssertionError("featlib.cli.build_parser() has no subcommands")


COMMAND = re.compile(r"(?:^|[\s;&|(`/])featlib(?:\s+--workspace(?:=|\s+)\S+)?\s+(?P<word>[A-Za-z][\w-]*)")
INLINE_COMMAND = re.compile(
    r"^(?:\w+=\S*\s+)*(?:\S*python3?\s+-m\s+|\S*/)?featlib(?:\s+--workspace(?:=|\s+)\S+)?\s+(?P<word>[A-Za-z][\w-]*)"
)


def unknown_commands(text: str, commands: set[str], pattern: re.Pattern = COMMAND) -> list[str]:
    return sorted({m.group("word") for m in pattern.finditer(text)} - commands)


def _bindings(tree: ast.AST) -> dict[str, str]:
    """Names an example's imports bind to featlib's modules and objects: ``{"embed": "featlib.maps.embed", ...}``."""
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "featlib":
                    if alias.asname:
                        bound[alias.asname] = alias.name
                    else:
                        bound["featlib"] = "featlib"
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.split(".")[0] == "featlib"
            and not node.level
        ):
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound


def _resolve(dotted: str) -> object:
    """``featlib.a.b`` as an object: a module, else an attribute of the module before it. Raises AttributeError."""
    parts = dotted.split(".")
    obj: object = importlib.import_module(parts[0])
    for i, part in enumerate(parts[1:], start=1):
        if hasattr(obj, part):
            obj = getattr(obj, part)
            continue
        try:
            obj = importlib.import_module(".".join(parts[: i + 1]))
        except ModuleNotFoundError:
            raise AttributeError(f"{'.'.join(parts[:i])} has no {part!r}") from None
    return obj


def _chain(node: ast.AST) -> list[str] | None:
    """``a.b.c`` as ``["a", "b", "c"]``; None for anything else."""
    names: list[str] = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(names)]
    return None


def missing_names(source: str, namespace: dict | None = None) -> list[str]:
    """The featlib modules, functions and attributes ``source`` names that do not exist.

    Names come from the source's own ``import``s of featlib and, for a docstring example, from ``namespace``
    (its module's globals). An attribute is checked while the object before it is a module: ``embed.UMAPParams``
    is, ``params.metric`` is not. A called bare name must exist somewhere (the namespace, the source's own
    assignments and imports, builtins).
    """
    tree = ast.parse(source)
    problems: list[str] = []
    bound = _bindings(tree)
    for dotted in bound.values():
        try:
            _resolve(dotted)
        except (AttributeError, ImportError) as error:
            problems.append(f"{dotted}: {error}")
    roots: dict[str, object] = {}
    for name, value in (namespace or {}).items():
        roots[name] = value
    for name, dotted in bound.items():
        try:
            roots[name] = _resolve(dotted)
        except (AttributeError, ImportError):
            pass
    assigned = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    assigned |= {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assigned |= {
        a.asname or a.name.split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, (ast.Import, ast.ImportFrom))
        for a in n.names
    }
    for node in ast.walk(tree):
        chain = _chain(node) if isinstance(node, ast.Attribute) else None
        if chain and chain[0] in roots and chain[0] not in assigned - set(bound):
            obj = roots[chain[0]]
            for i, attr in enumerate(chain[1:], start=1):
                if not isinstance(obj, type(sys)):
                    break
                if not hasattr(obj, attr):
                    try:
                        obj = importlib.import_module(f"{obj.__name__}.{attr}")
                        continue
                    except ModuleNotFoundError:
                        problems.append(f"{'.'.join(chain[: i + 1])}: {obj.__name__} has no {attr!r}")
                        break
                obj = getattr(obj, attr)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and namespace is not None:
            name = node.func.id
            if name not in roots and name not in assigned and not hasattr(builtins, name):
                problems.append(f"{name}(): not defined in {namespace.get('__name__', 'the module')}")
    return sorted(set(problems))


# --- the blocks run -------------------------------------------------------------------------------------------------


def _env(workspace: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        FEATLIB_WORKSPACE=str(workspace),
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(VENV),
        PYTHONUNBUFFERED="1",
    )
    for name in ("FEATLIB_SCHEDULER", "PYTEST_XDIST_WORKER", "PYTEST_CURRENT_TEST"):
        env.pop(name, None)
    return env


CLI_PROGRAMS = {"featlib", ".venv/bin/featlib"}
SHELL_SYNTAX = re.compile(r"[|&;<>()$`*?\[\]{}~\\]")


def cli_lines(code: str) -> list[list[str]] | None:
    """A shell block's commands when each line is one plain ``featlib ...`` command, else None.

    Plain: after its comment, the line holds no shell syntax (pipes, redirections, variables, globs, quotes'
    escapes); such a block runs through :func:`cli_testing.run_command` in this process, line by line, as the
    shell would run it less the interpreter's start. Any other block runs in bash.
    """
    commands = []
    for line in code.splitlines():
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            return None
        if not words:
            continue
        command_part = line.split(" #", 1)[0] if "#" in line else line
        if words[0] not in CLI_PROGRAMS or SHELL_SYNTAX.search(command_part):
            return None
        commands.append(words[1:])
    return commands


def _fail_on(block: Block, what: str, done: subprocess.CompletedProcess) -> None:
    if done.returncode != 0:
        pytest.fail(
            f"{block.where}: {what} exited with status {done.returncode}:\n{block.code}\n"
            f"--- stdout ---\n{done.stdout[-4000:]}\n--- stderr ---\n{done.stderr[-4000:]}"
        )


def _run(block: Block, index: int, folder: Path, env: dict[str, str]) -> None:
    commands = cli_lines(block.code) if block.lang in SHELL_LANGS else None
    if commands is not None:
        for args in commands:
            _fail_on(block, f"`featlib {shlex.join(args)}`", run_command(args, folder, env))
        return
    if block.lang in PYTHON_LANGS:  # as `python block.py` would run it, less the interpreter's start
        script = folder / f"block_{index}_line{block.line}.py"
        script.write_text(block.code, encoding="utf-8")
        _fail_on(block, f"the {block.lang} block", run_script(script, folder, env))
        return
    script = folder / f"block_{index}_line{block.line}.sh"
    command = ["bash", "-euo", "pipefail", script.name]
    script.write_text(block.code, encoding="utf-8")
    try:
        done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S)
    except subprocess.TimeoutExpired as error:
        pytest.fail(
            f"{block.where}: the {block.lang} block ran past {BLOCK_TIMEOUT_S} s; make it smaller or mark it "
            f"<!-- docs-test: skip (why) -->.\n{error.stdout or ''}\n{error.stderr or ''}"
        )
    _fail_on(block, f"the {block.lang} block", done)


PAGES_WITH_CODE = [page for page in PAGES if any(b.runnable_lang and b.skip is None for b in blocks(page))]


@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=rel)
def test_code_blocks_run(page: Path, tmp_path: Path) -> None:
    """Every python and shell block of the page without a skip marker runs, in order, in one temp folder."""
    (tmp_path / ".venv").symlink_to(VENV, target_is_directory=True)
    env = _env(tmp_path / "workspace")
    for index, block in enumerate(blocks(page)):
        if block.runnable_lang and block.skip is None:
            _run(block, index, tmp_path, env)


def test_every_block_runs_or_says_why_not() -> None:
    """A block either runs or carries a marker with a reason; a marker sits right above a python or shell block."""
    problems = []
    for block in all_blocks():
        if not block.lang:
            problems.append(f"{block.where}: a code block without a language (```python, ```bash, ```text, ...)")
        if block.skip is not None and not block.skip:
            problems.append(f"{block.where}: <!-- docs-test: skip --> without a reason: write skip (why)")
        if block.skip is not None and not block.runnable_lang:
            problems.append(f"{block.where}: a skip marker over a ```{block.lang} block, which never runs")
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        starts = {b.line for b in blocks(page)}
        for number, line in enumerate(lines, start=1):
            if MARKER.match(line):
                following = next((n for n in range(number + 1, len(lines) + 1) if lines[n - 1].strip()), None)
                if following not in starts:
                    problems.append(f"{rel(page)}:{number}: a skip marker with no code block right below it")
    assert not problems, "\n".join(problems)


def test_every_block_parses_and_names_what_exists() -> None:
    """Skipped blocks too: python parses and names real featlib functions; shell parses and names real commands."""
    commands = set(cli_commands())
    problems = []
    for block in all_blocks():
        if block.lang in PYTHON_LANGS:
            try:
                problems += [f"{block.where}: {p}" for p in missing_names(block.code)]
            except SyntaxError as error:
                problems.append(f"{block.where}: not Python: {error}")
        elif block.lang in SHELL_LANGS:
            done = subprocess.run(["bash", "-n"], input=block.code, capture_output=True, text=True)
            if done.returncode:
                problems.append(f"{block.where}: not bash: {done.stderr.strip()}")
        if block.runnable_lang or block.lang == "text":
            problems += [
                f"{block.where}: no such command: featlib {word}" for word in unknown_commands(block.code, commands)
            ]
    assert not problems, "\n".join(problems)


def test_inline_commands_exist() -> None:
    """``featlib <command>`` written as inline code anywhere in the docs names a command the CLI has."""
    commands = set(cli_commands())
    problems = []
    for page in PAGES:
        text = re.sub(r"^(`{3,}|~{3,}).*?^\1", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)
        for span in re.findall(r"`([^`\n]+)`", text):
            problems += [
                f"{rel(page)}: `{span}`: no such command: featlib {word}"
                for word in unknown_commands(span, commands, INLINE_COMMAND)
            ]
    assert not problems, "\n".join(problems)


# --- docstring examples -------------------------------------------------------------------------------------------


def _modules_with_examples() -> list[str]:
    """featlib's modules whose source holds a ``>>>`` example (the others are not even imported)."""
    names = []
    for info in pkgutil.walk_packages(featlib.__path__, prefix="featlib."):
        spec = importlib.util.find_spec(info.name)
        origin = Path(spec.origin) if spec and spec.origin else None
        if origin and origin.suffix == ".py" and ">>>" in origin.read_text(encoding="utf-8"):
            names.append(info.name)
    return sorted(names)


MODULES_WITH_EXAMPLES = _modules_with_examples()


@pytest.mark.parametrize("name", MODULES_WITH_EXAMPLES)
def test_docstring_examples(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The module's ``>>>`` examples pass doctest; those marked +SKIP name only what exists."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(tmp_path / "workspace"))
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    runner = doctest.DocTestRunner(optionflags=flags)
    problems = []
    tests = doctest.DocTestFinder().find(module)
    for test in tests:
        source = "".join(example.source for example in test.examples)
        try:
            problems += [f"{test.name}: {p}" for p in missing_names(source, dict(vars(module)))]
        except SyntaxError as error:
            problems.append(f"{test.name}: an example is not Python: {error}")
        runner.run(test, out=problems.append)
    assert any(test.examples for test in tests), f"{name} holds '>>>' but doctest finds no example in it"
    assert runner.failures == 0 and not problems, "\n".join(problems)


def test_doctests_are_collected() -> None:
    """The collection finds the modules known to hold examples (a broken walk would pass with none)."""
    assert {"featlib.datasets", "featlib.jobs", "featlib.maps.embed", "featlib.maps.gpu"} <= set(MODULES_WITH_EXAMPLES)


# --- nothing missing --------------------------------------------------------------------------------------------


def _default_forms(default: object) -> set[str]:
    if isinstance(default, bool):
        return {"1", "0", "on", "off", "true", "false"}
    if isinstance(default, (int, float)):
        return {f"{default:g}", f"{default:,g}", str(default)}
    if isinstance(default, Path):
        return {str(default), default.name}
    return {str(default)}


def test_every_setting_is_documented() -> None:
    """Each setting of featlib.settings.SETTINGS has a row in docs/settings.md naming it and its default."""
    from featlib import settings

    table = getattr(settings, "SETTINGS", None)
    assert table, "featlib.settings.SETTINGS (the table of every FEATLIB_* setting) is missing or empty"
    rows = [line for line in (DOCS / "settings.md").read_text(encoding="utf-8").splitlines() if line.startswith("|")]
    problems = []
    for setting in table:
        mine = [row for row in rows if f"`{setting.name}`" in row]
        if not mine:
            problems.append(f"{setting.name}: not in a table of docs/settings.md")
            continue
        if setting.default is not None and not setting.name.startswith("FEATLIB_LIMIT_"):
            forms = _default_forms(setting.default)
            if not any(form.lower() in row.lower() for row in mine for form in forms):
                problems.append(f"{setting.name}: its row does not give its default {setting.default!r}")
    assert not problems, "\n".join(problems)


def test_documented_settings_exist() -> None:
    """Every FEATLIB_* variable the README and docs name is a setting of the table (or a test's switch)."""
    from featlib import settings

    known = {setting.name for setting in getattr(settings, "SETTINGS", ())} | OTHER_VARIABLES
    problems = []
    for page in PAGES:
        for name in sorted(set(re.findall(r"\bFEATLIB_[A-Z0-9_]*[A-Z0-9]\b(?!_?<)", page.read_text(encoding="utf-8")))):
            if name not in known:
                problems.append(f"{rel(page)}: {name} is not a setting of featlib.settings.SETTINGS")
    assert not problems, "\n".join(problems)


def test_every_command_is_documented() -> None:
    """Each command of the CLI's parser appears in docs/cli.md as ``featlib <command>``."""
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    missing = [name for name in cli_commands() if not re.search(rf"featlib {re.escape(name)}\b", text)]
    assert not missing, f"docs/cli.md does not describe: {', '.join(f'featlib {m}' for m in missing)}"


# --- links ---------------------------------------------------------------------------------------------------------


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*_]|<[^>]+>", "", heading.strip().lower())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"^(`{3,}|~{3,}).*?^\1", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, flags=re.M)}


def _links(page: Path) -> list[str]:
    text = re.sub(r"^(`{3,}|~{3,}).*?^\1", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    return re.findall(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text)


def test_relative_links_resolve() -> None:
    """Every relative link or image of the README and docs/ points at a file (and heading) that exists."""
    problems = []
    for page in PAGES:
        for target in _links(page):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, flags=re.I):
                continue  # http:, https:, mailto:
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                problems.append(f"{rel(page)}: link to {target}: {path} does not exist")
            elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
                problems.append(f"{rel(page)}: link to {target}: no heading #{anchor} in {rel(file)}")
    assert not problems, "\n".join(problems)


def test_index_lists_every_page() -> None:
    """docs/index.md links every page of docs/, and the README links the index."""
    linked = {(DOCS / target.partition("#")[0]).resolve() for target in _links(DOCS / "index.md")}
    missing = [rel(page) for page in DOCS.glob("*.md") if page.name != "index.md" and page.resolve() not in linked]
    assert not missing, f"docs/index.md does not link: {', '.join(missing)}"
    assert "docs/index.md" in _links(ROOT / "README.md")


def test_readme_is_short_and_keeps_the_two_commands() -> None:
    """The README is read in five minutes, and holds the commands CI and newcomers run."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 160
    assert "make run" in text and "make test" in text


def test_only_plain_featlib_lines_run_in_process() -> None:
    """A block of plain ``featlib`` lines runs in-process line by line; anything a shell must read goes to bash."""
    assert cli_lines("featlib train --name demo   # a comment\n\n.venv/bin/featlib ls\n") == [
        ["train", "--name", "demo"],
        ["ls"],
    ]
    assert cli_lines('featlib add "my model.keras" --name mine\n') == [["add", "my model.keras", "--name", "mine"]]
    for shell in (
        "featlib ls | head",
        "featlib ls > out.txt",
        "featlib ls && echo done",
        "featlib extract $MODEL",
        "featlib ls *.keras",
        "FEATLIB_WORKSPACE=w featlib ls",
        "python -m featlib ls",
        "featlib ls\necho done",
        "featlib ls 'unclosed",
    ):
        assert cli_lines(shell) is None, shell


def test_a_python_block_runs_as_its_own_process_would(tmp_path: Path) -> None:
    """In its folder and environment, in a namespace of its own; an error gives status 1 and its traceback."""
    script = tmp_path / "block.py"
    script.write_text(
        "import os, pathlib\nprint(pathlib.Path.cwd().name, os.environ.get('ONLY_HERE'), 'x' in globals())\nx = 1\n"
    )
    before = (Path.cwd(), dict(os.environ))
    done = run_script(script, tmp_path, {"ONLY_HERE": "yes"})
    assert (done.returncode, done.stdout) == (0, f"{tmp_path.name} yes False\n")
    assert run_script(script, tmp_path, {}).stdout.endswith("None False\n")  # names do not carry over
    assert (Path.cwd(), dict(os.environ)) == before
    script.write_text("print('started')\nraise ValueError('the block broke')\n")
    done = run_script(script, tmp_path, {})
    assert done.returncode == 1 and done.stdout == "started\n"
    assert "Traceback" in done.stderr and done.stderr.rstrip().endswith("ValueError: the block broke")
    script.write_text("import sys\nsys.exit('no data')\n")
    done = run_script(script, tmp_path, {})
    assert (done.returncode, done.stderr) == (1, "no data\n")
