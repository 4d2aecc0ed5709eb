"""Splitting a bucket's key space into ranges that can be listed in parallel, each by its own chain of listing steps.

A range is ``(after, upto]``: the keys ``k`` with ``after < k`` (no lower bound when ``after`` is None) and
``k <= upto`` (no upper bound when ``upto`` is None), in S3's order (UTF-8 bytes, which is code point order). The
ranges of a split share their bounds (one range's ``upto`` is the next one's ``after``), so every key, present or
written later, falls in exactly one: a key is listed once whatever the bounds are. Bounds need not be keys.

A range is listed with ListObjectsV2 ``StartAfter=after`` (exclusive, as S3's is) and stops at the first key past
``upto``.

Bounds come from the bucket itself: its top-level common prefixes (``Delimiter='/'``; the prefix string is the bound,
so a folder marker equal to it, ``dir/``, belongs to the range before and everything under it to the range after),
and, when there are fewer prefixes than ranges wanted, bisection: a midpoint string between a large range's bounds,
moved to the first key after it (``StartAfter=midpoint``, one key).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

# list_keys(start_after, max_keys, delimiter) -> (keys in order, common prefixes): one ListObjectsV2 page.
ListKeys = Callable[[str | None, int, str | None], tuple[list[str], list[str]]]

_MAX_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)
# Characters of a bound's midpoint compared: enough to split any realistic key space, few enough to stay cheap.
_MIDPOINT_DIGITS = 12


@dataclass(frozen=True)
class KeyRange:
    after: str | None = None
    upto: str | None = None

    def holds(self, key: str) -> bool:
        return (self.after is None or key > self.after) and (self.upto is None or key <= self.upto)


def _digits(text: str, length: int) -> list[int]:
    points = [ord(character) for character in text[:length]]
    return points + [0] * (length - len(points))


def midpoint(low: str | None, high: str | None) -> str | None:
    """A string strictly between ``low`` and ``high`` in code point order, or None when there is none to find at
    this precision. ``None`` bounds are the start and the end of the key space. The bounds' common beginning is
    kept as it is (keys such as ``logs/2026/11/23/part-000001`` share most of theirs)."""
    shared = 0
    if low is not None and high is not None:
        while shared < min(len(low), len(high)) and low[shared] == high[shared]:
            shared += 1
    head = (low or "")[:shared]
    low_digits = _digits((low or "")[shared:], _MIDPOINT_DIGITS)
    high_digits = _digits(high[shared:], _MIDPOINT_DIGITS) if high is not None else \
        [_MAX_CODE_POINT] * _MIDPOINT_DIGITS
    base = _MAX_CODE_POINT + 1
    low_value = high_value = 0
    for low_digit, high_digit in zip(low_digits, high_digits, strict=True):
        low_value, high_value = low_value * base + low_digit, high_value * base + high_digit
    middle = (low_value + high_value) // 2
    points = []
    for _ in range(_MIDPOINT_DIGITS):
        middle, digit = divmod(middle, base)
        points.append(digit)
    # A surrogate cannot be in a key (S3 keys are UTF-8): move up to the first code point after them.
    text = head + "".join(chr(0xE000 if point in _SURROGATES else point) for point in reversed(points)).rstrip("\x00")
    if (low is not None and text <= low) or (high is not None and text >= high) or not text:
        return None
    return text


def split_key_space(list_keys: ListKeys, ranges: int, *, sample: int = 1000) -> list[KeyRange]:
    """Up to ``ranges`` ranges covering the whole key space, from one delimiter listing, one sample page per range
    and a few one-key probes per split. Fewer when the bucket offers no more places to split (few keys)."""
    if ranges <= 1:
        return [KeyRange()]
    _, prefixes = list_keys(None, 1000, "/")
    if len(prefixes) >= ranges:
        step = len(prefixes) / ranges
        bounds = sorted({prefixes[round(index * step)] for index in range(1, ranges)})
    else:
        bounds = sorted(set(prefixes[1:]))
    edges: list[str | None] = [None, *bounds, None]
    split = [KeyRange(after, upto) for after, upto in itertools.pairwise(edges)]
    # Bisect the ranges still holding a full sample, one split each, until enough or none can be split.
    full = [(range_, ends) for range_ in split if (ends := _full_sample(list_keys, range_, sample))]
    while len(split) < ranges and full:
        range_, (first, last) = full.pop(0)
        bound = _bisect(list_keys, range_, first, last)
        if bound is None:
            continue
        index = split.index(range_)
        lower, upper = KeyRange(range_.after, bound), KeyRange(bound, range_.upto)
        split[index:index + 1] = [lower, upper]
        full += [(part, ends) for part in (lower, upper) if (ends := _full_sample(list_keys, part, sample))]
    return split


def _full_sample(list_keys: ListKeys, range_: KeyRange, sample: int) -> tuple[str, str] | None:
    """The first and last keys of the range's first ``sample`` keys when it holds that many, else None."""
    keys, _ = list_keys(range_.after, sample, None)
    inside = [key for key in keys if range_.holds(key)]
    return (inside[0], inside[-1]) if len(inside) >= sample else None


