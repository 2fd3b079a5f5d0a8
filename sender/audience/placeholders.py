"""Placeholders in a message, rendered per recipient with Django's template engine, sandboxed.

A message may say "Dear {{ name }}". It is rendered by a private `Engine` (no loaders, no
libraries, no autoescape: the output is plain text) against a context holding only the
name-like values in `PLACEHOLDERS`, all plain strings. Before anything is rendered the text
is checked token by token: only those variables, a few harmless filters and the `if` /
`firstof` / `comment` tags pass. Anything else — `{{ recipient.user.password }}`,
`{% debug %}`, `{% include %}`, `{% load %}`, a filter that could build a huge string — is
refused with a sentence, at preview and commit time, so nothing unsafe reaches a worker.

Every channel fills them (email, SMS, Telegram, storage). A literal `{{`, `{%` or `{#` is
written with a backslash before it (`\\{{ code }}` reads "{{ code }}"); a longer passage can
sit between `{% verbatim %}` and `{% endverbatim %}`.
"""

import re

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from itertools import batched
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import connections, router
from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.base import Lexer, Parser, TokenType, Variable
from django.utils.translation import gettext as _

from sender.audience.people import records
from sender.models import MessageRecipient

PLACEHOLDERS = ("name", "first_name", "last_name")
TAGS = frozenset({"if", "elif", "else", "endif", "firstof", "comment", "endcomment", "verbatim", "endverbatim",
                  "templatetag"})
FILTERS = frozenset({"upper", "lower", "title", "capfirst", "default", "default_if_none", "truncatechars",
                     "truncatewords"})
OPERATORS = frozenset({"and", "or", "not", "==", "!="})
CHUNK = 2000  # ids per query when reading many recipients' values
KEEP_CHUNK = 5000  # rows per UPDATE when keeping their texts

ENGINE = Engine(loaders=[], libraries={}, autoescape=False, string_if_invalid="")
ESCAPED = re.compile(r"\\(\{[{%#])")
OPENERS = {"{{": "openvariable", "{%": "openblock", "{#": "opencomment"}


def _unescaped(text: str) -> str:
    """The template Django reads: each backslash-escaped `{{`, `{%`, `{#` made a literal."""
    return ESCAPED.sub(lambda m: "{%% templatetag %s %%}" % OPENERS[m.group(1)], text)


def uses_placeholders(text: str) -> bool:
    """True if the text holds template syntax at all (plain text is sent as it is)."""
    return any(marker in text for marker in ("{{", "{%", "{#"))


def problems(text: str) -> list[str]:
    """Why `text` may not be rendered, as sentences; empty when it is safe."""
    if not uses_placeholders(text):
        return []
    found: list[str] = []
    parser = Parser([], builtins=ENGINE.template_builtins, libraries={})
    text = _unescaped(text)
    for token in Lexer(text).tokenize():
        if token.token_type == TokenType.VAR:
            found.extend(_expression(parser, token.contents, "{{ %s }}" % token.contents))
        elif token.token_type == TokenType.BLOCK:
            bits = token.split_contents()
            tag = bits[0] if bits else ""
            if tag not in TAGS:
                found.append(_("“{%% %(tag)s %%}” is not allowed in a message.") % {"tag": tag})
            elif tag in ("if", "elif", "firstof"):
                for bit in bits[1:]:
                    if bit not in OPERATORS:
                        found.extend(_expression(parser, bit, "{%% %s %%}" % token.contents))
    if not found:
        try:
            Template(text, engine=ENGINE)
        except TemplateSyntaxError as exc:
            found.append(_("The placeholders cannot be read: %(error)s") % {"error": exc})
    return list(dict.fromkeys(found))


def _expression(parser: Parser, expression: str, shown: str) -> list[str]:
    allowed = ", ".join("{{ %s }}" % name for name in PLACEHOLDERS)
    try:
        compiled = parser.compile_filter(expression)
    except TemplateSyntaxError:
        return [_("“%(text)s” is not a placeholder you can use; use %(allowed)s.") % {"text": shown, "allowed": allowed}]
    variables = [compiled.var] + [arg for _func, args in compiled.filters for lookup, arg in args if lookup]
    found = []
    for var in variables:
        if isinstance(var, Variable) and var.lookups is not None and var.lookups not in [(p,) for p in PLACEHOLDERS]:
            found.append(_("“%(text)s” is not a placeholder you can use; use %(allowed)s.")
                         % {"text": shown, "allowed": allowed})
    for func, _args in compiled.filters:
        name = getattr(func, "_filter_name", "?")
        if name not in FILTERS:
            found.append(_("The filter “%(name)s” is not allowed in a message.") % {"name": name})
    return found


