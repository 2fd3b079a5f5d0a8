"""Every URL the project serves, from the URLconf itself: a new view is covered by the
security tests the day it is added."""

import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


@dataclass(frozen=True)
class Route:
    route: str
    name: str
    callback: object

    @property
    def csrf_exempt(self) -> bool:
        return getattr(self.callback, "csrf_exempt", False)

    def url(self, **values: object) -> str:
        """A concrete URL: parameters from `values`, else a harmless placeholder."""
        def fill(match: re.Match) -> str:
            kind, name = match.group(1) or "str", match.group(2)
            if name in values:
                return str(values[name])
            return "987654" if kind == "int" else "nothing-here"
        return "/" + CONVERTER.sub(fill, self.route)

    @property
    def params(self) -> list[str]:
        return [m.group(2) for m in CONVERTER.finditer(self.route)]


def routes(skip_admin: bool = True) -> Iterator[Route]:
    def walk(patterns, prefix: str, namespace: str | None):
        for p in patterns:
            if isinstance(p, URLResolver):
                if skip_admin and str(p.pattern).startswith("admin"):
                    continue  # Django's admin guards itself (tested separately below)
                yield from walk(p.url_patterns, prefix + str(p.pattern), p.namespace or namespace)
            elif isinstance(p, URLPattern):
                name = f"{namespace}:{p.name}" if namespace else str(p.name)
                yield Route(prefix + str(p.pattern), name, p.callback)
    yield from walk(get_resolver().url_patterns, "", None)
