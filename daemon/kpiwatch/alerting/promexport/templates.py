"""kpiwatch alert templates (Jinja) converted to Prometheus's template language (Go)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateError, nodes

from kpiwatch.alerting.promexport.goformat import go_humanize, go_humanize_percentage, go_value
from kpiwatch.alerting.templates import ENVIRONMENT


class Unconvertible(ValueError):
    """A kpiwatch template Prometheus's template language cannot express."""


@dataclass(frozen=True)
class _Part:
    """A literal text, the alert's value in a format, or a label of the alert's series."""

    text: str = ""
    value_format: str | None = None  # raw, number, percent, signed_percent
    label: str | None = None


_VALUE_FORMATS = {
    "raw": "{{ $value }}",
    "number": "{{ $value | humanize }}",
    "percent": "{{ $value | humanizePercentage }}",
    "signed_percent": "{{ if ge $value 0.0 }}+{{ end }}{{ $value | humanizePercentage }}",
}


@dataclass(frozen=True)
class GoTemplate:
    """A converted template: its Prometheus text, and how to render it for the tests."""

    parts: tuple[_Part, ...]

    @classmethod
    def literal(cls, text: str) -> GoTemplate:
        """A template that is the plain ``text``."""
        return cls((_Part(text),))

    @property
    def text(self) -> str:
        out = []
        for part in self.parts:
            if part.value_format is not None:
                out.append(_VALUE_FORMATS[part.value_format])
            elif part.label is not None:
                out.append(f"{{{{ $labels.{part.label} }}}}")
            else:
                out.append(part.text.replace("{{", '{{ "{{" }}'))
        return "".join(out)

    def render(self, labels: Mapping[str, str], value: float) -> str:
        """What Prometheus renders for an alert of series ``labels`` and ``value``."""
        out = []
        for part in self.parts:
            if part.value_format == "raw":
                out.append(go_value(value))
            elif part.value_format == "number":
                out.append(go_humanize(value))
            elif part.value_format == "percent":
                out.append(go_humanize_percentage(value))
            elif part.value_format == "signed_percent":
                out.append(("+" if value >= 0 else "") + go_humanize_percentage(value))
            elif part.label is not None:
                out.append(labels.get(part.label, ""))
            else:
                out.append(part.text)
        return "".join(out)

    @property
    def labels_used(self) -> set[str]:
        return {p.label for p in self.parts if p.label is not None}


@dataclass(frozen=True)
class TemplateNames:
    """What the names of a rule's templates mean in the exported alert.

    ``value_name``: the template name that is the alert's ``$value`` (``value`` or ``change``);
    ``constants``: names rendered once by kpiwatch's template engine; ``own_labels``: labels of
    ``labels.X`` that are constants (kpiwatch's own alert labels).
    """

    value_name: str | None
    constants: Mapping[str, Any]
    own_labels: Mapping[str, str]
    series_labels: frozenset[str] = frozenset({"account", "platform"})


def convert_template(text: str, names: TemplateNames) -> GoTemplate:
    """``text`` (a kpiwatch template) in Prometheus's template language.

    Raises :class:`Unconvertible` naming the part that has no equivalent.
    """
    try:
        tree = ENVIRONMENT.parse(text)
    except TemplateError as exc:
        raise Unconvertible(f"the template does not parse: {exc}") from None
    parts: list[_Part] = []
    for node in tree.body:
        if not isinstance(node, nodes.Output):
            raise Unconvertible(
                f"{{% {type(node).__name__.lower()} %}} blocks have no Prometheus equivalent"
            )
        for child in node.nodes:
            parts.append(_convert_node(child, names))
    return GoTemplate(tuple(_merge_text(parts)))


def _merge_text(parts: list[_Part]) -> list[_Part]:
    out: list[_Part] = []
    for part in parts:
        plain = part.value_format is None and part.label is None
        if plain and out and out[-1].value_format is None and out[-1].label is None:
            out[-1] = _Part(out[-1].text + part.text)
        elif not plain or part.text:
            out.append(part)
    return out


