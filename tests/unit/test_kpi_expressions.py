"""The KPI formula language: parsing, refusals, canonical text, evaluation and rewriting."""

from __future__ import annotations

import builtins
import pickle
import random
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from kpiwatch.kpi.expressions import (
    ALLOWED,
    MAX_DEPTH,
    Expression,
    ExpressionError,
    Ref,
    parse,
)


def lookup_from(values: Mapping[str, float | None]) -> Callable[[Ref], float | None]:
    """A lookup keyed by the canonical text of each reference; unknown references are absent."""
    return lambda ref: values.get(str(ref))


def refuse_lookup(ref: Ref) -> float | None:
    raise AssertionError(f"a constant formula looked up {ref}")


# --- parsing and canonical text --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("engagements / first(reach, impressions)", "engagements / first(reach, impressions)"),
        ("  a+b*c  ", "a + b * c"),
        ("(a + b) * c", "(a + b) * c"),
        ("a + (b * c)", "a + b * c"),
        ("(a * b) / (c * d)", "a * b / (c * d)"),
        ("a - (b - c)", "a - (b - c)"),
        ("(a - b) - c", "a - b - c"),
        ("a / (b / c)", "a / (b / c)"),
        ("a + (b + c)", "a + (b + c)"),
        ("-(a + b)", "-(a + b)"),
        ("-(a * b)", "-(a * b)"),
        ("(-a) * b", "-a * b"),
        ("--a", "--a"),
        ("+a", "a"),
        ("-5 * a", "-5 * a"),
        ("a * -5", "a * -5"),
        ("a - -2.5", "a - -2.5"),
        ("-(5)", "-5"),
        ("--5", "5"),
        ("1_000 / a", "1000 / a"),
        ("0x10", "16"),
        ("1e16", "1e+16"),
        ("0.5 * a", "0.5 * a"),
        ("2 - 2", "2 - 2"),
        ("((((a))))", "a"),
        ("(a +\n b)", "a + b"),
        ("a  # a comment", "a"),
        ("first(a,b,  c)", "first(a, b, c)"),
        ("total(a)", "total(a)"),
        ("abs(-a)", "abs(-a)"),
        ("min(a, 3) + max(b, 4)", "min(a, 3) + max(b, 4)"),
        ("sessions(medium='social')", 'sessions(medium="social")'),
        ('revenue(source="ads", medium="cpc")', 'revenue(medium="cpc", source="ads")'),
        ('clicks(campaign="say \\"hi\\"")', 'clicks(campaign="say \\"hi\\"")'),
        ('clicks(campaign="café")', 'clicks(campaign="café")'),
        ("start(followers)", "start(followers)"),
        ('delta(sessions(medium="social"))', 'delta(sessions(medium="social"))'),
        ("delta(followers) / start(followers)", "delta(followers) / start(followers)"),
    ],
)
def test_canonical_text_is_minimal_and_round_trips(text: str, canonical: str) -> None:
    expression = parse(text)
    assert str(expression) == canonical
    assert expression.text == canonical
    reparsed = parse(canonical)
    assert reparsed == expression
    assert str(reparsed) == canonical


def test_references_carry_filters_and_modes() -> None:
    expression = parse(
        'sessions(source="ig", medium="social") / sessions + delta(followers)'
        ' + start(revenue(medium="cpc"))'
    )
    assert expression.refs() == {
        Ref("sessions", (("medium", "social"), ("source", "ig"))),
        Ref("sessions"),
        Ref("followers", mode="delta"),
        Ref("revenue", (("medium", "cpc"),), mode="start"),
    }
    assert expression.names() == {"sessions", "followers", "revenue"}
    assert not expression.is_constant()


