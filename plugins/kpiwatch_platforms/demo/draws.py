"""Deterministic pseudo-random draws: pure functions of a text key, stable across processes.

Python's ``hash()`` is salted per process, and seeding ``random.Random`` costs more than
hashing, so every draw comes from BLAKE2b digests of the key (eight 64-bit numbers per digest).
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Sequence
from itertools import accumulate

_TO_UNIT = 1.0 / 2**64
_UNPACK = struct.Struct("<8Q").unpack
_TWO_PI = 2.0 * math.pi


def uniform(key: str) -> float:
    """One number in [0, 1) determined by ``key``."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") * _TO_UNIT


def uniform_pair(key: str) -> tuple[float, float]:
    """Two numbers in [0, 1) determined by ``key``."""
    digest = hashlib.blake2b(key.encode(), digest_size=16).digest()
    return (
        int.from_bytes(digest[:8], "little") * _TO_UNIT,
        int.from_bytes(digest[8:], "little") * _TO_UNIT,
    )


class Draws:
    """A stream of numbers in [0, 1) determined by ``key``, with helpers for common shapes."""

    __slots__ = ("_block", "_buffer", "_key")

    def __init__(self, key: str) -> None:
        self._key = key
        self._block = 0
        self._buffer: list[float] = []

    def u(self) -> float:
        """The next number in [0, 1)."""
        if not self._buffer:
            digest = hashlib.blake2b(f"{self._key}#{self._block}".encode(), digest_size=64)
            self._buffer = [v * _TO_UNIT for v in reversed(_UNPACK(digest.digest()))]
            self._block += 1
        return self._buffer.pop()

    def between(self, low: float, high: float) -> float:
        return low + (high - low) * self.u()

    def normal(self) -> float:
        """A standard normal number (Box-Muller)."""
        return math.sqrt(-2.0 * math.log(1.0 - self.u())) * math.cos(_TWO_PI * self.u())

    def noise(self, sigma: float) -> float:
        """A log-normal factor with mean 1: ``sigma`` 0.1 is about +-10 %."""
        return math.exp(sigma * self.normal() - 0.5 * sigma * sigma)

    def pick(self, cumulative: Sequence[float]) -> int:
        """An index drawn with the weights whose running sums are ``cumulative``."""
        target = self.u() * cumulative[-1]
        for index, bound in enumerate(cumulative):
            if target < bound:
                return index
        return len(cumulative) - 1


def cumulative(weights: Sequence[float]) -> tuple[float, ...]:
    """Running sums of ``weights``, for :meth:`Draws.pick`."""
    return tuple(accumulate(weights))
