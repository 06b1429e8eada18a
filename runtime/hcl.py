"""A small HCL2 reader for atlas.hcl, written here instead of using python-hcl2.

python-hcl2 parses the structure but does not evaluate expressions: ``"${local.x}"``,
``getenv("X")`` and ``a ? b : c`` come back as unevaluated strings, and resolving them is the
part the runtime needs (which stores, which repository). It would also add lark to a runtime
that has no dependencies of its own.

Files are parsed into blocks and attributes; an attribute keeps its expression as tokens and
is evaluated only when asked for, so syntax this reader does not evaluate (data sources,
schema-loader programs, for-expressions) never gets in the way. Evaluable: literals, templates
with ``${}``, heredocs, lists, objects, traversals (``var.x``, ``local.y``, ``atlas.env``),
indexing, function calls supplied by the caller (``getenv``), ``==`` / ``!=``, ``!`` and the
``? :`` conditional.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import BadInput


class HclError(BadInput):
    pass


MAX_DEPTH = 64
"""How deeply blocks, expressions and interpolations may nest: far beyond any atlas.hcl, and
far below what would exhaust Python's stack."""


@dataclass(frozen=True)
class Token:
    kind: str  # ident, number, string, heredoc, punct, newline, eof
    value: Any
    line: int


@dataclass
class Attribute:
    name: str
    tokens: list[Token]
    line: int

    @property
    def source(self) -> str:
        """The expression's tokens as text: enough to read a bare word like golang-migrate."""
        return "".join(str(t.value) for t in self.tokens if t.kind in ("ident", "punct", "number"))


@dataclass
class Block:
    type: str
    labels: list[str]
    line: int
    attributes: dict[str, Attribute] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)

    def children(self, type_: str) -> list[Block]:
        return [b for b in self.blocks if b.type == type_]

    def child(self, type_: str) -> Block | None:
        found = self.children(type_)
        return found[0] if found else None


_PUNCT = [
    "==",
    "!=",
    "&&",
    "||",
    ">=",
    "<=",
    "=>",
    "...",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "=",
    ",",
    ".",
    ":",
    "?",
    "!",
    "+",
    "-",
    "*",
    "/",
    "%",
    "<",
    ">",
]
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_NUMBER = re.compile(r"\d+(\.\d+)?([eE][+-]?\d+)?")
_HEREDOC = re.compile(r"<<(-?)([A-Za-z_][A-Za-z0-9_]*)\n")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


class _Lexer:
    def __init__(self, text: str, where: str) -> None:
        self.text, self.where, self.pos, self.line = text, where, 0, 1
        self.nesting = 0

    def error(self, message: str, line: int | None = None) -> HclError:
        return HclError(f"{self.where}:{line or self.line}: {message}")

    def tokens(self, stop_at_brace: bool = False) -> list[Token]:
        out: list[Token] = []
        depth = 0
        text = self.text
        while self.pos < len(text):
            c = text[self.pos]
            if c in " \t\r":
                self.pos += 1
            elif c == "\n":
                out.append(Token("newline", "\n", self.line))
                self.line += 1
                self.pos += 1
            elif c == "#" or text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.error("unterminated /* comment")
                self.line += text.count("\n", self.pos, end)
                self.pos = end + 2
            elif c == '"':
                out.append(Token("string", self._string(), self.line))
            elif m := _HEREDOC.match(text, self.pos):
                out.append(self._heredoc(m))
            elif m := _NUMBER.match(text, self.pos):
                out.append(Token("number", m.group(0), self.line))
                self.pos = m.end()
            elif m := _IDENT.match(text, self.pos):
                out.append(Token("ident", m.group(0), self.line))
                self.pos = m.end()
            else:
                punct = next((p for p in _PUNCT if text.startswith(p, self.pos)), None)
                if punct is None:
                    raise self.error(f"unexpected character {c!r}")
                if stop_at_brace:
                    if punct == "{":
                        depth += 1
                    elif punct == "}":
                        if depth == 0:
                            self.pos += 1
                            return out
                        depth -= 1
                out.append(Token("punct", punct, self.line))
                self.pos += len(punct)
        if stop_at_brace:
            raise self.error("unterminated ${ interpolation")
        out.append(Token("eof", None, self.line))
        return out

    def _string(self) -> list[str | list[Token]]:
        """A quoted template: literal parts (str) and interpolations (token lists)."""
        text, parts, buf = self.text, [], []
        start = self.line
        self.pos += 1
        while True:
            if self.pos >= len(text) or text[self.pos] == "\n":
                raise self.error("unterminated string", start)
            c = text[self.pos]
            if c == '"':
                self.pos += 1
                break
            if c == "\\":
                esc = text[self.pos + 1 : self.pos + 2]
                if esc in _ESCAPES:
                    buf.append(_ESCAPES[esc])
                    self.pos += 2
                elif esc == "u" and re.fullmatch(
                    r"[0-9a-fA-F]{4}", text[self.pos + 2 : self.pos + 6]
                ):
                    buf.append(chr(int(text[self.pos + 2 : self.pos + 6], 16)))
                    self.pos += 6
                else:
                    raise self.error(f"invalid escape \\{esc} in string")
            elif text.startswith(("$${", "%%{"), self.pos):  # escaped template sequences
                buf.append(text[self.pos + 1 : self.pos + 3])
                self.pos += 3
            elif text.startswith("${", self.pos):
                parts.append("".join(buf))
                buf = []
                self.pos += 2
                self.nesting += 1
                if self.nesting > MAX_DEPTH:
                    raise self.error(f"interpolations nested more than {MAX_DEPTH} deep")
                inner = self.tokens(stop_at_brace=True)
                self.nesting -= 1
                parts.append([*inner, Token("eof", None, self.line)])
            else:
                buf.append(c)
                self.pos += 1
        parts.append("".join(buf))
        return parts

    def _heredoc(self, m: re.Match[str]) -> Token:
        strip, marker = m.group(1) == "-", m.group(2)
        start = self.line
        body_start = m.end()
        end = re.compile(rf"^[ \t]*{marker}[ \t]*$", re.M).search(self.text, body_start)
        if end is None:
            raise self.error(f"heredoc <<{marker} is never closed", start)
        lines = self.text[body_start : end.start()].split("\n")[:-1]
        if strip:
            indent = min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=0)
            lines = [x[indent:] for x in lines]
        self.line += self.text.count("\n", self.pos, end.end())
        self.pos = end.end()
        return Token("heredoc", "".join(x + "\n" for x in lines), start)


