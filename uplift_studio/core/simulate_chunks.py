"""Large simulated campaigns written in chunks, so that memory is bounded by one chunk, not the campaign.

Users are independent draws, so a campaign of N users is its chunks of at most ``CHUNK`` users, chunk ``i``
drawn from ``SeedSequence([seed, i])`` with ids continuing where the previous chunk stopped. A campaign of
at most ``CHUNK`` users is one chunk drawn from ``seed`` itself: exactly the in-memory simulation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl

from uplift_studio.core.data import ID
from uplift_studio.core.errors import DataError
from uplift_studio.core.outputs import atomic_output, write_frame
from uplift_studio.core.simulate import simulate_campaign

CHUNK = 1_000_000


def campaign_chunks(
    n_users: int, treated_share: float, seed: int, chunk: int = CHUNK
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """The campaign's (frame, truth) chunks in id order."""
    if n_users <= chunk:
        experiment = simulate_campaign(n_users, treated_share, seed)
        yield experiment.frame, experiment.truth
        return
    for index, start in enumerate(range(0, n_users, chunk)):
        size = min(chunk, n_users - start)
        if size < 2:  # the simulator draws at least two users; a last single user joins no chunk of its own
            raise DataError(
                f"--users {n_users:,} leaves a last chunk of one user; use {n_users - 1:,} or {n_users + 1:,}."
            )
        part = simulate_campaign(size, treated_share, np.random.SeedSequence([seed, index]))
        shift = pl.col(ID) + start
        yield part.frame.with_columns(shift), part.truth.with_columns(shift)


class _ChunkWriter:
    """Appends frames to one CSV or Parquet file (a Parquet row group per chunk)."""

    def __init__(self, path: Path) -> None:
        self.parquet = path.name.lower().endswith(".parquet")
        if not self.parquet and not path.name.lower().endswith(".csv"):
            raise DataError(f"{path}: unknown output type. End the name with .parquet or .csv.")
        self.path, self.writer, self.handle = path, None, None

    def write(self, temporary: Path, frame: pl.DataFrame) -> None:
        if self.parquet:
            import pyarrow.parquet as pq

            table = frame.to_arrow()
            if self.writer is None:
                self.writer = pq.ParquetWriter(temporary, table.schema, compression="zstd")
            self.writer.write_table(table)
        else:
            if self.handle is None:
                self.handle = open(temporary, "wb")  # noqa: SIM115 - closed in close()
                frame.write_csv(self.handle)
            else:
                frame.write_csv(self.handle, include_header=False)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.handle is not None:
            self.handle.close()


def write_campaign(
    out: Path, n_users: int, treated_share: float, seed: int, truth: Path | None = None, chunk: int = CHUNK
) -> None:
    """Write the simulated campaign (and its truth) chunk by chunk; each file appears whole or not at all."""
    if n_users <= chunk:
        experiment = simulate_campaign(n_users, treated_share, seed)
        write_frame(experiment.frame, out)
        if truth is not None:
            write_frame(experiment.truth, truth)
        return
    frames = _ChunkWriter(out)
    truths = _ChunkWriter(truth) if truth is not None else None
    with atomic_output(out) as frame_file:
        if truths is None:
            try:
                for frame, _ in campaign_chunks(n_users, treated_share, seed, chunk):
                    frames.write(frame_file, frame)
            finally:
                frames.close()
            return
        with atomic_output(truth) as truth_file:
            try:
                for frame, part_truth in campaign_chunks(n_users, treated_share, seed, chunk):
                    frames.write(frame_file, frame)
                    truths.write(truth_file, part_truth)
            finally:
                frames.close()
                truths.close()
