"""nginx config syntax: a tokenizer and a light directive tree that keep byte offsets.

Edits are done by text surgery on offsets, so every byte outside them stays as the user wrote it.
The tokenizer follows nginx's own `ngx_conf_read_token`: a bare word ends at whitespace, `;` or `{`
(a `}` inside a word is literal, which is what lets `${var}` work), `#` starts a comment only at the
start of a token, a backslash escapes the next character, and a quoted string must be followed by
whitespace, `;`, `{` or `)`.
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import Protocol

from bncert_tui.core.errors import StackError
from bncert_tui.core.webserver.base import MARK

_SPACE = " \t\r\n"
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "t": "\t", "r": "\r", "n": "\n"}
_BEGIN_RE = re.compile(rf"^[ \t]*# BEGIN {re.escape(MARK)}: (.*?)[ \t]*\r?\n?$")
_END_RE = re.compile(rf"^[ \t]*# END {re.escape(MARK)}: (.*?)[ \t]*\r?\n?$")
_SAFE_WORD = re.compile(r"[A-Za-z0-9_./:@%+,=~^*-]+")


def syntax_error(path: Path, line: int, message: str) -> StackError:
    """A parse error that names the file and line, like `nginx -t` does."""
    return StackError(
        f"Cannot read the nginx config: {message} in {path}:{line}",
        hint=f"Fix {path} by hand (nginx -t shows the same problem), then run this tool again.",
    )


@dataclass(frozen=True)
class Token:
    """One token: kind is "word", ";", "{" or "}"; value is the unquoted, unescaped text."""

    kind: str
    value: str
    start: int
    end: int
    line: int
    quoted: bool = False


def _unescape(raw: str) -> str:
    """Undo escapes as nginx does (quotes, backslash, t, r, n); `\\.` and the like stay as is."""
    if "\\" not in raw:
        return raw
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw) and raw[i + 1] in _ESCAPES:
            out.append(_ESCAPES[raw[i + 1]])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def tokenize(text: str, path: Path) -> list[Token]:
    """Split config text into tokens with offsets and 1-based line numbers; comments are skipped."""
    tokens: list[Token] = []
    i, n, line = 0, len(text), 1
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
            i += 1
        elif ch in " \t\r":
            i += 1
        elif ch == "#":
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
        elif ch in ";{}":
            tokens.append(Token(ch, ch, i, i + 1, line))
            i += 1
        elif ch in "\"'":
            j = i + 1
            while j < n and text[j] != ch:
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                raise syntax_error(path, line, f"unterminated {ch} quote")
            after = text[j + 1] if j + 1 < n else " "
            if after not in _SPACE and after not in ";{)":
                raise syntax_error(path, line + text.count("\n", i, j), f'unexpected "{after}"')
            tokens.append(Token("word", _unescape(text[i + 1 : j]), i, j + 1, line, quoted=True))
            line += text.count("\n", i, j)
            i = j + 1
        else:
            j = i
            while j < n:
                c = text[j]
                if c == "\\":
                    j += 2
                elif c == "{" and j > i and text[j - 1] == "$":
                    j += 1  # ${var}: not a block start
                elif c in _SPACE or c in ";{":
                    break
                else:
                    j += 1
            j = min(j, n)
            tokens.append(Token("word", _unescape(text[i:j]), i, j, line))
            line += text.count("\n", i, j)
            i = j
    return tokens


@dataclass(frozen=True)
class Fence:
    """One block of lines this tool added: `# BEGIN bncert-tui: tag` .. `# END bncert-tui: tag`."""

    tag: str
    start: int  # offset of the BEGIN line
    end: int  # offset just past the END line (and its newline)
    line: int  # 1-based line of BEGIN


def find_fences(text: str, path: Path) -> list[Fence]:
    """Our marked blocks in file order; an unmatched BEGIN is an error (we never write one)."""
    fences: list[Fence] = []
    lines = text.splitlines(keepends=True)
    offset, idx = 0, 0
    while idx < len(lines):
        begin = _BEGIN_RE.match(lines[idx])
        if begin is None:
            offset += len(lines[idx])
            idx += 1
            continue
        tag, start, begin_idx = begin.group(1), offset, idx
        while True:
            offset += len(lines[idx])
            idx += 1
            if idx >= len(lines):
                message = f'"# BEGIN {MARK}: {tag}" has no matching END line'
                raise syntax_error(path, begin_idx + 1, message)
            end = _END_RE.match(lines[idx])
            if end is not None and end.group(1) == tag:
                offset += len(lines[idx])
                idx += 1
                break
        fences.append(Fence(tag, start, offset, begin_idx + 1))
    return fences


def strip_fences(text: str, path: Path) -> str:
    """The text with every block of ours removed; all other bytes are kept as they were."""
    fences = find_fences(text, path)
    if not fences:
        return text
    parts: list[str] = []
    pos = 0
    for fence in fences:
        parts.append(text[pos : fence.start])
        pos = fence.end
    parts.append(text[pos:])
    return "".join(parts)


def quote(value: str) -> str:
    """Write `value` as one nginx argument: bare when safe, else double-quoted with escapes."""
    if "$" in value or any(c in value for c in "\r\n\0"):
        raise StackError(
            f"Cannot write {value!r} into the nginx config",
            "nginx reads `$` as a variable and has no way to escape it (nor line breaks).",
            "Use a path without `$` or line breaks.",
        )
    if _SAFE_WORD.fullmatch(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(eq=False)
class Directive:
    """A directive as written in one file: name, argument tokens and (for blocks) its children."""

    name: str
    args: list[Token]
    file: Path
    line: int
    start: int  # offset of the name
    block: list[Directive] | None = None
    open_brace: int = -1  # offset of `{`
    close_brace: int = -1  # offset of `}`
    fenced: bool = False  # inside one of our marked blocks

    @property
    def values(self) -> list[str]:
        return [a.value for a in self.args]


def parse(text: str, path: Path) -> list[Directive]:
    """Parse one file (includes are not followed here); raises StackError naming file:line."""
    fences = find_fences(text, path)
    root: list[Directive] = []
    stack: list[Directive] = []
    words: list[Token] = []

    def current() -> list[Directive]:
        if not stack:
            return root
        block = stack[-1].block
        assert block is not None
        return block

    def new() -> Directive:
        first = words[0]
        fenced = any(f.start <= first.start < f.end for f in fences)
        return Directive(first.value, words[1:], path, first.line, first.start, fenced=fenced)

    for tok in tokenize(text, path):
        if tok.kind == "word":
            words.append(tok)
        elif tok.kind == ";":
            if not words:
                raise syntax_error(path, tok.line, 'unexpected ";"')
            current().append(new())
            words = []
        elif tok.kind == "{":
            if not words:
                raise syntax_error(path, tok.line, 'unexpected "{"')
            d = new()
            d.block, d.open_brace = [], tok.start
            current().append(d)
            stack.append(d)
            words = []
        else:
            if words:
                raise syntax_error(path, tok.line, 'unexpected "}" (a ";" is missing)')
            if not stack:
                raise syntax_error(path, tok.line, 'unexpected "}"')
            stack.pop().close_brace = tok.start
    last = text.count("\n") + 1
    if words:
        raise syntax_error(path, last, 'unexpected end of file, expecting ";" or "}"')
    if stack:
        d = stack[-1]
        raise syntax_error(path, d.line, f'"{d.name}" block is not closed by "}}" (end of file)')
    return root


class Source(Protocol):
    """Where config files come from: the disk (inspect) or a dict of texts (render, pure)."""

    def expand(self, pattern: Path) -> list[Path]:
        """Existing files matching an include pattern, sorted like glob(3)."""
        ...

    def read(self, path: Path) -> str:
        ...


def _has_magic(s: str) -> bool:
    return any(c in s for c in "*?[")


class DiskSource:
    def expand(self, pattern: Path) -> list[Path]:
        if not _has_magic(str(pattern)):
            return [pattern] if pattern.is_file() else []
        return [Path(p) for p in sorted(glob.glob(str(pattern))) if Path(p).is_file()]

    def read(self, path: Path) -> str:
        try:
            return path.read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as exc:
            raise StackError(f"Cannot read {path}", str(exc)) from exc


@dataclass
class DictSource:
    files: dict[Path, str]

    def expand(self, pattern: Path) -> list[Path]:
        if not _has_magic(str(pattern)):
            return [pattern] if pattern in self.files else []
        return sorted((p for p in self.files if _glob_match(pattern, p)), key=str)

    def read(self, path: Path) -> str:
        return self.files[path]


def _glob_match(pattern: Path, path: Path) -> bool:
    """glob(3) semantics: `*` stays inside one path component and skips dot files."""
    pat, parts = PurePosixPath(pattern).parts, PurePosixPath(path).parts
    if len(pat) != len(parts):
        return False
    for p, s in zip(pat, parts, strict=True):
        if s.startswith(".") and not p.startswith("."):
            return False
        if not fnmatchcase(s, p):
            return False
    return True


@dataclass(eq=False)
class Node:
    """A directive in context: `include`s are replaced by the directives of the files they name."""

    directive: Directive
    block: list[Node] | None

    @property
    def name(self) -> str:
        return self.directive.name


@dataclass
class ConfigTree:
    main: Path
    files: list[Path] = field(default_factory=list)  # main + included files, first-load order
    nodes: list[Node] = field(default_factory=list)


def load_tree(main: Path, source: Source) -> ConfigTree:
    """Parse the main file and every file it includes (relative to its directory, like nginx)."""
    conf_dir = main.parent
    tree = ConfigTree(main)
    parsed: dict[Path, list[Directive]] = {}

    def load(path: Path) -> list[Directive]:
        if path not in parsed:
            parsed[path] = parse(source.read(path), path)
            tree.files.append(path)
        return parsed[path]

    def build(directives: list[Directive], stack: tuple[Path, ...]) -> list[Node]:
        out: list[Node] = []
        for d in directives:
            if d.name == "include" and d.block is None and len(d.args) == 1:
                pattern = Path(d.args[0].value)
                for path in source.expand(pattern if pattern.is_absolute() else conf_dir / pattern):
                    if path in stack:
                        raise syntax_error(d.file, d.line, f"{path} includes itself")
                    out.extend(build(load(path), (*stack, path)))
            else:
                block = None if d.block is None else build(d.block, stack)
                out.append(Node(d, block))
        return out

    tree.nodes = build(load(main), (main,))
    return tree