class _BodyParser:
    def __init__(self, tokens: list[Token], where: str) -> None:
        self.toks, self.i, self.where = tokens, 0, where

    def peek(self) -> Token:
        return self.toks[self.i]

    def next(self) -> Token:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def error(self, tok: Token, message: str) -> HclError:
        return HclError(f"{self.where}:{tok.line}: {message}")

    def body(self, block: Block, closing: bool, depth: int = 0) -> Block:
        if depth > MAX_DEPTH:
            raise self.error(self.peek(), f"blocks nested more than {MAX_DEPTH} deep")
        while True:
            tok = self.next()
            if tok.kind == "newline":
                continue
            if tok.kind == "eof":
                if closing:
                    raise self.error(
                        tok, f"block {block.type!r} opened on line {block.line} is never closed"
                    )
                return block
            if tok.kind == "punct" and tok.value == "}" and closing:
                return block
            if tok.kind != "ident":
                raise self.error(tok, f"expected an attribute or block name, found {tok.value!r}")
            after = self.peek()
            if after.kind == "punct" and after.value == "=":
                self.next()
                block.attributes[tok.value] = Attribute(tok.value, self.expression(), tok.line)
                continue
            labels = []
            while self.peek().kind in ("string", "ident"):
                label = self.next()
                labels.append(self.label(label) if label.kind == "string" else label.value)
            brace = self.next()
            if not (brace.kind == "punct" and brace.value == "{"):
                raise self.error(brace, f"expected '=' or '{{' after {tok.value!r}")
            block.blocks.append(
                self.body(Block(tok.value, labels, tok.line), closing=True, depth=depth + 1)
            )

    def label(self, tok: Token) -> str:
        if len(tok.value) != 1:
            raise self.error(tok, "block labels cannot interpolate")
        return tok.value[0]

    def expression(self) -> list[Token]:
        """Collect an attribute's tokens up to the newline that ends it (depth 0)."""
        out, depth = [], 0
        while True:
            tok = self.peek()
            if tok.kind == "eof" or (depth == 0 and tok.kind == "newline"):
                break
            if tok.kind == "punct" and tok.value in "([{":
                depth += 1
            elif tok.kind == "punct" and tok.value in ")]}":
                if depth == 0:
                    break  # the enclosing block's closing brace, as in `a { b = 1 }`
                depth -= 1
            out.append(self.next())
        if not out:
            raise self.error(tok, "attribute has no value")
        return [*out, Token("eof", None, tok.line)]


def parse(text: str, where: str) -> Block:
    """Parse an HCL file into its root block."""
    return _BodyParser(_Lexer(text, where).tokens(), where).body(Block("", [], 1), closing=False)


Functions = dict[str, Callable[..., Any]]
Resolver = Callable[[str, list[str], int], Any]


class Evaluator:
    """Evaluates expression tokens; ``resolve(root, path, line)`` supplies ``var.x`` and kin."""

    def __init__(self, resolve: Resolver, functions: Functions, where: str) -> None:
        self.resolve, self.functions, self.where = resolve, functions, where

    def evaluate(self, attr: Attribute) -> Any:
        return _ExprParser(attr.tokens, self).run()


