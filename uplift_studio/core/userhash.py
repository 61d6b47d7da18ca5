"""A fixed hash of the user id: folds, samples and random orders that no engine, partition or row order changes.

Library hashes (Python's ``hash``, Polars' ``hash``, pandas' ``hash_pandas_object``) may change between
versions or processes, so they cannot decide who trains which model. Here: an integer id is taken as its
64-bit two's complement, any other id as its UTF-8 text hashed with FNV-1a (64 bit), and both are finished
with SplitMix64 (Steele, Lea and Flood, 2014), whose output bits are well mixed. Each use draws from its
own salt, so the fold a user lands in says nothing about whether they are sampled.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from uplift_studio.core.errors import DataError

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 2.0**-53

# one salt per use; changing one changes every result that depends on it, so they are fixed for good
SALT_FOLD = 0x5EED_F01D
SALT_SAMPLE = 0x5A3F_1E55
SALT_RANDOM = 0x7A2D_0E11


def splitmix64(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser of uint64 values (wrapping arithmetic, as the reference C code)."""
    z = values + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX_1
    z = (z ^ (z >> np.uint64(27))) * _MIX_2
    return z ^ (z >> np.uint64(31))


def _text_hash(ids: pl.Series) -> np.ndarray:
    """FNV-1a over each id's UTF-8 bytes, one byte position at a time across all ids (no Python row loop)."""
    encoded = ids.cast(pl.String).str.encode("hex")
    lengths = ids.cast(pl.String).str.len_bytes().to_numpy().astype(np.int64)
    hashes = np.full(ids.len(), _FNV_OFFSET, dtype=np.uint64)
    if ids.len() == 0:
        return hashes
    longest = int(lengths.max())
    for position in range(longest):
        has_byte = lengths > position
        pair = encoded.filter(pl.Series(has_byte)).str.slice(2 * position, 2)
        byte = pair.str.to_integer(base=16).cast(pl.UInt64).to_numpy()
        hashes[has_byte] = (hashes[has_byte] ^ byte) * _FNV_PRIME
    return hashes


def hash_ids(ids: pl.Series | np.ndarray) -> np.ndarray:
    """The fixed 64-bit hash of every id (uint64), the same on any machine and in any library version."""
    series = ids if isinstance(ids, pl.Series) else pl.Series(np.asarray(ids))
    if series.null_count():
        raise DataError(f"the id column has {series.null_count()} empty values; every user needs an id.")
    if series.dtype.is_integer():
        raw = series.cast(pl.Int64, strict=False) if series.dtype != pl.UInt64 else series
        if raw.null_count():
            raise DataError("an id does not fit in 64 bits; store the ids as text instead.")
        base = raw.to_numpy().astype(np.int64).view(np.uint64)
    else:
        base = _text_hash(series)
    with np.errstate(over="ignore"):
        return splitmix64(base)


def uniform(hashes: np.ndarray, salt: int) -> np.ndarray:
    """A uniform draw in [0, 1) per user for the use ``salt``: the top 53 bits of a second mix."""
    with np.errstate(over="ignore"):
        mixed = splitmix64(hashes ^ np.uint64(salt))
    return (mixed >> np.uint64(11)).astype(np.float64) * _TO_UNIT


def folds(hashes: np.ndarray, n_folds: int) -> np.ndarray:
    """Fold 0..n_folds-1 per user, each with probability 1/n_folds."""
    if n_folds < 2:
        raise DataError(f"cross-fitting needs at least 2 folds, got {n_folds}.")
    return np.minimum((uniform(hashes, SALT_FOLD) * n_folds).astype(np.int64), n_folds - 1)
