"""Sort keys that order values the way Grist's REST API does.

Grist sorts with JavaScript: values compare by `typeof` first
(boolean < number < object (null, then arrays) < string), arrays element by
element, strings with `Intl.Collator('en-US')` (`naturalSort`: the same with
`numeric: true`). The Unicode Collation Algorithm with its default table
(DUCET, via pyuca) gives the same order as ICU's root/en collation for text
such as `'' < '🍎 gift box' < 'ångström ruler' < 'apple' < 'Apple' < 'Banana'`.

Keys are plain tuples so Python's sort (stable, as JavaScript's is) compares them.
"""

from __future__ import annotations

import functools
import unicodedata
from typing import Any

from pyuca import Collator

# Keys of distinct strings are cached: a table's text column is sorted again and again.
_KEY_CACHE_SIZE = 200_000
# DUCET's common secondary and tertiary weights, for the weights made for numbers.
_COMMON_SECONDARY = 0x20
_COMMON_TERTIARY = 0x02

Key = tuple[Any, ...]


@functools.cache
def _collator() -> Collator:
    """The DUCET table, loaded once (about 0.1 s) on first use."""
    return Collator()


@functools.lru_cache(maxsize=_KEY_CACHE_SIZE)
def text_key(text: str) -> Key:
    """Collation key of `text`, like `Intl.Collator('en-US').compare`."""
    return tuple(_collator().sort_key(text))


def _chunks(text: str) -> list[tuple[bool, str]]:
    """`'item 10b'` -> [(False, 'item '), (True, '10'), (False, 'b')]."""
    chunks: list[tuple[bool, str]] = []
    for char in text:
        digit = char.isdecimal()
        if chunks and chunks[-1][0] == digit:
            chunks[-1] = (digit, chunks[-1][1] + char)
        else:
            chunks.append((digit, char))
    return chunks


@functools.lru_cache(maxsize=_KEY_CACHE_SIZE)
def natural_key(text: str) -> Key:
    """Like `text_key`, but runs of digits compare by their numeric value (`numeric: true`)."""
    collator = _collator()
    zero = collator.collation_elements("0")[0][0]
    elements: list[list[int]] = []
    for is_number, chunk in _chunks(unicodedata.normalize("NFD", text)):
        if not is_number:
            elements.extend(collator.collation_elements(chunk))
            continue
        digits = str(int(chunk))
        # A number sorts by its length, then digit by digit; leading zeros do not count.
        elements.append([zero, _COMMON_SECONDARY, _COMMON_TERTIARY])
        elements.append([len(digits), 0, 0])
        elements.extend([zero + int(d), 0, 0] for d in digits)
    return tuple(collator.sort_key_from_collation_elements(elements))


def js_key(value: Any, natural: bool = False) -> Key:
    """Sort key of a decoded cell value, following Grist's `typedCompare`."""
    kind = type(value)
    if value is None:
        return (2, 0)
    if kind is bool:
        return (0, value)
    if kind is int or kind is float:
        return (1, value)
    if kind is str:
        return (3, natural_key(value) if natural else text_key(value))
    if kind is list:
        # Array items compare with typedCompare, also under naturalSort.
        return (2, 1, tuple(js_key(item) for item in value))
    return (2, 0)


def is_empty(value: Any) -> bool:
    """Grist's `emptyLast` test: falsy and not a number (null, '', false)."""
    return not value and type(value) not in (int, float)
