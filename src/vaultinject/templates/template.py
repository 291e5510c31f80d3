"""The public entry points: parse a template once, render it with a secret source."""

from __future__ import annotations

from .budget import MAX_OUTPUT, Budget
from .errors import MissingKeyError, TemplateExecError, TemplateSyntaxError, locate
from .exec import MISSING_KEY_MODES, ExecFailure, Executor
from .functions import ALL_FUNCS, REFUSED_FUNCS, UNSUPPORTED_FUNCS, RenderContext
from .gofmt import go_quote
from .parser import ParseError, Tree, parse_trees
from .redact import MIN_MASKED_ANYWHERE, secret_texts

TYPE_CHECKING = False  # typing is not imported at run time: importing this package must stay cheap.
if TYPE_CHECKING:
    from .source import SecretSource

#: consul-template names the top-level template "" (template.New("")).
_MAIN = ""
DEFAULT_MAX_OUTPUT = MAX_OUTPUT
MAX_TEMPLATE_DEPTH = 64

_REFUSED_MESSAGES: dict[str, str] = {
    **{name: f"function {go_quote(name)} is refused: {why}" for name, why in REFUSED_FUNCS.items()},
    **{name: f"function {go_quote(name)} is not supported by vaultinject" for name in UNSUPPORTED_FUNCS},
}


class _SourcelessContext:
    """Stands in when a render is given no source: secret lookups fail cleanly."""

    def secret(self, *_: object) -> None:
        raise _no_source()

    def secrets(self, *_: object) -> list[str]:
        raise _no_source()

    def pki_cert(self, *_: object) -> None:
        raise _no_source()

    def env(self, *_: object) -> str | None:
        raise _no_source()


def _no_source() -> Exception:
    from .funcdef import FuncError

    return FuncError("no secret source given to render")


class Template:
    """A parsed template: an immutable set of named parse trees."""

    __slots__ = ("_trees", "left_delim", "name", "right_delim", "text")

    def __init__(
        self, name: str, text: str, left_delim: str, right_delim: str, trees: dict[str, Tree]
    ) -> None:
        self.name = name
        self.text = text
        self.left_delim = left_delim
        self.right_delim = right_delim
        self._trees = trees

    @property
    def defined_templates(self) -> frozenset[str]:
        """Names of the templates defined with define or block (the main one is "")."""
        return frozenset(self._trees)

    def render(
        self,
        source: SecretSource | None = None,
        error_on_missing_key: bool = False,
        *,
        data: object = None,
        missing_key: str | None = None,
        max_output: int = DEFAULT_MAX_OUTPUT,
        budget: Budget | None = None,
    ) -> str:
        """Execute the template and return its output.

        ``data`` is the initial dot (consul-template always passes nil). ``missing_key`` is
        Go's option (``invalid``, ``zero`` or ``error``) and overrides ``error_on_missing_key``
        (``zero`` when false, ``error`` when true, as consul-template sets it). Raises
        :class:`TemplateExecError` (:class:`MissingKeyError` for a missing key), also when the
        render spends its :class:`Budget` (steps, calls, bytes; the defaults unless ``budget``
        is given); exceptions raised by ``source`` propagate unchanged. Error messages never
        quote data the source returned: such values read ``[redacted]``.
        """
        mode = missing_key or ("error" if error_on_missing_key else "zero")
        if mode not in MISSING_KEY_MODES:
            raise ValueError(f"missing_key must be one of {MISSING_KEY_MODES}")
        budget = budget if budget is not None else Budget(max_output=max_output)
        context = RenderContext(source if source is not None else _SourcelessContext(), budget)
        executor = Executor(
            trees=self._trees,
            funcs=ALL_FUNCS,
            missing_key=mode,
            max_output=max_output,
            max_depth=MAX_TEMPLATE_DEPTH,
            budget=budget,
            context=context,
        )
        try:
            return executor.execute(_MAIN, data)
        except ExecFailure as failure:
            raise self._exec_error(_redacted(failure, context.read, self.text)) from None
        except RecursionError:
            raise self._located_error("template nesting too deep", executor) from None
        except MemoryError:
            raise self._located_error("template evaluation ran out of memory", executor) from None

    def _display(self, tree_name: str) -> str:
        return self.name if tree_name == _MAIN else tree_name

    def _exec_error(self, failure: ExecFailure) -> TemplateExecError:
        cls = MissingKeyError if failure.missing_key else TemplateExecError
        if failure.node is None:
            return cls(failure.reason, name=self.name, line=1, column=0, reason=failure.reason)
        line, column = locate(self.text, failure.node.pos)
        message = (
            f"executing {go_quote(self._display(failure.tree_name))} at <{failure.node}>: {failure.reason}"
        )
        return cls(message, name=self.name, line=line, column=column, reason=failure.reason)

    def _located_error(self, reason: str, executor: Executor) -> TemplateExecError:
        pos = executor.node.pos if executor.node is not None else 0
        line, column = locate(self.text, pos)
        return TemplateExecError(reason, name=self.name, line=line, column=column, reason=reason)


