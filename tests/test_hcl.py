"""The HCL reader on its own: structure, then each kind of expression it evaluates, then errors
that name the file and the line. atlas.hcl semantics on top of it are in test_config.py."""

from __future__ import annotations

from typing import Any

import pytest

from atlas_continuity.runtime import hcl

WHERE = "atlas.hcl"


def parse(text: str) -> hcl.Block:
    return hcl.parse(text, WHERE)


def evaluate(text: str, name: str = "x", asked: list | None = None, **scope: Any) -> Any:
    """Evaluate attribute ``name`` of ``text``: traversals read ``scope`` (each request is
    appended to ``asked``), the functions are upper() and join()."""

    def resolve(root: str, path: list[str], line: int) -> Any:
        if asked is not None:
            asked.append((root, path, line))
        value = scope[root]
        for part in path:
            value = value[part]
        return value

    functions = {"upper": str.upper, "join": lambda sep, items: sep.join(items)}
    return hcl.Evaluator(resolve, functions, WHERE).evaluate(parse(text).attributes[name])


def expr(source: str, **scope: Any) -> Any:
    return evaluate(f"x = {source}\n", **scope)


# -- structure -------------------------------------------------------------------------------


def test_blocks_labels_attributes_and_their_lines():
    root = parse(
        "# a comment\n"
        'env "prod" extra {\n'
        "  url = 1 // trailing\n"
        "  migration { dir = 2 }\n"
        "}\n"
        "/* a\n   block comment */\n"
        "locals {}\n"
        "top = 3\n"
    )
    env, locals_ = root.blocks
    assert (env.type, env.labels, env.line) == ("env", ["prod", "extra"], 2)
    assert env.attributes["url"].line == 3
    assert env.child("migration").attributes["dir"].line == 4
    assert (locals_.type, locals_.labels, locals_.line) == ("locals", [], 8)
    assert root.attributes["top"].line == 9
    assert root.children("env") == [env] and root.child("variable") is None


def test_expressions_are_evaluated_only_when_asked():
    """Syntax the evaluator does not know (a for-expression, a data source) parses, and fails
    only for the attribute that is evaluated."""
    text = (
        'data "external_schema" "gorm" {\n  program = ["go", "run", "./loader"]\n}\n'
        "pairs = { for l in local.lines : l => l }\n"
        'x = "fine"\n'
    )
    assert evaluate(text) == "fine"
    with pytest.raises(hcl.HclError, match=rf"^{WHERE}:4: "):
        evaluate(text, "pairs")


def test_source_spells_a_bare_word():
    root = parse("format = golang-migrate\nname = atlas.env\n")
    assert root.attributes["format"].source == "golang-migrate"
    assert root.attributes["name"].source == "atlas.env"


# -- literals and templates ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("42", 42),
        ("1.5", 1.5),
        ("2e3", 2000.0),
        ("true", True),
        ("false", False),
        ("null", None),
        ('"plain"', "plain"),
        ('""', ""),
        ('"tab\\t quote\\" backslash\\\\ newline\\n"', 'tab\t quote" backslash\\ newline\n'),
        ('"\\u00e9t\\u00e9"', "\u00e9t\u00e9"),
        ('"$${not.interpolated}"', "${not.interpolated}"),
    ],
)
def test_literals(source, value):
    assert expr(source) == value


def test_templates_interpolate_and_a_lone_interpolation_keeps_its_type():
    scope = {"var": {"bucket": "b", "n": 3, "on": True, "none": None, "list": ["a"]}}
    assert expr('"s3://${var.bucket}/p?n=${var.n}"', **scope) == "s3://b/p?n=3"
    assert expr('"${var.on}-${var.none}-${1 == 1}"', **scope) == "true--true"
    assert expr('"${var.list}"', **scope) == ["a"]
    assert expr('"${var.n}"', **scope) == 3
    assert expr('"${upper("x")}${"y"}"') == "Xy"


def test_heredocs_keep_or_strip_indentation():
    text = "keep = <<EOT\n  one\n    two\nEOT\nstrip = <<-EOT\n    one\n      two\n    EOT\nx = 1\n"
    assert evaluate(text, "keep") == "  one\n    two\n"
    assert evaluate(text, "strip") == "one\n  two\n"
    assert parse(text).attributes["x"].line == 9  # lines after a heredoc are counted right


# -- collections, traversals, indexing -------------------------------------------------------


def test_lists_and_objects():
    assert expr("[]") == [] and expr("{}") == {}
    assert expr('[1, "a", [true],]') == [1, "a", [True]]
    assert expr('{a = 1, "b c": 2, d = [3]}') == {"a": 1, "b c": 2, "d": [3]}
    assert evaluate('x = {\n  a = 1\n  b = {\n    c = "d"\n  }\n}\n') == {"a": 1, "b": {"c": "d"}}
    assert evaluate("x = [\n  1,\n  2\n]\n") == [1, 2]


def test_traversals_ask_the_resolver_with_the_line():
    scope = {"local": {"prefix": "p"}, "atlas": {"env": "prod"}, "golang-migrate": "enum"}
    asked: list = []
    assert evaluate('\n\nx = "${local.prefix}/${atlas.env}"\n', asked=asked, **scope) == "p/prod"
    assert evaluate("x = golang-migrate\n", asked=asked, **scope) == "enum"
    assert asked == [("local", ["prefix"], 3), ("atlas", ["env"], 3), ("golang-migrate", [], 1)]


