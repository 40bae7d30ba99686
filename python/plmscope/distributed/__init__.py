"""Spread the oracle queries of an experiment over a Ray cluster (the ``[distributed]`` extra).

* :class:`RayExecutor` - pass as ``executor=`` to :func:`plmscope.fourier.qsft.recover`:
  actors, one per GPU or CPU worker, build the oracle once and score shards of the query
  design; answers stream into the same store as a local run.
* :func:`add_ray_arguments`, :func:`executor_from_args` - a command's ``--ray ADDRESS`` flags
  and the executor they ask for.
* :func:`run_queries` - score any variants (held-out sets, full landscapes) through an executor.
* :class:`LazyOracle` - an oracle known by its ``OracleSpec``, so the driver never loads the model.
* :func:`estimate_run` - how long a run takes on G GPUs (``plmscope plan``).

Ray is imported only when a run starts, so this package imports without it.
"""
from .actor import LazyOracle, OracleActor, OracleRecipe, oracle_recipe
from .arguments import add_ray_arguments, executor_from_args
from .executor import RayExecutor, require_ray, run_queries
from .progress import ActorStats, ClusterProgress
from .schedule import RunEstimate, estimate_run

__all__ = ["RayExecutor", "add_ray_arguments", "executor_from_args", "require_ray",
           "run_queries", "LazyOracle", "OracleActor", "OracleRecipe", "oracle_recipe",
           "ActorStats", "ClusterProgress", "RunEstimate", "estimate_run"]