class _ExprParser:
    def __init__(self, tokens: list[Token], ev: Evaluator) -> None:
        self.toks = [t for t in tokens if t.kind != "newline"]
        self.i, self.ev = 0, ev
        self.nesting = 0

    def error(self, message: str) -> HclError:
        return HclError(f"{self.ev.where}:{self.toks[self.i].line}: {message}")

    def peek(self, value: str | None = None) -> bool:
        tok = self.toks[self.i]
        return tok.kind == "punct" and (value is None or tok.value == value)

    def expect(self, value: str) -> None:
        if not self.peek(value):
            raise self.error(f"expected {value!r}")
        self.i += 1

    def run(self) -> Any:
        value = self.conditional()
        if self.toks[self.i].kind != "eof":
            raise self.error(f"unsupported expression near {self.toks[self.i].value!r}")
        return value

    def conditional(self) -> Any:
        self.nesting += 1  # every nested expression comes through here or unary()
        if self.nesting > MAX_DEPTH:
            raise self.error(f"expression nested more than {MAX_DEPTH} deep")
        try:
            return self._conditional()
        finally:
            self.nesting -= 1

    def _conditional(self) -> Any:
        cond = self.comparison()
        if self.peek("?"):
            self.i += 1
            yes = self.conditional()
            self.expect(":")
            no = self.conditional()
            return yes if cond else no
        return cond

    def comparison(self) -> Any:
        left = self.unary()
        while self.peek("==") or self.peek("!="):
            op = self.toks[self.i].value
            self.i += 1
            right = self.unary()
            left = (left == right) if op == "==" else (left != right)
        return left

    def unary(self) -> Any:
        negations = 0
        while self.peek("!"):
            self.i += 1
            negations += 1
        value = self.postfix(self.primary())
        return not value if negations % 2 else (bool(value) if negations else value)

    def postfix(self, value: Any) -> Any:
        while True:
            if self.peek("["):
                self.i += 1
                key = self.conditional()
                self.expect("]")
                try:
                    value = value[int(key) if isinstance(value, list) else key]
                except (KeyError, IndexError, ValueError, TypeError):
                    raise self.error(f"index {key!r} not found") from None
            elif self.peek(".") and isinstance(value, dict):
                self.i += 1
                name = self.toks[self.i]
                self.i += 1
                if name.value not in value:
                    raise self.error(f"attribute {name.value!r} not found")
                value = value[name.value]
            else:
                return value

    def primary(self) -> Any:
        tok = self.toks[self.i]
        self.i += 1
        if tok.kind == "number":
            return json.loads(tok.value)
        if tok.kind == "string":
            return self.template(tok.value)
        if tok.kind == "heredoc":
            return tok.value
        if tok.kind == "punct" and tok.value == "(":
            value = self.conditional()
            self.expect(")")
            return value
        if tok.kind == "punct" and tok.value == "[":
            items = []
            while not self.peek("]"):
                items.append(self.conditional())
                if not self.peek("]"):
                    self.expect(",")
            self.i += 1
            return items
        if tok.kind == "punct" and tok.value == "{":
            obj = {}
            while not self.peek("}"):
                key_tok = self.toks[self.i]
                key = key_tok.value if key_tok.kind == "ident" else self.conditional()
                if key_tok.kind == "ident":
                    self.i += 1
                if not (self.peek("=") or self.peek(":")):
                    raise self.error("expected '=' or ':' in object")
                self.i += 1
                obj[str(key)] = self.conditional()
                if self.peek(","):
                    self.i += 1
            self.i += 1
            return obj
        if tok.kind == "ident":
            if tok.value in ("true", "false", "null"):
                return {"true": True, "false": False, "null": None}[tok.value]
            if self.peek("("):
                return self.call(tok)
            path = []
            while self.peek(".") and self.toks[self.i + 1].kind == "ident":
                path.append(self.toks[self.i + 1].value)
                self.i += 2
            return self.ev.resolve(tok.value, path, tok.line)
        self.i -= 1
        raise self.error(f"unsupported expression near {tok.value!r}")

    def call(self, name: Token) -> Any:
        fn = self.ev.functions.get(name.value)
        if fn is None:
            raise self.error(
                f"function {name.value}() is not supported here "
                f"(supported: {', '.join(sorted(self.ev.functions))})"
            )
        self.expect("(")
        args = []
        while not self.peek(")"):
            args.append(self.conditional())
            if not self.peek(")"):
                self.expect(",")
        self.i += 1
        return fn(*args)

    def template(self, parts: list[str | list[Token]]) -> Any:
        if len(parts) == 3 and parts[0] == "" and parts[2] == "":
            return _ExprParser(parts[1], self.ev).run()  # "${x}" keeps x's type
        out = []
        for part in parts:
            if isinstance(part, str):
                out.append(part)
            else:
                value = _ExprParser(part, self.ev).run()
                if isinstance(value, list | dict):
                    raise self.error("cannot interpolate a list or object into a string")
                out.append(_to_str(value))
        return "".join(out)


def _to_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