def _probe(list_keys: ListKeys, range_: KeyRange, after: str) -> str | None:
    """The first key after ``after`` if it is inside the range and not its upper bound (a usable new bound)."""
    keys, _ = list_keys(after, 1, None)
    return keys[0] if keys and range_.holds(keys[0]) and keys[0] != range_.upto else None


def _value(text: str) -> int:
    value = 0
    for digit in _digits(text, _MIDPOINT_DIGITS):
        value = value * (_MAX_CODE_POINT + 1) + digit
    return value


def _text(head: str, value: int) -> str | None:
    """``head`` followed by the window ``value`` as characters; None when ``value`` overflows the window."""
    base = _MAX_CODE_POINT + 1
    if value >= base ** _MIDPOINT_DIGITS:
        return None
    points = []
    for _ in range(_MIDPOINT_DIGITS):
        value, digit = divmod(value, base)
        points.append(digit)
    return head + "".join(chr(0xE000 if point in _SURROGATES else point) for point in reversed(points)).rstrip("\x00")


def _bisect(list_keys: ListKeys, range_: KeyRange, first: str, last: str) -> str | None:
    """A key inside the range near the middle of the keys it holds. ``first`` and ``last`` are the first and last
    keys of a full sample. Read from where they first differ, the keys are numbers: gallop from ``first`` by twice
    the sample's span at each probe until a probe finds no key in the range (the keys end below it), then probe
    half way between ``first`` and there."""
    shared = 0
    while shared < min(len(first), len(last)) and first[shared] == last[shared]:
        shared += 1
    head = first[:shared]
    low, span = _value(first[shared:]), max(1, _value(last[shared:]) - _value(first[shared:]))
    found, high = None, range_.upto
    for doubling in range(1, _MIDPOINT_DIGITS * 21):
        candidate = _text(head, low + span * 2 ** doubling)
        if candidate is None or (range_.upto is not None and candidate >= range_.upto):
            break
        probed = _probe(list_keys, range_, candidate)
        if probed is None:
            high = candidate
            break
        found = probed
    middle = midpoint(first, high)
    balanced = _probe(list_keys, range_, middle) if middle is not None else None
    if balanced is not None and balanced > last:
        return balanced
    return found or (last if last != range_.upto else None)


def list_range(list_keys: ListKeys, range_: KeyRange, page_size: int = 1000) -> Iterator[list[str]]:
    """The range's keys, a page at a time (what one chain of listing steps does, checkpoint by checkpoint)."""
    start = range_.after
    while True:
        keys, _ = list_keys(start, page_size, None)
        inside = [key for key in keys if range_.holds(key)]
        if inside:
            yield inside
        if len(keys) < page_size or len(inside) < len(keys):
            return
        start = keys[-1]