def _redacted(failure: ExecFailure, read: list[object], text: str) -> ExecFailure:
    """The failure with every value that may hold secret data replaced by ``[redacted]``.

    Once the render has read secrets, a value the message quotes is shown only when it is
    template text holding no secret value; every secret value left anywhere in the message
    (raw or quoted, as consul-template's redaction) is replaced too.
    """
    if not read:
        return failure
    leaves = secret_texts(read)
    reason = failure.reason
    for value in failure.quoted:
        if value not in text or any(leaf in value for leaf in leaves):
            reason = _mask(reason, value)
    for leaf in sorted(leaves, key=len, reverse=True):
        if len(leaf) >= MIN_MASKED_ANYWHERE and leaf not in text:
            reason = _mask(reason, leaf)
    failure.reason = reason
    return failure


def _mask(message: str, value: str) -> str:
    if not value:
        return message
    message = message.replace(go_quote(value), '"[redacted]"')
    inner = go_quote(value)[1:-1]
    if inner != value:
        message = message.replace(inner, "[redacted]")
    return message.replace(value, "[redacted]")


_CACHE_SIZE = 256
_cache: dict[tuple[str, str, str, str, bool], Template] = {}


def parse(
    text: str,
    name: str = "",
    left_delim: str = "{{",
    right_delim: str = "}}",
    *,
    allow_else_with: bool = True,
) -> Template:
    """Parse template text; raises :class:`TemplateSyntaxError` naming ``name``, line and column.

    Empty delimiters mean the defaults, as in Go. ``allow_else_with`` accepts Go 1.23's
    ``{{else with}}`` (Vault Agent's current Go has it; Go 1.19 does not). Parsed templates
    are immutable, so the last few hundred are kept: the webhook sees the same annotations
    for every replica of a workload.
    """
    key = (text, name, left_delim, right_delim, allow_else_with)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    template = _parse(text, name, left_delim, right_delim, allow_else_with)
    if len(_cache) >= _CACHE_SIZE:
        del _cache[next(iter(_cache))]
    _cache[key] = template
    return template


def _parse(text: str, name: str, left_delim: str, right_delim: str, allow_else_with: bool) -> Template:
    try:
        trees = parse_trees(
            _MAIN,
            text,
            left_delim or "{{",
            right_delim or "}}",
            functions=ALL_FUNCS,
            allow_else_with=allow_else_with,
            parse_name=name,
            refused=_REFUSED_MESSAGES,
        )
    except ParseError as exc:
        _, column = locate(text, min(exc.pos, len(text)))
        raise TemplateSyntaxError(exc.message, name=name, line=exc.line, column=column) from None
    except RecursionError:
        raise TemplateSyntaxError("template nesting too deep", name=name, line=1, column=0) from None
    return Template(name, text, left_delim or "{{", right_delim or "}}", trees)