def test_indexing_and_attribute_access_on_values():
    scope = {"local": {"list": ["a", {"k": "v"}], "map": {"key": ["x", "y"], "a b": 1}}}
    assert expr("local.list[0]", **scope) == "a"
    assert expr("local.list[1].k", **scope) == "v"
    assert expr('local.list[1]["k"]', **scope) == "v"
    assert expr('local.list["0"]', **scope) == "a"  # HCL converts a numeric string index
    assert expr('local.map["key"][1]', **scope) == "y"
    assert expr('local.map["a b"]', **scope) == 1
    assert expr('["p", "q"][1]') == "q"
    assert expr('{a = {b = "c"}}.a.b') == "c"


def test_function_calls_get_evaluated_arguments():
    assert expr('upper("abc")') == "ABC"
    assert expr('join("-", ["a", upper("b"), "c${1}"])') == "a-B-c1"


# -- operators -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ('"a" == "a"', True),
        ('"a" != "a"', False),
        ("1 == 2", False),
        ("[1, 2] == [1, 2]", True),
        ("{a = 1} != {a = 2}", True),
        ("1 == 2 == false", True),  # left to right
        ("!true", False),
        ("!(1 == 2)", True),
        ("!false == true", True),  # ! binds tighter than ==
        ('true ? "yes" : "no"', "yes"),
        ('false ? "yes" : "no"', "no"),
        ('"a" == "b" ? 1 : 2', 2),  # == binds tighter than ? :
        ("true ? false ? 1 : 2 : 3", 2),
        ("false ? 1 : true ? 2 : 3", 2),
        ("(false ? [] : [1])[0]", 1),
    ],
)
def test_comparison_negation_and_conditionals(source, value):
    assert expr(source) == value


def test_conditional_on_a_comparison_picks_a_list():
    scope = {"env": {"backup": ""}}
    assert expr('env.backup == "" ? [] : [env.backup]', **scope) == []
    scope = {"env": {"backup": "gs://b"}}
    assert expr('env.backup == "" ? [] : [env.backup]', **scope) == ["gs://b"]


# -- errors name the file and the line --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fails_in", "message"),
    [
        ('a = 1\n\nb = "open\n', "parse", r"3: unterminated string"),
        ('a = "\\q"\n', "parse", r"1: invalid escape \\q in string"),
        ("a = 1\nb = @\n", "parse", r"2: unexpected character '@'"),
        ("a = 1\n/* open\n\n", "parse", r"2: unterminated /\* comment"),
        ("a = 1\nb = <<EOT\nnever closed\n", "parse", r"2: heredoc <<EOT is never closed"),
        ("env {\n  a = 1\n", "parse", r"3: block 'env' opened on line 1 is never closed"),
        ('env "${x}" {\n}\n', "parse", r"1: block labels cannot interpolate"),
        ("a = 1\nb =\n", "parse", r"2: attribute has no value"),
        ("env prod = 1\n", "parse", r"1: expected '=' or '\{' after 'env'"),
        (
            "x = [\n  1,\n  nope(2),\n]\n",
            "evaluate",
            r"3: function nope\(\) is not supported here \(supported: join, upper\)",
        ),
        ('x = [\n  "a",\n  "b"][5]\n', "evaluate", r"3: index 5 not found"),
        ("x = {\n  a = 1\n}.b\n", "evaluate", r"3: attribute 'b' not found"),
        ('x = "${[1]}-"\n', "evaluate", r"1: cannot interpolate a list or object into a string"),
        ("x = 1 +\n", "evaluate", r"1: unsupported expression near '\+'"),
        ("x = 1 2\n", "evaluate", r"1: unsupported expression near '2'"),
        ("x = {a 1}\n", "evaluate", r"1: expected '=' or ':' in object"),
        ("x = upper(1 2)\n", "evaluate", r"1: expected ','"),
        ("x = (true ? 1\n  2)\n", "evaluate", r"2: expected ':'"),
        ("x = { for l in y : l => l }\n", "evaluate", r"1: expected '=' or ':' in object"),
    ],
)
def test_errors_name_the_file_and_the_line(text, fails_in, message):
    expected = pytest.raises(hcl.HclError, match=rf"^{WHERE}:{message}")
    if fails_in == "parse":
        with expected:
            parse(text)
    else:
        parse(text)  # the structure is sound: only evaluating the value fails
        with expected:
            evaluate(text)


def test_hcl_errors_are_bad_input():
    from atlas_continuity.runtime.errors import BadInput, ExitCode

    with pytest.raises(BadInput) as caught:
        parse("a = @\n")
    assert caught.value.exit_code == ExitCode.BAD_INPUT


DEEP = 5000


@pytest.mark.parametrize(
    ("text", "fails_in", "message"),
    [
        ("a {\n" * DEEP + "}\n" * DEEP, "parse", "blocks nested more than 64 deep"),
        ("x = " + '"${' * DEEP + "1" + '}"' * DEEP + "\n", "parse", "interpolations nested"),
        ("x = " + "[" * DEEP + "]" * DEEP + "\n", "evaluate", "expression nested more than 64"),
        ("x = " + "(" * DEEP + "1" + ")" * DEEP + "\n", "evaluate", "expression nested"),
        ("x = " + "{a = " * DEEP + "1" + "}" * DEEP + "\n", "evaluate", "expression nested"),
    ],
    ids=["blocks", "interpolations", "lists", "parens", "objects"],
)
def test_nesting_past_the_limit_is_bad_input_not_a_crash(text, fails_in, message):
    with pytest.raises(hcl.HclError, match=message):
        parse(text) if fails_in == "parse" else evaluate(text)


def test_negations_do_not_nest():
    assert expr("!" * DEEP + "true") is True
    assert expr("!" * (DEEP + 1) + "true") is False


def test_nesting_up_to_the_limit_is_read():
    depth = hcl.MAX_DEPTH - 1
    assert expr("[" * depth + "1" + "]" * depth) == eval("[" * depth + "1" + "]" * depth)
    assert parse("a {\n" * depth + "}\n" * depth).child("a") is not None
