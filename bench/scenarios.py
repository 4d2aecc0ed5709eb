"""What is populated and what must be gone afterwards. Pure data and key generation: no AWS calls."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

# Keys start with one hex digit drawn from a hash, so the 16 single-character prefixes split any bucket evenly. That
# is what a partitioned worker (and S3's own prefix partitions) relies on.
PARTITIONS = tuple("0123456789abcdef")


class Kind(StrEnum):
    PURGE = "purge"
    PURGE_VERSIONED = "purge-versioned"
    BULK_KNOWN_KEYS = "bulk-known-keys"


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: Kind
    # Unversioned: objects. Versioned: keys (each has two versions, every second key a delete marker on top).
    # Bulk: keys to delete (the bucket holds as many again that must survive).
    size: int
    description: str

    @property
    def versioned(self) -> bool:
        return self.kind is Kind.PURGE_VERSIONED

    @property
    def deleted_count(self) -> int:
        """Objects (versions and delete markers included) a correct contender removes."""
        if self.kind is Kind.PURGE_VERSIONED:
            return self.size * 2 + markers_for(self.size)
        return self.size


def markers_for(keys: int) -> int:
    return (keys + 1) // 2


def object_key(index: int, namespace: str = "obj") -> str:
    digest = hashlib.blake2b(f"{namespace}{index}".encode(), digest_size=4).hexdigest()
    return f"{digest[0]}/{namespace}/{digest[1:]}-{index:08d}.bin"


def keys_for(count: int, namespace: str = "obj") -> list[str]:
    return [object_key(index, namespace) for index in range(count)]


def partition_of(key: str) -> str:
    return key[0]


def default_scenarios(purge_objects: int = 100_000, versioned_keys: int = 10_000,
                      bulk_keys: int = 10_000) -> list[Scenario]:
    return [
        Scenario("purge-unversioned", Kind.PURGE, purge_objects,
                 f"purge an unversioned bucket of {purge_objects:,} objects"),
        Scenario("purge-versioned", Kind.PURGE_VERSIONED, versioned_keys,
                 f"purge a versioned bucket of {versioned_keys:,} keys x 2 versions, "
                 f"{markers_for(versioned_keys):,} delete markers"),
        Scenario("bulk-known-keys", Kind.BULK_KNOWN_KEYS, bulk_keys,
                 f"delete {bulk_keys:,} known keys from a bucket of {2 * bulk_keys:,}"),
    ]
