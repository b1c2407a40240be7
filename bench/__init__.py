"""Benchmarks of ollama_nb against the bundled simulator: ``python bench/run.py [--quick]``.

Every figure is a ratio against a baseline measured in the same run: contenders are run
interleaved (A, B, C, A, B, C, …) and each ratio is the median of the per-round ratios, so a
machine that slows down in the middle slows every contender of a round alike.
"""
