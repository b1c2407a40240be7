"""``Session.embed`` and ``Session.search``: a column of texts to a float32 matrix, and the nearest items.

Texts go ``batch_size`` at a time per ``/api/embed`` request (:class:`~ollama_nb.embeddings._embed_job.EmbedJob`),
across hosts. Identical texts are sent once. With a record and ``cache=True`` every vector is kept
in it (:class:`~ollama_nb.embeddings._embed_cache.EmbeddingCache`), keyed by model digest, Ollama version,
``dimensions``, ``truncate`` and the text, so embedding the same column again sends nothing, also
after a restart. numpy (and pandas for frames and :func:`search_items`) are imported only here,
inside the functions: the ``data`` extra.

Example:
    >>> from ollama_nb import Session
    >>> vectors = Session(model="nomic-embed-text").embed(["a cat", "a dog"])   # doctest: +SKIP
    >>> vectors.shape, vectors.dtype                                           # doctest: +SKIP
    ((2, 768), dtype('float32'))
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .._errors import Interrupted, MissingExtraError, NoModelError
from ..batch import items_of, render
from ..client import resolve_host
from ._embed_cache import Cached, EmbeddingCache, config_key
from ._embed_job import DEFAULT_CONCURRENCY, EmbedJob

if TYPE_CHECKING:
    import numpy

    from .._session import Session

__all__ = ["DEFAULT_BATCH_SIZE", "EmbedPlan", "embed_items", "plan_embedding", "require", "search_items"]

DEFAULT_BATCH_SIZE = 64


def require(module: str, what: str) -> Any:
    """Import ``module`` of the ``data`` extra, or raise a one-line :class:`MissingExtraError`.

    Example:
        >>> require("no_such_module_here", "Session.embed")
        Traceback (most recent call last):
        ollama_nb._errors.MissingExtraError: Session.embed needs no_such_module_here: pip install 'ollama_nb[data]'
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(module, "data", what) from None


def host_list(hosts: Sequence[str] | str | None, default: str) -> list[str]:
    """Host URLs without duplicates: a list, a comma-separated string, or None for ``default``."""
    if isinstance(hosts, str):
        hosts = [h for h in hosts.split(",") if h.strip()]
    return list(dict.fromkeys(resolve_host(h.strip()) for h in hosts)) if hosts else [default]


def item_texts(items: Any, text: str | Callable[[Any], str] | None) -> tuple[list[str], list[Any]]:
    """The text of each item and its label; ``text`` is a template (``{item.title}``) or a function."""
    found = items_of(items)
    if found.kind == "frame" and text is None:
        raise ValueError("a DataFrame needs text=, a template such as '{item.title}: {item.body}'.")
    if text is None:
        texts = [value if isinstance(value, str) else str(value) for value in found.values]
    else:
        texts = [render(text, value, label, {}) for value, label in zip(found.values, found.labels, strict=True)]
    return texts, list(found.labels)


@dataclass
class EmbedPlan:
    """One ``Session.embed`` call: the texts, what the record had, and the job for the rest."""

    model: str
    texts: list[str]
    labels: list[Any]
    unique: list[str]
    cached: Cached
    job: EmbedJob | None
    new: dict[str, list[float]] = field(default_factory=dict)
    recorded: bool = False  # the new vectors go to the record (else they live only in this call)

    def matrix(self) -> numpy.ndarray:
        """The float32 matrix, one row per item in input order; raises the job's error or Interrupted."""
        np = require("numpy", "Session.embed")
        job = self.job
        found = self.cached.where
        missing = [t for t in self.unique if t not in found and t not in self.new]
        if job is not None and job.error is not None:
            raise job.error
        if missing and self.recorded:
            raise Interrupted(what=f"embedding {len(self.unique)} texts", detail=(
                f"stopped: {len(self.new)} new vectors are kept in the record, {len(missing)} texts were not sent"),
                hint="Run it again: only the texts not embedded yet are sent.")
        if missing:
            raise Interrupted(what=f"embedding {len(self.unique)} texts", detail=(
                f"stopped: {len(missing)} texts were not sent, and with no record the {len(self.new)} vectors "
                "received are not kept"),
                hint="Turn the record on to keep them (OLLAMA_NB_DB, or %config OllamaMagics.db).")
        blocks = self.cached.blocks.values()  # one matrix per block, then one gather in input order
        pool = [np.frombuffer(vectors, dtype="<f4").reshape(-1, width) for width, vectors in blocks]
        start_of, start = {}, 0
        for block, array in zip(self.cached.blocks, pool, strict=True):
            start_of[block] = start
            start += len(array)
        row_of = {text: start_of[block] + row for text, (block, row) in self.cached.where.items()}
        if self.new:
            pool.append(np.asarray(list(self.new.values()), dtype=np.float32))
            row_of.update((text, start + index) for index, text in enumerate(self.new))
        widths = {array.shape[1] for array in pool if len(array)}
        if len(widths) > 1:
            raise ValueError(f"the vectors have different lengths {sorted(widths)}; "
                             "embed with one model and dimensions.")
        if not widths:
            return np.zeros((len(self.texts), 0), dtype=np.float32)
        table = np.concatenate([a.astype(np.float32, copy=False) for a in pool if len(a)]) if len(pool) > 1 else pool[0]
        order = np.fromiter((row_of[text] for text in self.texts), dtype=np.intp, count=len(self.texts))
        return np.take(table, order, axis=0)


