"""The repository stands alone: no source, test, benchmark or build line reaches outside it.

A fresh clone with nothing beside it must run, test and bench. The scanner reads every Python
file under src/, tests/ and bench/ (by its syntax tree) and the build files (Makefile, .ci/run,
pyproject.toml, package.json) line by line, and reports each way of leaving the checkout:

- a path relative to a file (`Path(__file__).parents[N]`, `.parent` chains, `"..` segments
  joined onto it, `os.path.dirname(__file__)`) or to the working folder (`Path.cwd()`, a
  string starting with `../`) that climbs above the root;
- iterating over all of a file's parents (that search has no floor);
- an absolute path into the folder that holds the checkout, or into the workplace's folders.

Planted violations below prove each form is caught.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest

SELF = Path(__file__).resolve()
ROOT = SELF.parents[2]
PYTHON_TREES = ("src", "tests", "bench")
BUILD_FILES = ("Makefile", ".ci/run", "pyproject.toml", "package.json")
# Where a reader follows paths: the README and the docs must not send them outside either.
DOC_GLOBS = ("*.md", "docs/**/*.md", "data/**/*.md")
# Absolute paths that name where checkouts live on the machines we know of; with the folder
# that holds this checkout, any literal under them is a sibling of the project.
FOREIGN_PREFIXES = ("/work/", "/home/", "/Users/")
UNBOUNDED = 10**6


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.what}"


def _escapes(base_parts: int, relative: str) -> bool:
    """Whether `relative`, taken from a folder `base_parts` levels below the root, climbs above it."""
    depth = base_parts
    for segment in PurePosixPath(relative.replace("\\", "/")).parts:
        if segment == "..":
            depth -= 1
            if depth < 0:
                return True
        elif segment not in (".", "/"):
            depth += 1
    return False


def _foreign_absolute(text: str, root: Path) -> bool:
    if not text.startswith("/"):
        return False
    inside = text == str(root) or text.startswith(f"{root}/")
    beside = text.startswith(f"{root.parent}/") and not inside
    return beside or (text.startswith(FOREIGN_PREFIXES) and not inside)


def _names_a_path(text: str) -> bool:
    """A string that reads as a relative path climbing out: `../x`, not a bare `../..` probe."""
    return text.startswith("../") and any(c.isalpha() for c in text)


class _Levels:
    """How far an expression built on `__file__` or the working folder sits below the root.

    `depth` counts folders below the root; `None` means the expression is no such path.
    """

    def __init__(self, file_parts: int) -> None:
        # The file itself counts as one level: `Path(__file__).parent` is its folder.
        self.file_parts = file_parts

    def depth(self, node: ast.expr) -> int | None:
        if isinstance(node, ast.Name) and node.id == "__file__":
            return self.file_parts
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in {"cwd", "getcwd"}:
                return 0
            if name in {"Path", "PurePath", "PosixPath", "abspath", "realpath", "normpath"} and node.args:
                return self.depth(node.args[0])
            if name == "dirname" and node.args:
                inner = self.depth(node.args[0])
                return None if inner is None else inner - 1
            if name == "join" and node.args:
                inner = self.depth(node.args[0])
                return None if inner is None else self._walk(inner, node.args[1:])
            if name in {"resolve", "absolute", "expanduser"} and isinstance(func, ast.Attribute):
                return self.depth(func.value)
            if name == "joinpath" and isinstance(func, ast.Attribute):
                inner = self.depth(func.value)
                return None if inner is None else self._walk(inner, node.args)
            return None
        if isinstance(node, ast.Attribute):
            inner = self.depth(node.value)
            if inner is None:
                return None
            if node.attr == "parent":
                return inner - 1
            if node.attr == "parents":
                return -UNBOUNDED  # every ancestor, without a floor
            return None
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute):
            if node.value.attr == "parents":
                inner = self.depth(node.value.value)
                index = node.slice
                if inner is not None and isinstance(index, ast.Constant) and isinstance(index.value, int):
                    return inner - 1 - index.value
                if inner is not None:
                    return -UNBOUNDED
            return None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            inner = self.depth(node.left)
            return None if inner is None else self._walk(inner, [node.right])
        return None

    @staticmethod
    def _walk(depth: int, parts: list[ast.expr]) -> int:
        """The depth after joining `parts`; negative as soon as any step is above the root."""
        for part in parts:
            if isinstance(part, ast.Constant) and isinstance(part.value, str):
                for segment in PurePosixPath(part.value).parts:
                    depth += -1 if segment == ".." else 0 if segment == "." else 1
                    if depth < 0:
                        return depth
            else:
                depth += 1  # a computed name goes down one level
        return depth


def scan_python(relative: str, source: str, root: Path = ROOT) -> list[Finding]:
    """Every way the Python file at `relative` (below the root) reaches outside the checkout."""
    tree = ast.parse(source)
    levels = _Levels(len(PurePosixPath(relative).parts))
    findings: list[Finding] = []
    reported: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Starred | ast.comprehension | ast.For):
            iterated = node.value if isinstance(node, ast.Starred) else node.iter
            depth = levels.depth(iterated)
            if depth is not None and depth < 0:
                findings.append(Finding(relative, iterated.lineno, "iterates over every parent"))
                reported.add(id(iterated))
            continue
        if isinstance(node, ast.expr) and id(node) not in reported:
            depth = levels.depth(node)
            if depth is not None and depth < 0 and depth > -UNBOUNDED:
                findings.append(Finding(relative, node.lineno, f"climbs {-depth} above the root"))
                reported.update(id(child) for child in ast.walk(node))
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if _names_a_path(text) and _escapes(0, text):
                findings.append(Finding(relative, node.lineno, f"relative path out of the root: {text!r}"))
            elif _foreign_absolute(text, root):
                findings.append(Finding(relative, node.lineno, f"absolute path beside the root: {text!r}"))
    # An outer expression, its inner parts and its strings can all climb: one finding a line.
    unique = {f.line: f for f in reversed(findings)}
    return sorted(unique.values(), key=lambda f: f.line)


_SCRIPT_DIR = re.compile(r"""\$\(dirname\s+["']?\$0["']?\)|\$\{BASH_SOURCE\[0\]%/\*\}|\$\(CURDIR\)""")
_PATH_TOKEN = re.compile(r"""[^\s"'`=:;,()\[\]{}<>|&]*\.\.[^\s"'`=:;,()\[\]{}<>|&]*""")
_ABSOLUTE = re.compile(r"""(?<![\w.$)}])/[\w.-]+(?:/[\w.-]+)*""")


def scan_lines(relative: str, text: str, root: Path = ROOT) -> list[Finding]:
    """Every line of a build file (Makefile, shell, TOML, JSON) that reaches outside the checkout."""
    folder_parts = len(PurePosixPath(relative).parts) - 1
    # Commands run from the root (make, and .ci/run after its `cd`); a document's links and
    # paths are read from the document's own folder.
    plain_base = folder_parts if relative.endswith(".md") else 0
    findings = []
    for number, line in enumerate(text.splitlines(), start=1):
        code = line.split("#", 1)[0] if not relative.endswith((".json", ".md")) else line
        for token in _PATH_TOKEN.findall(_SCRIPT_DIR.sub("@HERE@", code)):
            base = folder_parts if token.startswith("@HERE@") else plain_base
            path = token.removeprefix("@HERE@").lstrip("/") if token.startswith("@HERE@") else token
            if ("/" in path or path == "..") and _escapes(base, path):
                findings.append(Finding(relative, number, f"climbs out of the root: {token!r}"))
        for absolute in _ABSOLUTE.findall(code):
            if _foreign_absolute(absolute, root):
                findings.append(Finding(relative, number, f"absolute path beside the root: {absolute!r}"))
    return findings


def scan_repository(root: Path = ROOT) -> list[Finding]:
    findings: list[Finding] = []
    for tree in PYTHON_TREES:
        for path in sorted((root / tree).rglob("*.py")):
            if path == SELF:
                continue  # its planted violations are the point of it
            relative = path.relative_to(root).as_posix()
            findings += scan_python(relative, path.read_text(encoding="utf-8"), root)
    for name in BUILD_FILES:
        path = root / name
        if path.exists():
            findings += scan_lines(name, path.read_text(encoding="utf-8"), root)
    for pattern in DOC_GLOBS:
        for path in sorted(root.glob(pattern)):
            findings += scan_lines(path.relative_to(root).as_posix(), path.read_text(encoding="utf-8"), root)
    return findings


def test_nothing_reaches_outside_the_repository() -> None:
    findings = scan_repository()
    assert findings == [], "\n".join(map(str, findings))


def test_the_scanner_reads_every_file_it_should() -> None:
    # A scanner that silently read nothing would pass the test above.
    python_files = [p for tree in PYTHON_TREES for p in (ROOT / tree).rglob("*.py")]
    assert len(python_files) > 300
    assert all((ROOT / name).exists() for name in BUILD_FILES)


PLANTED_PYTHON = [
    # (file below the root, source that climbs out)
    ("tests/unit/test_x.py", 'P = Path(__file__).parents[2].parent / "shared" / "data"'),
    ("tests/unit/test_x.py", "P = Path(__file__).parents[3]"),
    ("tests/unit/test_x.py", "P = Path(__file__).resolve().parent.parent.parent.parent"),
    ("bench/x.py", 'P = Path(__file__).resolve().parents[1] / ".." / "shared"'),
    ("bench/x.py", 'P = Path(__file__).parent / "../../shared/PRODUCT.md"'),
    ("bench/x.py", 'P = os.path.join(os.path.dirname(__file__), "..", "..", "shared")'),
    ("src/pkg/mod.py", "P = dirname(dirname(dirname(dirname(os.path.abspath(__file__)))))"),
    ("src/pkg/mod.py", 'P = Path(__file__).parent.joinpath("..", "..", "..")'),
    ("src/pkg/mod.py", "for base in (Path.cwd(), *Path(__file__).resolve().parents):\n    pass"),
    ("src/pkg/mod.py", "for base in Path(__file__).parents:\n    pass"),
    ("src/pkg/mod.py", "P = Path.cwd().parent / 'shared'"),
    ("src/pkg/mod.py", "P = Path('../shared/data/ofac/sdn.csv.gz')"),
    ("src/pkg/mod.py", "open('../shared/PRODUCT.md')"),
    ("src/pkg/mod.py", "P = '/work/shared/data/ofac/sdn-2024-05-03.csv.gz'"),
    ("src/pkg/mod.py", "P = '/home/dev/voucher-data/list.csv'"),
]

ALLOWED_PYTHON = [
    ("tests/unit/test_x.py", 'P = Path(__file__).resolve().parents[2] / "data"'),
    ("tests/unit/test_x.py", "P = Path(__file__).parent.parent.parent"),
    ("src/pkg/mod.py", 'P = Path(__file__).parent / "rulesets" / "default.json"'),
    ("src/pkg/mod.py", "for base in (Path.cwd(), Path(__file__).resolve().parents[2]):\n    pass"),
    ("bench/x.py", 'P = Path(__file__).parents[1] / "data" / "x" / ".." / "y"'),
    ("tests/web/test_x.py", 'VALUES = ["../..", "%00", "/sandbox/issuer/vouchers"]'),
    ("src/pkg/mod.py", "CHROMIUM = '/usr/bin/chromium'"),
]


@pytest.mark.parametrize(("relative", "source"), PLANTED_PYTHON)
def test_each_planted_python_form_is_caught(relative: str, source: str) -> None:
    root = Path("/work/project")
    findings = scan_python(
        relative, f"import os\nfrom os.path import dirname\nfrom pathlib import Path\n{source}\n", root
    )
    assert len(findings) == 1, findings


@pytest.mark.parametrize(("relative", "source"), ALLOWED_PYTHON)
def test_paths_inside_the_root_are_allowed(relative: str, source: str) -> None:
    assert (
        scan_python(
            relative,
            f"import os\nfrom os.path import dirname\nfrom pathlib import Path\n{source}\n",
            Path("/work/project"),
        )
        == []
    )


def test_a_sibling_of_this_very_checkout_is_caught_wherever_it_lives() -> None:
    root = Path("/srv/ci/clone")
    assert scan_python("src/m.py", "P = '/srv/ci/shared/PRODUCT.md'\n", root) != []
    assert scan_python("src/m.py", "P = '/srv/ci/clone/data/x.csv'\n", root) == []


@pytest.mark.parametrize(
    ("relative", "line"),
    [
        ("Makefile", "bench-risk:\n\t$(BIN)/python -m bench.x --list ../shared/data/ofac/sdn.csv.gz"),
        ("Makefile", "include ../shared/rules.mk"),
        ("Makefile", "DATA := $(CURDIR)/../shared/data"),
        (".ci/run", 'cd "$(dirname "$0")/../.."'),
        (".ci/run", "cp /work/shared/data/ofac/*.gz data/"),
        ("README.md", "The contract is `../shared/PRODUCT.md`."),
        ("docs/api.md", "See [the contract](../../shared/PRODUCT.md)."),
        ("pyproject.toml", 'readme = "../shared/PRODUCT.md"'),
    ],
)
def test_each_planted_build_line_is_caught(relative: str, line: str) -> None:
    assert scan_lines(relative, line, Path("/work/project")) != []


def test_build_lines_inside_the_root_are_allowed() -> None:
    script = 'cd "$(dirname "$0")/.."\nls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null\n'
    assert scan_lines(".ci/run", script, Path("/work/project")) == []
    assert (
        scan_lines("Makefile", "clean:\n\trm -rf .venv var\n\t$(BIN)/pytest -q\n", Path("/work/project"))
        == []
    )
    assert scan_lines("docs/api.md", "See [the risk rules](../docs/risk.md).", Path("/work/project")) == []