def test_ref_text_and_order() -> None:
    assert str(Ref("reach")) == "reach"
    assert str(Ref("sessions", (("medium", "social"),))) == 'sessions(medium="social")'
    assert str(Ref("followers", mode="delta")) == "delta(followers)"
    assert (
        str(Ref("sessions", (("a", "1"), ("b", "2")), "start")) == 'start(sessions(a="1", b="2"))'
    )
    assert sorted([Ref("b"), Ref("a", (("x", "y"),)), Ref("a")]) == [
        Ref("a"),
        Ref("a", (("x", "y"),)),
        Ref("b"),
    ]
    assert hash(Ref("a", (("x", "y"),))) == hash(Ref("a", (("x", "y"),)))
    assert Ref("a") != Ref("a", mode="start")


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column", "fragments"),
    [
        ("a ** 2", 3, ["'**' at column 3 is not allowed", "x * x", ALLOWED]),
        ("a // 2", 3, ["'//' at column 3", "use / for division"]),
        ("a % 2", 3, ["'%' at column 3", "use / for division"]),
        ("(a) ** 2", 5, ["'**' at column 5"]),
        ("a @ b", 3, ["'@' at column 3"]),
        ("a | b", 3, ["'|' at column 3"]),
        ("a < b", 3, ["'<' at column 3", "alert conditions", ALLOWED]),
        ("a == b", 3, ["'==' at column 3"]),
        ("a is not b", 3, ["'is not' at column 3"]),
        ("a and b", 3, ["'and' at column 3"]),
        ("a or b", 3, ["'or' at column 3"]),
        ("not a", 1, ["'not' at column 1"]),
        ("~a", 1, ["'~' at column 1"]),
        ("a if b else c", 3, ["conditional expression", "column 3"]),
        ("reach.value", 6, ["attribute access '.value' at column 6"]),
        ("().__class__", 3, ["attribute access '.__class__' at column 3"]),
        ("a[0]", 2, ["subscript", "column 2"]),
        ("lambda: 1", 1, ["a lambda at column 1"]),
        ('f"{a}"', 1, ["an f-string at column 1"]),
        ("'reach'", 1, ["a string at column 1", "only allowed as a filter value"]),
        ('a + "x"', 5, ["a string at column 5"]),
        ("b'x'", 1, ["a bytes string at column 1"]),
        ("[a]", 1, ["a list at column 1"]),
        ("(a, b)", 1, ["a tuple at column 1"]),
        ("{a}", 1, ["a set at column 1"]),
        ("{a: b}", 1, ["a dict at column 1"]),
        ("[x for x in a]", 1, ["a comprehension at column 1"]),
        ("(a := 1)", 2, ["an assignment (:=) at column 2"]),
        ("await a", 1, ["await at column 1"]),
        ("...", 1, ["'...' at column 1"]),
        ("True", 1, ["'True' at column 1"]),
        ("None", 1, ["'None' at column 1"]),
        ("2j", 1, ["a complex number at column 1"]),
        ("1e999", 1, ["too large"]),
        ("a * 1" + "0" * 400, 5, ["the number at column 5 is too large"]),
        ("frist(a, b)", 1, ["unknown function 'frist' at column 1", "did you mean 'first'?"]),
        ("a + totl(b)", 5, ["unknown function 'totl' at column 5", "did you mean 'total'?"]),
        ("foo(a)", 1, ["unknown function 'foo'", "abs, delta, first, max, min, start, total"]),
        ('sessions("social")', 1, ["unknown function 'sessions'", 'sessions(label="value")']),
        ("sessions()", 1, ["'sessions()' at column 1 has no filters", "write sessions without"]),
        ("(a + b)(c)", 8, ["the call at column 8 is not allowed"]),
        ("first + a", 1, ["'first' at column 1 is a function", "first(a, b)"]),
        ("a / delta", 5, ["'delta' at column 5 is a function", "delta(followers)"]),
        ("abs(a, b)", 1, ["abs() at column 1 takes exactly one argument, got 2"]),
        ("abs()", 1, ["abs() at column 1 takes exactly one argument, got 0"]),
        ("min()", 1, ["min() at column 1 needs at least one argument"]),
        ("first()", 1, ["first() at column 1 needs at least one argument"]),
        ("max(*a)", 5, ["'*' unpacking at column 5"]),
        ('first(sessions, medium="x")', 1, ["first() at column 1 takes no keyword arguments"]),
        ("start(a, b)", 1, ["start() at column 1 takes exactly one metric reference"]),
        ("delta()", 1, ["delta() at column 1 takes exactly one metric reference"]),
        ("start(a + b)", 7, ["start() takes a metric reference", "column 7 is 'a + b'"]),
        ("start(delta(a))", 7, ["start() takes a metric reference", "'delta(a)'"]),
        ("delta(2)", 7, ["delta() takes a metric reference"]),
        ("start(first)", 7, ["'first' at column 7 is a function"]),
        ("Reach", 1, ["'Reach' at column 1 has upper-case letters", "write 'reach'"]),
        ("a + Sessions(medium='x')", 5, ["'Sessions' at column 5 has upper-case letters"]),
        ("sessions(Medium='x')", 10, ["'Medium' at column 10 has upper-case letters"]),
        ("réach", 1, ["'réach' at column 1 is not a valid name"]),
        ("\ufb01rst(a)", 1, ["not a valid name"]),  # the 'fi' ligature, NFKC-folded by Python
        ("sessions(medium=1)", 17, ["filter value for 'medium' at column 17 must be a quoted"]),
        ("sessions(medium=src)", 17, ["must be a quoted string"]),
        ('sessions(medium=f"x")', 17, ["must be a quoted string"]),
        ('s(medium="a", medium="b")', 15, ["filter 'medium' at column 15 is given twice"]),
        ("sessions(**labels)", 10, ["'**' unpacking at column 10"]),
        ("a +", 4, ["syntax error at column 4", ALLOWED]),
        ("(a + b", 1, ["syntax error at column 1", "never closed"]),
        ("a b", 3, ["syntax error at column 3"]),
        ("é + )", 5, ["syntax error at column 5", "unmatched ')'"]),
        ("   a ** 2", 6, ["'**' at column 6"]),
        ("(a +\n b ** 2)", 9, ["'**' at column 9"]),
        ('sessions(medium="é") ** 2', 22, ["'**' at column 22"]),
        ("a\x00", 2, ["control character", "column 2"]),
        ("", None, ["the formula is empty"]),
        ("  \n ", None, ["the formula is empty"]),
        ("a" * 1001, None, ["1001 characters long", "limit of 1000"]),
    ],
)
def test_refused_constructs_name_the_place_and_the_fix(
    text: str, column: int | None, fragments: list[str]
) -> None:
    with pytest.raises(ExpressionError) as info:
        parse(text)
    error = info.value
    assert isinstance(error, ValueError)
    assert error.column == column
    assert error.text == text
    for fragment in fragments:
        assert fragment in str(error)


