"""What a :func:`~ollama_nb.ray.run` job reads: :class:`Rows`, its row count, Arrow schema and blocks.

A Parquet path (a file or a folder; ``.``/``_`` files ignored) is read block by block with
pyarrow's dataset reader on the driver, and a pandas DataFrame is cut into slices: the driver holds
a block or two at a time whatever the input's size, and a job starts in a fraction of a second (Ray
Data's streaming executor takes seconds to start per job, and the rows' work is the hosts'). A Ray
Dataset is read with its own streaming iterator (``iter_batches``), so a pipeline of your own
(reading from S3, a transform first) works as it is.

Example:
    >>> rows = rows_of(pandas.DataFrame({"text": ["a", "b", "c"]}))   # doctest: +SKIP
    >>> rows.total, [b.num_rows for b in rows.blocks(2)]               # doctest: +SKIP
    (3, [2, 1])
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator

__all__ = ["Rows", "arrow_schema", "rows_of"]


class Rows:
    """``total`` rows with Arrow ``schema`` (None: each block's own), read by ``read(block_rows)``."""

    def __init__(self, total: int, schema: Any, read: Callable[[int], Iterator[Any]]) -> None:
        self.total = total
        self.schema = schema
        self._read = read

    def blocks(self, block_rows: int) -> Iterator[Any]:
        """The rows as pyarrow tables of at most ``block_rows`` rows, in order."""
        return self._read(block_rows)


def arrow_schema(schema: Any) -> Any:
    """``schema`` (Arrow's, or a Ray Dataset's) as an Arrow schema without a pandas index column;
    None when it has none (pandas blocks: the types come from each block)."""
    import pyarrow as pa

    arrow = schema if isinstance(schema, pa.Schema) else getattr(schema, "base_schema", None)
    if not isinstance(arrow, pa.Schema):
        return None
    return pa.schema([f for f in arrow if not f.name.startswith("__index_level_")])


def rows_of(source: Any) -> Rows | None:
    """``source`` (a Parquet path, a pandas DataFrame or a Ray Dataset) as :class:`Rows`; None for anything else."""
    import pyarrow as pa

    if isinstance(source, (str, os.PathLike)):
        import pyarrow.dataset as pads

        parquet = pads.dataset(os.fspath(source), format="parquet")

        def read_parquet(block_rows: int) -> Iterator[Any]:
            for batch in parquet.to_batches(batch_size=block_rows):
                if batch.num_rows:
                    yield pa.Table.from_batches([batch])

        return Rows(parquet.count_rows(), arrow_schema(parquet.schema), read_parquet)
    if type(source).__name__ == "DataFrame" and type(source).__module__.startswith("pandas"):
        frame = source

        def read_frame(block_rows: int) -> Iterator[Any]:
            for start in range(0, len(frame), block_rows):
                yield pa.Table.from_pandas(frame.iloc[start:start + block_rows], preserve_index=False)

        return Rows(len(frame), arrow_schema(pa.Schema.from_pandas(frame, preserve_index=False)), read_frame)
    import ray.data

    if isinstance(source, ray.data.Dataset):
        dataset = source

        def read_dataset(block_rows: int) -> Iterator[Any]:
            yield from dataset.iter_batches(batch_size=block_rows, batch_format="pyarrow", prefetch_batches=1)

        return Rows(dataset.count(), arrow_schema(dataset.schema()), read_dataset)
    return None