def _cache_for(session: Session, model: str, dimensions: int | None, truncate: bool | None) -> EmbeddingCache | None:
    record = session.record
    if record is None:
        return None
    client = session.client
    full = model if ":" in model.rsplit("/", 1)[-1] else f"{model}:latest"
    digest = next((str(m.raw.get("digest") or "") for m in client.models() if m.name in (model, full)), "")
    return EmbeddingCache(record, config_key(full, digest, client.version(), dimensions, truncate), full)


def plan_embedding(session: Session, items: Any, *, model: str | None = None,
                   text: str | Callable[[Any], str] | None = None, dimensions: int | None = None,
                   truncate: bool | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                   hosts: Sequence[str] | str | None = None, concurrency: int | None = None,
                   cache: bool = True, keep_alive: float | str | None = None) -> EmbedPlan:
    """Render the texts, take what the record has, and build (not start) the job for the rest."""
    chosen = model or session.model
    if not chosen:
        raise NoModelError()
    texts, labels = item_texts(items, text)
    unique = list(dict.fromkeys(texts))
    store = _cache_for(session, chosen, dimensions, truncate) if cache and unique else None
    cached = store.lookup(unique) if store is not None else Cached({}, {})
    plan = EmbedPlan(chosen, texts, labels, unique, cached, None, recorded=store is not None)
    to_send = [t for t in unique if t not in cached.where]
    if not to_send:
        return plan

    def keep(chunk: Sequence[str], vectors: list[list[float]]) -> None:
        if store is not None:
            store.store(chunk, vectors)
        plan.new.update(zip(chunk, vectors, strict=True))

    params = {"dimensions": dimensions, "truncate": truncate, "keep_alive": keep_alive}
    plan.job = EmbedJob(chosen, to_send, hosts=host_list(hosts, session.host), batch_size=batch_size,
                        concurrency=concurrency or DEFAULT_CONCURRENCY, params=params, on_chunk=keep,
                        reused=len(texts) - len(to_send))
    return plan


def embed_items(session: Session, items: Any, **settings: Any) -> numpy.ndarray:
    """Embed every item (see :meth:`Session.embed`); blocks until done; Ctrl-C stops and keeps what finished."""
    require("numpy", "Session.embed")
    plan = plan_embedding(session, items, **settings)
    if plan.job is not None:
        plan.job.start().wait()
    return plan.matrix()


def search_items(session: Session, query: str, items: Any, *, k: int = 5, model: str | None = None,
                 text: str | Callable[[Any], str] | None = None, **settings: Any) -> Any:
    """The ``k`` items nearest to ``query`` by cosine similarity, as a DataFrame (index, score, text)."""
    np = require("numpy", "Session.search")
    pandas = require("pandas", "Session.search")
    plan = plan_embedding(session, items, model=model, text=text, **settings)
    if plan.job is not None:
        plan.job.start().wait()
    matrix = plan.matrix()
    wanted = embed_items(session, [query], model=model, **settings)[0]
    norms = np.linalg.norm(matrix, axis=1) * max(float(np.linalg.norm(wanted)), 1e-12)
    scores = (matrix @ wanted) / np.maximum(norms, 1e-12)
    order = np.argsort(-scores, kind="stable")[: max(int(k), 0)]
    return pandas.DataFrame({"index": [plan.labels[i] for i in order], "score": scores[order].astype(float),
                             "text": [plan.texts[i] for i in order]})
