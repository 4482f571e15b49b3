"""Enumerate every URL pattern under a prefix with concrete sample paths, so guard tests cover every endpoint any
area adds — including the ones written after these tests."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RegexPattern, RoutePattern

_ROUTE_PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
SAMPLE_UUID = str(uuid.UUID(int=1))


@dataclass
class Endpoint:
    route: str  # the pattern as written, e.g. "api/v1/tokens/<pk>/revoke/"
    converters: dict[str, str]  # path parameter → converter ("int", "str", "uuid", "regex" …)
    pattern: URLPattern

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(self.converters)

    def sample(self, value: str = "1") -> str | None:
        """A concrete path with every parameter set to `value` (a UUID where the converter needs one), or None
        when the result does not resolve back to this endpoint."""
        return _sample(self, value)


def _regex_template(regex: str) -> str:
    """'^tokens/(?P<pk>[^/.]+)/revoke/$' → 'tokens/<pk>/revoke/'; optional format suffixes are dropped."""
    regex = regex.removeprefix("^").removesuffix("$").removesuffix("\\Z")
    regex = re.sub(r"\\\.\(\?P<format>[^)]*\)/\?", "", regex)
    out, i = [], 0
    while i < len(regex):
        if regex.startswith("(?P<", i):
            name_end = regex.index(">", i)
            name = regex[i + 4:name_end]
            depth, j, in_class = 1, name_end + 1, False
            while depth:
                char = regex[j]
                if char == "\\":
                    j += 2
                    continue
                if char == "[":
                    in_class = True
                elif char == "]":
                    in_class = False
                elif not in_class and char == "(":
                    depth += 1
                elif not in_class and char == ")":
                    depth -= 1
                j += 1
            out.append(f"<{name}>")
            i = j
        elif regex[i] == "\\" and i + 1 < len(regex):
            out.append(regex[i + 1])
            i += 2
        elif regex[i] == "?" and out and out[-1] == "/":
            i += 1  # "/?" → "/"
        else:
            out.append(regex[i])
            i += 1
    return "".join(out)


def _route_text(pattern) -> tuple[str, dict[str, str]]:
    """Template text with <name> placeholders and the converter name of each parameter."""
    if isinstance(pattern, RoutePattern):
        converters = {}

        def keep(match):
            converters[match["name"]] = match["converter"] or "str"
            return f"<{match['name']}>"

        return _ROUTE_PARAM.sub(keep, str(pattern)), converters
    if isinstance(pattern, RegexPattern):
        text = _regex_template(pattern.regex.pattern)
        return text, {name: "regex" for name in re.findall(r"<([^>]+)>", text)}
    return str(pattern), {}


def iter_endpoints(prefix: str = "api/v1/"):
    def walk(patterns, route: str, converters: dict[str, str]):
        for entry in patterns:
            text, found = _route_text(entry.pattern)
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, route + text, {**converters, **found})
            elif isinstance(entry, URLPattern):
                yield route + text, {**converters, **found}, entry

    seen = set()
    for route, converters, entry in walk(get_resolver().url_patterns, "", {}):
        if not route.startswith(prefix) or route in seen:
            continue
        seen.add(route)
        yield Endpoint(route=route, converters=converters, pattern=entry)


def _sample(endpoint: Endpoint, value: str) -> str | None:
    def fill(match):
        return SAMPLE_UUID if endpoint.converters.get(match[1]) == "uuid" else value

    path = "/" + re.sub(r"<([^>]+)>", fill, endpoint.route)
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return path if match.func == endpoint.pattern.callback else None