def test_non_text_is_refused() -> None:
    with pytest.raises(ExpressionError, match="must be text, got int"):
        parse(5)  # type: ignore[arg-type]


def test_nesting_limit() -> None:
    assert parse("-" * MAX_DEPTH + "a").evaluate(lookup_from({"a": 2.0})) == 2.0
    with pytest.raises(ExpressionError) as info:
        parse("-" * (MAX_DEPTH + 1) + "a")
    assert info.value.column == MAX_DEPTH + 1
    assert "nests deeper than 50 levels" in str(info.value)
    # A chain of sums nests to the left: 51 terms are 50 levels, 52 terms are too many.
    assert parse(" + ".join(["a"] * 51)).evaluate(lookup_from({"a": 1.0})) == 51.0
    with pytest.raises(ExpressionError, match=r"use total\(a, b, \.\.\.\)"):
        parse(" + ".join(["a"] * 52))
    # Parentheses alone do not nest operations.
    assert str(parse("(" * 150 + "a" + ")" * 150)) == "a"


def test_deep_text_within_the_length_limit_is_refused_cleanly() -> None:
    deep_texts = [
        "-" * 999 + "a",
        "(" * 499 + "a" + ")" * 499,
        "abs(" * 199 + "a" + ")" * 199,
        "a" + "(b)" * 333,
    ]
    for text in deep_texts:
        with pytest.raises(ExpressionError):
            parse(text)