def check_template(*texts: str) -> None:
    """ValidationError listing every problem of `texts` (for forms and model.clean)."""
    found = [problem for text in texts for problem in problems(text)]
    if found:
        raise ValidationError(found)


@lru_cache(maxsize=32)
def _compiled(text: str) -> Template:
    if problems(text):
        raise ValueError("Refusing to render a message whose placeholders were not checked.")
    return Template(_unescaped(text), engine=ENGINE)


@lru_cache(maxsize=32)
def used(text: str) -> frozenset[str]:
    """The placeholders `text` reads: only their values can make two recipients' texts differ.
    Empty for text without any (even with escaped braces: it renders alike for everyone)."""
    if not uses_placeholders(text):
        return frozenset()
    found: set[str] = set()
    for token in Lexer(_unescaped(text)).tokenize():
        if token.token_type in (TokenType.VAR, TokenType.BLOCK):
            found.update(name for name in PLACEHOLDERS if re.search(r"\b%s\b" % name, token.contents))
    return frozenset(found)


def personal(text: str) -> bool:
    """True when recipients may read different texts (the text reads a placeholder)."""
    return bool(used(text))


def render(text: str, values: dict[str, str]) -> str:
    """`text` with its placeholders filled from `values` (missing ones render empty).

    Raises ValueError for text that does not pass `problems` — a caller that skipped the
    check gets an error, never an unsandboxed render."""
    if not uses_placeholders(text):
        return text
    context = {name: str(values.get(name) or "") for name in PLACEHOLDERS}
    return _compiled(text).render(Context(context, autoescape=False))


def values_for(obj: Any) -> dict[str, str]:
    """The placeholder values of one recipient: its representation and name fields, as strings."""
    if obj is None:
        return {}
    represent = getattr(obj, "get_representation", None)
    values = {"name": str(represent() if callable(represent) else obj)}
    for field in ("first_name", "last_name"):
        value = getattr(obj, field, "")
        values[field] = value if isinstance(value, str) else ""
    return values


def recipients(keys: Iterable[tuple[int, str]]) -> dict[tuple[int, str], dict[str, str]]:
    """Placeholder values for (content type id, object id) pairs: one query per model."""
    return {key: values_for(record) for key, record in records(keys).items()}


def row_texts(text: str, rows: Sequence[Any]) -> dict[int, str]:
    """Each recipient row's text (row id → rendered `text`), for a channel's batch.

    Text that reads no placeholder is rendered once; otherwise the rows' records are fetched
    with one query for the keys and one per model, and each distinct set of values is
    rendered once (name fields read as columns, as `text_counts` does). A bare address (sent
    from code, no record) reads the placeholders empty."""
    if not personal(text):
        once = render(text, {})
        return {row.id: once for row in rows}
    keys = {i: (c, o) for i, c, o in MessageRecipient.objects.filter(pk__in=[r.id for r in rows])
            .values_list("id", "content_type_id", "object_id") if c is not None}
    names = sorted(used(text))
    found = _values(list(keys.values()), names)
    empty = ("",) * len(names)
    rendered: dict[tuple[str, ...], str] = {}
    result = {}
    for row in rows:
        key = found.get(keys.get(row.id), empty)
        if key not in rendered:
            rendered[key] = render(text, dict(zip(names, key, strict=True)))
        result[row.id] = rendered[key]
    return result


