"""Messages of pure code (no Django import) that people read in their own language.

Where pure code raises or reports a problem, the message is a catalogue msgid with %(name)s placeholders, marked
with `gettext_noop` (makemessages extracts calls by that name) and kept apart from its values. str() of the error is
the English text, for logs and the command line; the Django side shows `error.text(gettext)` — the msgid translated
in the reader's language, then filled in, so a cell value or a library's detail is never looked up in the catalogue.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping


def gettext_noop(message: str) -> str:
    """Marks `message` for the catalogue and returns it untranslated: the reader's language is not known here."""
    return message


def _untranslated(message: str) -> str:
    return message


def render(message: str, params: Mapping[str, object], translate: Callable[[str], str] | None = None) -> str:
    """The message in the language of `translate` (English without it), its placeholders filled in; a parameter
    that is itself a TranslatableError is rendered in the same language."""
    translate = translate or _untranslated
    if not params:
        return translate(message)
    return translate(message) % {
        key: value.text(translate) if isinstance(value, TranslatableError) else value for key, value in params.items()
    }


class TranslatableError(ValueError):
    """A problem whose message is a msgid marked with gettext_noop; `params` fill its %(name)s placeholders."""

    def __init__(self, message: str, **params):
        self.message, self.params = message, params
        super().__init__(render(message, params))

    def text(self, translate: Callable[[str], str] | None = None) -> str:
        return render(self.message, self.params, translate)
