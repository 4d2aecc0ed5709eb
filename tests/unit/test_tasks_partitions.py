"""tasks.partitions: ranges split from the bucket itself list every key exactly once, on adversarial key sets
(unicode, '/'-heavy keys, one huge prefix, folder markers, empty ranges, keys written while the ranges are listed)."""

from __future__ import annotations

import bisect
import itertools
import random
from collections import Counter

import pytest

from eraser.tasks.partitions import KeyRange, list_range, midpoint, split_key_space


class FakeBucket:
    """ListObjectsV2 over a set of keys in S3's order (UTF-8 bytes), with StartAfter, MaxKeys and Delimiter."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = sorted(set(keys), key=lambda key: key.encode())
        self.calls = 0

    def add(self, key: str) -> None:
        bisect.insort(self.keys, key, key=lambda item: item.encode())

    def list_keys(self, start_after: str | None, max_keys: int, delimiter: str | None
                  ) -> tuple[list[str], list[str]]:
        self.calls += 1
        encoded = [key.encode() for key in self.keys]
        index = 0 if start_after is None else bisect.bisect_right(encoded, start_after.encode())
        keys: list[str] = []
        prefixes: list[str] = []
        for key in self.keys[index:]:
            if len(keys) + len(prefixes) >= max_keys:
                break
            if delimiter and delimiter in key:
                prefix = key[:key.index(delimiter) + 1]
                if not prefixes or prefixes[-1] != prefix:
                    prefixes.append(prefix)
                continue
            keys.append(key)
        return keys, prefixes


def listed(bucket: FakeBucket, ranges: list[KeyRange], page_size: int = 7) -> Counter[str]:
    seen: Counter[str] = Counter()
    for range_ in ranges:
        for page in list_range(bucket.list_keys, range_, page_size):
            seen.update(page)
    return seen


KEY_SETS = {
    "unicode": [f"{word}/{index}" for word in ("été", "naïve", "日本", "😀", "Ω", "zebra", "Zebra")
                for index in range(40)] + ["ß", "é", "\u00ff", "\U0010fffd"],
    "slash-heavy": [f"a/{'/' * (index % 4)}b{index}/" for index in range(120)] + ["/lead", "//", "a/", "a//"],
    "one huge prefix": [f"big/{index:06d}" for index in range(3000)] + ["small/x"],
    "folder markers and empty prefixes": ["dir/", "dir2/", "dir2/a", "empty/", "z/"] + [f"m/{i}" for i in range(50)],
    "no delimiter": [f"{index:05d}.bin" for index in range(2500)],
    "long shared beginning": [f"logs/2026/11/23/host-a/part-{index:08d}.gz" for index in range(1500)],
    "single key": ["only"],
    "empty bucket": [],
}


@pytest.mark.parametrize("name", sorted(KEY_SETS))
@pytest.mark.parametrize("wanted", [1, 2, 5, 16, 64])
def test_every_key_is_listed_exactly_once(name: str, wanted: int) -> None:
    bucket = FakeBucket(KEY_SETS[name])
    ranges = split_key_space(bucket.list_keys, wanted, sample=50)
    assert 1 <= len(ranges) <= max(wanted, 1)
    assert ranges[0].after is None and ranges[-1].upto is None
    assert all(left.upto == right.after for left, right in itertools.pairwise(ranges))
    seen = listed(bucket, ranges)
    assert seen == Counter(bucket.keys)


def test_one_huge_prefix_is_bisected_into_several_ranges() -> None:
    bucket = FakeBucket(KEY_SETS["one huge prefix"])
    ranges = split_key_space(bucket.list_keys, 8, sample=100)
    assert len(ranges) >= 6
    sizes = [sum(len(page) for page in list_range(bucket.list_keys, range_, 100)) for range_ in ranges]
    assert sum(sizes) == 3001 and max(sizes) < 3001


def test_keys_sharing_a_long_beginning_are_bisected_too() -> None:
    bucket = FakeBucket(KEY_SETS["long shared beginning"])
    ranges = split_key_space(bucket.list_keys, 4, sample=100)
    assert len(ranges) == 4
    assert listed(bucket, ranges) == Counter(bucket.keys)


def test_many_prefixes_are_grouped_without_probing() -> None:
    bucket = FakeBucket([f"p{prefix:03d}/{index}" for prefix in range(300) for index in range(3)])
    ranges = split_key_space(bucket.list_keys, 10, sample=1000)
    assert len(ranges) == 10
    assert listed(bucket, ranges) == Counter(bucket.keys)


def test_keys_written_while_listing_are_listed_at_most_once() -> None:
    rng = random.Random(5)
    bucket = FakeBucket([f"{rng.choice('abcdef')}/{index:05d}" for index in range(2000)])
    original = set(bucket.keys)
    ranges = split_key_space(bucket.list_keys, 12, sample=100)
    seen: Counter[str] = Counter()
    for range_ in ranges:
        for page in list_range(bucket.list_keys, range_, 50):
            seen.update(page)
            for _ in range(3):
                bucket.add(f"{rng.choice('abcdefg')}/{rng.randrange(10**6):07d}-new")
    assert max(seen.values()) == 1
    assert original <= set(seen)


def test_midpoint_lies_strictly_between_its_bounds_and_is_valid_text() -> None:
    for low, high in (("a", "b"), (None, None), ("abc", None), (None, "\u00e9"), ("\ud7ff", "\ue001"),
                      ("big/000100", "big/002999"), ("logs/2026/11/23/part-0001", "logs/2026/11/23/part-0999")):
        middle = midpoint(low, high)
        assert middle is not None
        assert (low is None or middle > low) and (high is None or middle < high)
        middle.encode("utf-8")
    assert midpoint("a", "a\x00") is None


def test_a_range_holds_its_upper_bound_and_not_its_lower() -> None:
    range_ = KeyRange("dir/", "m/")
    assert not range_.holds("dir/")
    assert range_.holds("dir/a") and range_.holds("m/")
    assert not range_.holds("m/a")
