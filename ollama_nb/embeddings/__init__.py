"""Embedding a column of texts: :meth:`Session.embed`, :meth:`Session.search` and ``%ollama embed``.

The wire side (``Client.embed``, :class:`~ollama_nb.Embeddings`) is the client's
(``ollama_nb/client/_embed.py``); this package is what sits on the session and the record.

Module map (read in this order):

- ``_embed_session``  plan an embedding (model, hosts, cache), ``embed_items`` and
  ``search_items`` behind ``Session.embed``/``Session.search``.
- ``_embed_job``      :class:`EmbedJob`: ``batch_size`` texts per request, spread over hosts with
  the batch's workers-per-host policy; progress and stop as a batch's.
- ``_embed_cache``    vectors kept in the record (table ``embeddings``), looked up by text and
  everything that decides a vector.

Example:
    >>> from ollama_nb import Session
    >>> matrix = Session(model="llama3.2").embed(["a cat", "a dog"], model="all-minilm")   # doctest: +SKIP
"""

from __future__ import annotations

from ._embed_job import EmbedJob
from ._embed_session import EmbedPlan, embed_items, plan_embedding, require, search_items

__all__ = ["EmbedJob", "EmbedPlan", "embed_items", "plan_embedding", "require", "search_items"]
