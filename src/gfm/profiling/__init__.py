"""Profiles of GFM networks like the paper's Table 7: parameters, MACs, latency, memory.

* :mod:`gfm.profiling.complexity`: parameters and multiply-accumulates, counted
  on the meta device (:func:`~gfm.profiling.complexity.count_complexity`);
* :mod:`gfm.profiling.profiler`: the whole profile of a variant or checkpoint,
  timed in a fresh child process (:func:`~gfm.profiling.profiler.profile_model`),
  and its Markdown / JSON tables (what ``gfm profile`` prints).

Importing this package imports neither torch nor a model: the submodules do.
"""
