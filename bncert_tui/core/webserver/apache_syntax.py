"""Apache config syntax: directives and sections with their offsets, our fenced blocks, Include.

Every node keeps the offsets of its line and of each argument in the file text, so the adapter can
insert whole lines or replace one argument and keep every other byte. Rules follow httpd 2.4: a `\\`
before the newline joins the next line (before the comment check, so a comment can swallow a line),
`#` starts a comment only at the start of a line, quotes are `"` or `'` with `\\"` escapes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bncert_tui.core.errors import StackError
from bncert_tui.core.webserver.base import MARK

#: Sections read as if their condition held (IfModule, IfDefine, ...): their content is live config.
_FENCE = re.compile(rf"^[ \t]*# (BEGIN|END) {re.escape(MARK)}: (\S.*?)[ \t]*\r?$")


@dataclass(frozen=True)
class Arg:
    value: str  # unquoted
    start: int  # offset in the file text, quotes included
    end: int
    quote: str  # '"', "'" or "" when written bare


@dataclass(frozen=True)
class Directive:
    name: str  # as written; compare with `key`
    args: tuple[Arg, ...]
    line: int  # 1-based
    start: int  # offset of the line, indent included
    end: int  # offset after the line's newline
    indent: str

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def values(self) -> list[str]:
        return [a.value for a in self.args]


@dataclass
class Section:
    name: str
    args: tuple[Arg, ...]
    line: int
    start: int  # offset of the opening line
    end: int  # offset after the opening line's newline: where lines go "right after <Name ...>"
    indent: str
    children: list[Directive | Section] = field(default_factory=list)
    close_start: int = -1  # offset of the `</Name>` line

    @property
    def key(self) -> str:
        return self.name.lower()


Node = Directive | Section


@dataclass(frozen=True)
class _Logical:
    text: str  # continuation lines joined, not trimmed
    offsets: list[int]  # file offset of each character of `text`
    line: int
    start: int
    end: int


def physical_lines(text: str) -> list[str]:
    """Lines with their `\\n` kept (never split on other characters, unlike str.splitlines)."""
    return re.findall(r"[^\n]*\n|[^\n]+\Z", text)


def _logical_lines(text: str) -> Iterator[_Logical]:
    pos, line, size = 0, 1, len(text)
    while pos < size:
        start, first = pos, line
        chars: list[str] = []
        offsets: list[int] = []
        while pos < size:
            nl = text.find("\n", pos)
            stop, nxt = (size, size) if nl < 0 else (nl, nl + 1)
            if stop > pos and text[stop - 1] == "\r":
                stop -= 1
            line += 1
            joined = nl >= 0 and stop > pos and text[stop - 1] == "\\"
            keep = stop - 1 if joined else stop
            chars.append(text[pos:keep])
            offsets.extend(range(pos, keep))
            pos = nxt
            if not joined:
                break
        yield _Logical("".join(chars), offsets, first, start, pos)


def _tokens(ll: _Logical, i: int, end: int) -> list[Arg]:
    """Split like ap_getword_conf: whitespace-separated words, quoted words unescape `\\quote`."""
    s = ll.text
    out: list[Arg] = []
    while True:
        while i < end and s[i].isspace():
            i += 1
        if i >= end:
            return out
        quote = s[i] if s[i] in "\"'" else ""
        if quote:
            j, buf = i + 1, []
            while j < end and s[j] != quote:
                if s[j] == "\\" and j + 1 < end and s[j + 1] == quote:
                    j += 1
                buf.append(s[j])
                j += 1
            stop, value = min(j + 1, end), "".join(buf)
        else:
            j = i
            while j < end and not s[j].isspace():
                j += 1
            stop, value = j, s[i:j]
        out.append(Arg(value, ll.offsets[i], ll.offsets[stop - 1] + 1, quote))
        i = stop


def fence_spans(text: str, file: Path) -> list[tuple[int, int]]:
    """(start, end) offsets of each of our fenced blocks, marker lines included.

    A BEGIN without its END (or the reverse) is an error: guessing where a block ends could delete
    the user's lines.
    """
    spans: list[tuple[int, int]] = []
    open_tag: tuple[str, int, int] | None = None
    pos = 0
    for number, raw in enumerate(physical_lines(text), start=1):
        m = _FENCE.match(raw.rstrip("\n"))
        if m:
            kind, tag = m.group(1), m.group(2)
            if kind == "BEGIN" and open_tag is None:
                open_tag = (tag, pos, number)
            elif kind == "END" and open_tag is not None and open_tag[0] == tag:
                spans.append((open_tag[1], pos + len(raw)))
                open_tag = None
            else:
                raise StackError(
                    f"Broken {MARK} marker in {file}:{number}",
                    raw.strip(),
                    f"Each '# BEGIN {MARK}: X' needs a matching '# END {MARK}: X' line. "
                    "Fix or remove the marker lines by hand, then run again.",
                )
        pos += len(raw)
    if open_tag is not None:
        raise StackError(
            f"Unclosed {MARK} block in {file}:{open_tag[2]}",
            f"'# BEGIN {MARK}: {open_tag[0]}' has no END line.",
            "Remove the block or add its END line by hand, then run again.",
        )
    return spans


def strip_fences(text: str, file: Path) -> str:
    """The text without any of our fenced blocks; every other byte stays."""
    out, pos = [], 0
    for start, end in fence_spans(text, file):
        out.append(text[pos:start])
        pos = end
    out.append(text[pos:])
    return "".join(out)


def parse(text: str, file: Path) -> list[Node]:
    """Parse one file into nodes, skipping our fenced blocks. Sections close in the same file."""
    spans = fence_spans(text, file)
    root: list[Node] = []
    stack: list[Section] = []

    def where(ll: _Logical) -> str:
        return f"{file}:{ll.line}"

    for ll in _logical_lines(text):
        if any(a <= ll.start < b for a, b in spans):
            continue
        body = ll.text.strip()
        if not body or body.startswith("#"):
            continue
        first = len(ll.text) - len(ll.text.lstrip())
        last = len(ll.text.rstrip())
        indent = text[ll.start : ll.offsets[first]]
        if body.startswith("</"):
            name = body[2:].split(">", 1)[0]
            if ">" not in body or not name or name != name.strip():
                raise StackError(
                    f"Apache config error at {where(ll)}", f"{body}: missing closing '>'"
                )
            if not stack:
                raise StackError(
                    f"Apache config error at {where(ll)}", f"</{name}> without <{name}>"
                )
            if stack[-1].key != name.lower():
                raise StackError(
                    f"Apache config error at {where(ll)}",
                    f"Expected </{stack[-1].name}> but saw </{name}>",
                )
            stack.pop().close_start = ll.start
            continue
        if body.startswith("<"):
            if not body.endswith(">"):
                raise StackError(
                    f"Apache config error at {where(ll)}", f"{body}: missing closing '>'"
                )
            name_end = first + 1
            while name_end < last - 1 and not ll.text[name_end].isspace():
                name_end += 1
            name, args = ll.text[first + 1 : name_end], tuple(_tokens(ll, name_end, last - 1))
            section = Section(name, args, ll.line, ll.start, ll.end, indent)
            (stack[-1].children if stack else root).append(section)
            stack.append(section)
            continue
        words = _tokens(ll, first, last)
        directive = Directive(words[0].value, tuple(words[1:]), ll.line, ll.start, ll.end, indent)
        (stack[-1].children if stack else root).append(directive)
    if stack:
        raise StackError(
            f"Apache config error at {file}:{stack[-1].line}",
            f"<{stack[-1].name}> was not closed.",
            "Add the missing closing line, check with apachectl -t, then run again.",
        )
    return root
