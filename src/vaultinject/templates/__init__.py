"""A Go text/template engine compatible with consul-template as Vault Agent runs it.

Parse once (admission time or agent start), render many times with a
:class:`SecretSource` that performs every Vault read; the engine itself does no I/O::

    tpl = templates.parse(text, name="vault.hashicorp.com/agent-inject-template-db")
    out = tpl.render(source, error_on_missing_key=False)

Output strings stand for Go byte strings: encode them with
``.encode("utf-8", "surrogateescape")`` (invalid bytes only arise from ``\\x`` escapes
or ``base64Decode`` of binary data).
"""

from __future__ import annotations

from .budget import Budget
from .errors import MissingKeyError, TemplateError, TemplateExecError, TemplateSyntaxError
from .template import Template, parse
from .values import JSONNumber, PemEncoded, Secret, SecretAuth, SecretWrapInfo

TYPE_CHECKING = False  # typing is not imported at run time: importing this package must stay cheap.
if TYPE_CHECKING:
    from .source import SecretSource


def __getattr__(name: str) -> object:
    """Load SecretSource (a typing.Protocol) only when asked for: typing costs milliseconds."""
    if name == "SecretSource":
        from .source import SecretSource

        return SecretSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Budget",
    "JSONNumber",
    "MissingKeyError",
    "PemEncoded",
    "Secret",
    "SecretAuth",
    "SecretSource",
    "SecretWrapInfo",
    "Template",
    "TemplateError",
    "TemplateExecError",
    "TemplateSyntaxError",
    "parse",
]