@pytest.mark.parametrize(
    "text",
    [
        '__import__("os").system("echo hi")',
        "().__class__",
        "().__class__.__bases__[0].__subclasses__()",
        'eval("1")',
        'exec("x = 1")',
        "open('/etc/passwd')",
        "[c for c in ().__class__.__base__.__subclasses__()]",
        "(lambda: 1)()",
        'getattr(a, "b")',
    ],
)
def test_malicious_text_is_refused_without_running_python(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the formula reached eval/exec")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    with pytest.raises(ExpressionError):
        parse(text)


def test_malicious_text_has_no_side_effect(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    with pytest.raises(ExpressionError, match=r"attribute access '\.touch'"):
        parse(f'__import__("pathlib").Path("{target}").touch()')
    assert not target.exists()


def test_dunder_names_are_only_references() -> None:
    expression = parse("__class__ + __builtins__")
    assert expression.names() == {"__class__", "__builtins__"}
    assert expression.evaluate(lookup_from({"__class__": 1.0, "__builtins__": 2.0})) == 3.0


# --- evaluation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("engagements / first(reach, impressions)", {"engagements": 50, "reach": 200}, 0.25),
        (
            "engagements / first(reach, impressions)",
            {"engagements": 50, "impressions": 1000},
            0.05,
        ),
        ("engagements / first(reach, impressions)", {"engagements": 50}, None),
        ("engagements / first(reach, impressions)", {"reach": 200}, None),
        ("2 + 3 * 4", {}, 14.0),
        ("a - b - c", {"a": 10, "b": 3, "c": 2}, 5.0),
        ("a - (b - c)", {"a": 10, "b": 3, "c": 2}, 9.0),
        ("a / b / c", {"a": 12, "b": 3, "c": 2}, 2.0),
        ("a / (b / c)", {"a": 12, "b": 3, "c": 2}, 8.0),
        ("-a * b + c", {"a": 2, "b": 3, "c": 10}, 4.0),
        ("-(a - b)", {"a": 2, "b": 3}, 1.0),
        ("a + b", {"a": 1}, None),
        ("a * b", {"b": 1}, None),
        ("-a", {}, None),
        ("a / b", {"a": 1, "b": 4}, 0.25),
        ("a / b", {"a": 1, "b": 0}, None),
        ("a / b", {"a": 0, "b": 0}, None),
        ("a / (b - c)", {"a": 1, "b": 5, "c": 5}, None),
        ("a / 0", {"a": 1}, None),
        ("1 / 0 + a", {"a": 1}, None),
        ("first(a, b, c)", {"b": 2, "c": 3}, 2.0),
        ("first(a, b, c)", {"c": 3}, 3.0),
        ("first(a, b, c)", {}, None),
        ("first(a)", {"a": 4}, 4.0),
        ("first(a, 0)", {}, 0.0),
        ("total(a, b, c)", {"a": 1, "c": 3}, 4.0),
        ("total(a, b, c)", {"b": 2}, 2.0),
        ("total(a, b, c)", {}, None),
        ("total(a * b, c)", {"a": 2, "c": 5}, 5.0),
        ("min(a, b)", {"a": 3, "b": 5}, 3.0),
        ("min(a, b)", {"a": 3}, None),
        ("max(a, b, 4)", {"a": 3, "b": 5}, 5.0),
        ("max(a, b, 4)", {"a": 3, "b": 1}, 4.0),
        ("max(a, b)", {"b": 5}, None),
        ("min(a)", {"a": -2}, -2.0),
        ("abs(a - b)", {"a": 3, "b": 10}, 7.0),
        ("abs(a)", {}, None),
        (
            'sessions(medium="social") / sessions',
            {'sessions(medium="social")': 30, "sessions": 120},
            0.25,
        ),
        (
            "delta(followers) / start(followers)",
            {"delta(followers)": 50, "start(followers)": 1000},
            0.05,
        ),
        ("delta(followers) / start(followers)", {"followers": 1050}, None),
        # Overflow, NaN and infinity are absent, also when a later step would hide them.
        ("a * b", {"a": 1e200, "b": 1e200}, None),
        ("a / b", {"a": 1e308, "b": 1e-308}, None),
        ("a + b", {"a": 1.7e308, "b": 1.7e308}, None),
        ("1 / (a * a)", {"a": 1e200}, None),
        ("a * a - a * a", {"a": 1e200}, None),
        ("min(a * a, 5)", {"a": 1e200}, None),
        ("max(a * a, 5)", {"a": 1e200}, None),
        ("min(a, 5)", {"a": float("nan")}, None),
        ("min(5, a)", {"a": float("nan")}, None),
        ("first(a, b)", {"a": float("inf"), "b": 1}, None),
        ("a", {"a": float("nan")}, None),
        ("a / b", {"a": 1, "b": float("inf")}, None),
        ("a / b", {"a": 10**400, "b": 1}, None),
        ("a", {"a": 10**400}, None),
        ("1e308 * 10", {}, None),
    ],
)
def test_evaluate(text: str, values: dict[str, float | None], expected: float | None) -> None:
    assert parse(text).evaluate(lookup_from(values)) == expected


