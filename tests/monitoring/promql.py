"""PromQL checks for the metric contract: Grafana variables out, a real parser in, metric names out.

The parser is `promql-parser` (PyPI; the Python binding of GreptimeTeam's Rust promql-parser, a port
of Prometheus' own grammar): `promql_parser.parse(text)` returns an AST or raises ValueError with
the parser's message; `promql_parser.walk(ast, visit)` visits every node.

Grafana replaces its variables before a query reaches Prometheus, so a dashboard's raw `expr` is not
PromQL yet. `substitute_grafana_variables` does what Grafana does, with fixed stand-ins:

* interval variables become durations: `$__rate_interval` -> `5m` (Grafana: at least four scrape
  intervals), `$__interval` / `$__auto` -> `1m`, `$__range` -> `1h`; their numeric forms
  (`$__interval_ms`, `$__range_s`, `$__range_ms`) become numbers;
* dashboard variables (`$model`, `${namespace}`, `${model:regex}`, `[[pod]]`) may only stand inside a
  quoted label value (e.g. `model_name=~"$model"`), where they become the text `kiva_var_<name>`;
  anywhere else the expression would only parse for some values, so that is reported as an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import promql_parser

#: Grafana's built-in variables and the value each is replaced with before parsing.
GRAFANA_BUILTINS = {
    "__rate_interval": "5m",
    "__interval": "1m",
    "__auto": "1m",
    "__range": "1h",
    "__interval_ms": "60000",
    "__range_s": "3600",
    "__range_ms": "3600000",
}

_VARIABLE = re.compile(r"\$\{(\w+)(?::[\w-]+)?\}|\$(\w+)|\[\[(\w+)(?::[\w-]+)?\]\]")


class PromQLError(ValueError):
    """An expression that is not PromQL (after Grafana's substitution); the message says why."""


def _quoted_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every string literal ("…", '…', `…`), escapes honoured."""
    spans, index = [], 0
    while index < len(text):
        quote = text[index]
        if quote in "\"'`":
            end = index + 1
            while end < len(text) and text[end] != quote:
                end += 2 if text[end] == "\\" and quote != "`" else 1
            spans.append((index, end))
            index = end + 1
        else:
            index += 1
    return spans


def substitute_grafana_variables(expr: str) -> str:
    """The expression as Grafana would send it (see the module docstring for the stand-ins)."""
    spans = _quoted_spans(expr)

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name in GRAFANA_BUILTINS:
            return GRAFANA_BUILTINS[name]
        if any(start < match.start() < end for start, end in spans):
            return f"kiva_var_{name}"
        raise PromQLError(
            f"Grafana variable {match.group(0)} outside a quoted label value; use it as a label "
            f'value (e.g. model_name=~"${name}") or one of {", ".join("$" + b for b in GRAFANA_BUILTINS)}'
        )

    return _VARIABLE.sub(replace, expr)


def parse(expr: str) -> promql_parser.Expr:
    """Parse with the real parser; PromQLError carries the parser's own message."""
    try:
        return promql_parser.parse(expr)
    except ValueError as error:
        raise PromQLError(f"PromQL does not parse: {error}") from None


@dataclass(frozen=True)
class NameRef:
    """A metric name an expression selects: exact (`foo`, `{__name__="foo"}`) or a regex."""

    name: str
    regex: bool = False


def metric_names(ast: promql_parser.Expr) -> list[NameRef]:
    """Every metric name the expression's vector selectors ask for (matrix and subquery included)."""
    found: list[NameRef] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.extend(_selector_names(node))

    promql_parser.walk(ast, visit)
    return found


def _selector_names(selector: promql_parser.VectorSelector) -> Iterator[NameRef]:
    if selector.name:
        yield NameRef(selector.name)
    groups = [selector.matchers.matchers, *selector.matchers.or_matchers]
    for group in groups:
        for matcher in group:
            if matcher.name != "__name__":
                continue
            if matcher.op == promql_parser.MatchOp.Equal:
                yield NameRef(matcher.value)
            elif matcher.op == promql_parser.MatchOp.Re:
                yield NameRef(matcher.value, regex=True)


#: Grafana's Prometheus variable-query functions (grafana/public/app/plugins/datasource/prometheus,
#: "Query variable": label_names(), label_values(label), label_values(metric, label), metrics(regex),
#: query_result(query)).
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?P<selector>.+?)\s*,\s*\w+\s*\)\s*$", re.DOTALL)
_LABEL_VALUES_ONLY = re.compile(r"^\s*label_values\(\s*\w+\s*\)\s*$")
_QUERY_RESULT = re.compile(r"^\s*query_result\((?P<query>.+)\)\s*$", re.DOTALL)
_NO_METRIC = re.compile(r"^\s*(label_names\(\s*\)|metrics\(.*\))\s*$", re.DOTALL)


def variable_query_promql(query: str) -> str | None:
    """The PromQL inside a Grafana Prometheus variable query, or None when it has none."""
    if _NO_METRIC.match(query) or _LABEL_VALUES_ONLY.match(query):
        return None
    if match := _LABEL_VALUES.match(query):
        return match.group("selector")
    if match := _QUERY_RESULT.match(query):
        return match.group("query")
    raise PromQLError(
        f"not a Grafana Prometheus variable query: {query!r} (expected e.g. "
        "label_values(vllm:num_requests_running, model_name) or query_result(<PromQL>))"
    )