def keep_texts(body: str, texts: Mapping[int, str]) -> int:
    """Keep on each row (row id → text) the text its recipient is sent, when it is not the
    body itself, so staff and the inbox can show what each person read. Returns rows written.

    A channel calls it with the very strings it sends, for a body with placeholders only:
    a plain broadcast writes nothing more. One statement per few thousand rows, joined on
    the ids: Django's `bulk_update` builds a CASE with a branch per row, which SQLite walks
    for every row, quadratic (BENCHMARKS.md, "Each recipient's text kept on its row")."""
    changed = [(row_id, text) for row_id, text in texts.items() if text != body]
    if not changed:
        return 0
    db = router.db_for_write(MessageRecipient)
    connection = connections[db]
    if connection.vendor not in ("postgresql", "sqlite"):
        MessageRecipient.objects.using(db).bulk_update(
            [MessageRecipient(id=row_id, text=text) for row_id, text in changed], ["text"], batch_size=1000)
        return len(changed)
    quote = connection.ops.quote_name
    table, text_column, id_column = (quote(MessageRecipient._meta.db_table), quote("text"), quote("id"))
    limit = connection.features.max_query_params
    size = min(KEEP_CHUNK, limit // 2) if limit and connection.vendor == "sqlite" else KEEP_CHUNK
    with connection.cursor() as cursor:
        for chunk in batched(changed, size):
            if connection.vendor == "postgresql":  # two array parameters, whatever the chunk's size
                cursor.execute(f"UPDATE {table} SET {text_column} = v.text "
                               f"FROM unnest(%s::bigint[], %s::text[]) AS v(id, text) WHERE {table}.{id_column} = v.id",
                               [[row_id for row_id, _text in chunk], [text for _row_id, text in chunk]])
            else:
                cursor.execute(f"UPDATE {table} SET {text_column} = v.column2 FROM (VALUES "
                               + ", ".join(["(%s, %s)"] * len(chunk))
                               + f") AS v WHERE {table}.{id_column} = v.column1",
                               [value for pair in chunk for value in pair])
    return len(changed)


def text_counts(text: str, keys: Iterable[tuple[int, str]]) -> Counter[str]:
    """How many of these recipients read each distinct rendering of `text` (a recipient listed
    twice counts twice), for pricing texts whose length differs per recipient.

    Only the placeholders `text` reads are fetched, and each distinct set of their values is
    rendered once: a message reading `{{ first_name }}` costs one query per model and a render per
    distinct first name, however many recipients share them. Name fields are read as columns
    when the model has them; `{{ name }}` needs each record (its representation is Python)."""
    keys = list(keys)
    if not personal(text):
        return Counter({render(text, {}): len(keys)}) if keys else Counter()
    names = sorted(used(text))
    values = _values(keys, names)
    empty = ("",) * len(names)
    tuples = Counter(values.get((c, str(o)), empty) for c, o in keys)
    result: Counter[str] = Counter()
    for key, n in tuples.items():
        result[render(text, dict(zip(names, key, strict=True)))] += n
    return result


def _values(keys: list[tuple[int, str]], names: list[str]) -> dict[tuple[int, str], tuple[str, ...]]:
    """(content type id, object id) → the values of `names`, in chunks, one query per model and chunk."""
    wanted: dict[int, set[str]] = defaultdict(set)
    for content_type_id, object_id in keys:
        if content_type_id is not None:
            wanted[content_type_id].add(str(object_id))
    found: dict[tuple[int, str], tuple[str, ...]] = {}
    for content_type_id, ids in wanted.items():
        model = ContentType.objects.get_for_id(content_type_id).model_class()
        if model is None:
            continue
        columns = _columns(model, names)
        ordered = sorted(ids)
        for start in range(0, len(ordered), CHUNK):
            chunk = ordered[start:start + CHUNK]
            if columns is not None:
                for pk, *row in model._default_manager.filter(pk__in=chunk).values_list("pk", *columns):
                    found[(content_type_id, str(pk))] = tuple(v if isinstance(v, str) else "" for v in row)
            else:
                for pk, record in model._default_manager.in_bulk(chunk).items():
                    record_values = values_for(record)
                    found[(content_type_id, str(pk))] = tuple(record_values.get(n, "") for n in names)
    return found


def _columns(model: type, names: list[str]) -> list[str] | None:
    """The columns holding `names` when each is a plain field of `model`, else None (read records)."""
    columns = []
    for name in names:
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            return None
        if name == "name" or not getattr(field, "concrete", False) or field.is_relation:
            return None
        columns.append(field.attname)
    return columns