def _convert_node(node: nodes.Node, names: TemplateNames) -> _Part:
    if isinstance(node, nodes.TemplateData):
        return _Part(node.data)
    if _is_constant(node, names):
        return _Part(_render_constant(node, names))
    if isinstance(node, nodes.Name) and node.name == names.value_name:
        return _Part(value_format="raw")
    label = _label_of(node, names)
    if label is not None:
        return _Part(label=label)
    if isinstance(node, nodes.Filter) and node.name in _VALUE_FORMATS:
        inner = node.node
        if isinstance(inner, nodes.Name) and inner.name == names.value_name:
            return _Part(value_format=node.name)
    raise Unconvertible(_why_not(node, names))


def _why_not(node: nodes.Node, names: TemplateNames) -> str:
    inner = node.node if isinstance(node, nodes.Filter) and node.node is not None else node
    name = inner.name if isinstance(inner, nodes.Name) else None
    shown = f"{{{{ {_describe(node)} }}}}"
    if name == "value" and names.value_name == "change":
        return f"{shown}: the alert's value is the relative change, use {{{{ change }}}}"
    if name == "value":
        return f"{shown}: kpiwatch's value is the age of the data, the alert's value is 1"
    if name == "change":
        return f"{shown}: a threshold alert's value is the KPI value, not its change"
    if name == "previous":
        return f"{shown}: the previous value is not the alert's value"
    if name in names.series_labels or _label_of(inner, names) is not None:
        return f"{shown}: only the alert's value takes filters in Prometheus templates"
    return f"{shown} has no Prometheus equivalent"


def _label_of(node: nodes.Node, names: TemplateNames) -> str | None:
    if isinstance(node, nodes.Name) and node.name in names.series_labels:
        return node.name
    key = None
    if isinstance(node, nodes.Getattr) and _is_name(node.node, "labels"):
        key = node.attr
    elif (
        isinstance(node, nodes.Getitem)
        and _is_name(node.node, "labels")
        and isinstance(node.arg, nodes.Const)
        and isinstance(node.arg.value, str)
    ):
        key = node.arg.value
    if key is None or not key.isidentifier():
        return None
    return key


def _is_name(node: nodes.Node, name: str) -> bool:
    return isinstance(node, nodes.Name) and node.name == name


def _is_constant(node: nodes.Node, names: TemplateNames) -> bool:
    if isinstance(node, nodes.Const):
        return True
    if isinstance(node, nodes.Name):
        return node.name in names.constants
    if isinstance(node, nodes.Getattr | nodes.Getitem) and _is_name(node.node, "labels"):
        key = _label_of(node, names)
        return key is not None and key in names.own_labels
    if isinstance(node, nodes.Filter) and node.node is not None:
        return (
            not node.dyn_args
            and not node.dyn_kwargs
            and all(isinstance(a, nodes.Const) for a in node.args)
            and all(isinstance(k.value, nodes.Const) for k in node.kwargs)
            and _is_constant(node.node, names)
        )
    return False


def _render_constant(node: nodes.Node, names: TemplateNames) -> str:
    tree = nodes.Template([nodes.Output([node], lineno=1)], lineno=1)
    tree.set_environment(ENVIRONMENT)
    context = {**names.constants, "labels": dict(names.own_labels)}
    try:
        return ENVIRONMENT.from_string(tree).render(context)
    except Exception as exc:  # a filter refusing its constant: kpiwatch renders the source
        raise Unconvertible(f"{{{{ {_describe(node)} }}}} does not render: {exc}") from None


def _describe(node: nodes.Node) -> str:
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Filter) and node.node is not None:
        return f"{_describe(node.node)} | {node.name}"
    if isinstance(node, nodes.Getattr):
        return f"{_describe(node.node)}.{node.attr}"
    if isinstance(node, nodes.Getitem):
        return f"{_describe(node.node)}[...]"
    return type(node).__name__.lower()