def test_evaluate_returns_floats_for_integer_inputs() -> None:
    result = parse("a + b").evaluate(lookup_from({"a": 2, "b": 3}))
    assert result == 5.0
    assert type(result) is float


def test_lookup_receives_each_reference_as_a_ref() -> None:
    seen: list[Ref] = []

    def lookup(ref: Ref) -> float | None:
        seen.append(ref)
        return 4.0

    expression = parse('delta(sessions(medium="social")) / reach')
    assert expression.evaluate(lookup) == 1.0
    assert seen == [Ref("sessions", (("medium", "social"),), "delta"), Ref("reach")]


def test_first_stops_at_the_first_present_operand() -> None:
    seen: list[str] = []

    def lookup(ref: Ref) -> float | None:
        seen.append(ref.name)
        return {"b": 2.0}.get(ref.name)

    assert parse("first(a, b, c)").evaluate(lookup) == 2.0
    assert seen == ["a", "b"]


def test_constant_formulas() -> None:
    expression = parse("2 * (3 + 0.5)")
    assert expression.is_constant()
    assert expression.refs() == frozenset()
    assert expression.names() == frozenset()
    assert expression.evaluate(refuse_lookup) == 7.0
    assert parse("first(1, 2)").is_constant()
    assert not parse("2 * a").is_constant()


def test_errors_from_the_lookup_propagate() -> None:
    def broken(ref: Ref) -> float | None:
        raise KeyError(ref.name)

    with pytest.raises(KeyError, match="reach"):
        parse("reach + 1").evaluate(broken)


# --- split_ratio, substitute, zero_divisors ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "numerator", "denominator"),
    [
        ("a / b", "a", "b"),
        ("(a + b) / (c - d)", "a + b", "c - d"),
        ("a / b / c", "a / b", "c"),
        ("engagements / first(reach, impressions)", "engagements", "first(reach, impressions)"),
        ("a / b * 100", "a / b * 100", None),
        ("a", "a", None),
        ("-(a / b)", "-(a / b)", None),
    ],
)
def test_split_ratio(text: str, numerator: str, denominator: str | None) -> None:
    top, bottom = parse(text).split_ratio()
    assert isinstance(top, Expression)
    assert str(top) == numerator
    assert (None if bottom is None else str(bottom)) == denominator


def test_split_ratio_parts_evaluate() -> None:
    top, bottom = parse("(a + b) / c").split_ratio()
    values = lookup_from({"a": 1, "b": 2, "c": 4})
    assert bottom is not None
    assert (top.evaluate(values), bottom.evaluate(values)) == (3.0, 4.0)
    assert top.names() == {"a", "b"}


@pytest.mark.parametrize(
    ("text", "replacements", "expected"),
    [
        ("engagements / reach", {"engagements": "likes + comments"}, "(likes + comments) / reach"),
        ("x / y", {"y": "a + b"}, "x / (a + b)"),
        ("x / y", {"y": "a * b"}, "x / (a * b)"),
        ("y / x", {"y": "a * b"}, "a * b / x"),
        ("x - y", {"y": "a - b"}, "x - (a - b)"),
        ("y - x", {"y": "a - b"}, "a - b - x"),
        ("-y", {"y": "a * b"}, "-(a * b)"),
        ("-y", {"y": "-5"}, "5"),
        ("y * 2", {"y": "-a"}, "-a * 2"),
        ("first(y, z)", {"y": "a / b", "z": "c"}, "first(a / b, c)"),
        ("y + y", {"y": "a + b"}, "a + b + (a + b)"),
        ("y + other", {"y": "z"}, "z + other"),
        ("y", {"y": "z + y"}, "z + y"),  # one pass: names inside replacements stay
        ('y + y(medium="x")', {"z": "1"}, 'y + y(medium="x")'),
        ("x + 1", {}, "x + 1"),
    ],
)
def test_substitute(text: str, replacements: dict[str, str], expected: str) -> None:
    result = parse(text).substitute({k: parse(v) for k, v in replacements.items()})
    assert str(result) == expected
    assert parse(str(result)) == result


def test_substituted_formula_evaluates_like_the_written_out_formula() -> None:
    values = lookup_from({"likes": 30, "comments": 10, "reach": 400, "x": 8})
    combined = parse("x - engagements / reach").substitute(
        {"engagements": parse("likes + comments")}
    )
    assert combined.evaluate(values) == 8 - (30 + 10) / 400
    assert combined.names() == {"x", "likes", "comments", "reach"}


@pytest.mark.parametrize(
    "text",
    ['engagements(medium="social") / reach', "delta(engagements)", "start(engagements) + 1"],
)
def test_substitute_refuses_filters_and_modes_on_formulas(text: str) -> None:
    with pytest.raises(ExpressionError) as info:
        parse(text).substitute({"engagements": parse("likes + comments")})
    message = str(info.value)
    assert "'engagements' is a formula (likes + comments)" in message
    assert "cannot take filters or start()/delta()" in message
    assert info.value.text == parse(text).text


def test_substitute_checks_the_nesting_limit() -> None:
    deep = parse("-" * 30 + "y")
    with pytest.raises(ExpressionError, match="nests deeper than 50 levels"):
        deep.substitute({"y": parse("-" * 30 + "a")})


def test_substitute_wants_expressions() -> None:
    with pytest.raises(TypeError, match="must be an Expression, not str"):
        parse("a").substitute({"a": "b + c"})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x / 0", ["0"]),
        ("x / (2 - 2)", ["2 - 2"]),
        ("x / 0.0", ["0.0"]),
        ("x / -0.0", ["-0.0"]),
        ("x / first(0, 1)", ["first(0, 1)"]),
        ("a / 0 + b / (1 - 1) + c / 2", ["0", "1 - 1"]),
        ("(1 / 0) / 1", ["0"]),
        ("x / y", []),
        ("x / (0 * y)", []),
        ("x / 2", []),
        ("x * 0", []),
    ],
)
def test_zero_divisors(text: str, expected: list[str]) -> None:
    assert parse(text).zero_divisors() == expected


# --- the Expression object ---------------------------------------------------------------------


def test_expressions_are_immutable_values() -> None:
    expression = parse("a + b")
    assert expression == parse("a+b")
    assert expression != parse("b + a")
    assert hash(expression) == hash(parse("(a) + (b)"))
    assert len({parse("a / b"), parse("a/b"), parse("a / c")}) == 2
    assert repr(expression) == "Expression('a + b')"
    with pytest.raises(AttributeError):
        expression.text = "c"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del expression.text
    copy = pickle.loads(pickle.dumps(expression))
    assert copy == expression
    assert copy.evaluate(lookup_from({"a": 1, "b": 2})) == 3.0


# --- randomised round trips ------------------------------------------------------------------


def random_formula(rng: random.Random, depth: int) -> tuple[str, float | None]:
    """A fully parenthesised formula over a=3, b=-2, c=0.5, z=0 and its value, computed here."""
    values = {"a": 3.0, "b": -2.0, "c": 0.5, "z": 0.0}
    if depth == 0 or rng.random() < 0.2:
        if rng.random() < 0.5:
            name = rng.choice(sorted(values))
            return name, values[name]
        number = rng.choice([1, 2, 7, 0.25, 10])
        return str(number), float(number)
    if rng.random() < 0.15:
        text, value = random_formula(rng, depth - 1)
        return f"-({text})", None if value is None else -value
    operator = rng.choice("+-*/")
    left_text, left = random_formula(rng, depth - 1)
    right_text, right = random_formula(rng, depth - 1)
    text = f"({left_text}) {operator} ({right_text})"
    if left is None or right is None or (operator == "/" and right == 0):
        return text, None
    if operator == "+":
        return text, left + right
    if operator == "-":
        return text, left - right
    if operator == "*":
        return text, left * right
    return text, left / right


def test_random_formulas_evaluate_and_round_trip() -> None:
    rng = random.Random(20240611)
    values = lookup_from({"a": 3.0, "b": -2.0, "c": 0.5, "z": 0.0})
    for _ in range(500):
        text, expected = random_formula(rng, 5)
        expression = parse(text)
        assert expression.evaluate(values) == expected, text
        canonical = str(expression)
        assert len(canonical) <= len(text)
        assert parse(canonical) == expression, text
        assert parse(canonical).evaluate(values) == expected, canonical
