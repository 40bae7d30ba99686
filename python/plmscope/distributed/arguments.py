"""Command-line flags for running a command's oracle queries on a Ray cluster.

A command adds the flags with :func:`add_ray_arguments` and turns them into an executor with
:func:`executor_from_args` (None without ``--ray``: run locally).
"""
from __future__ import annotations

from .executor import INSTALL_HINT, RayExecutor, require_ray


def add_ray_arguments(parser) -> None:
    """``--ray ADDRESS`` and the actor sizing flags, as one argument group."""
    g = parser.add_argument_group("Ray cluster (pip install 'plmscope[distributed]')")
    g.add_argument("--ray", metavar="ADDRESS", default=None,
                   help="score the queries on a Ray cluster: 'auto' (the one this machine "
                        "joined with `ray start`), host:port, ray://host:port, or 'local' to "
                        "start one here")
    g.add_argument("--ray-actors", type=int, default=None,
                   help="actors (model copies) to start (default: one per GPU of the cluster)")
    g.add_argument("--ray-gpus", type=float, default=None,
                   help="GPUs per actor (default: 1 when the cluster has GPUs, else 0)")
    g.add_argument("--ray-cpus", type=float, default=None, help="CPUs per actor (default 1)")
    g.add_argument("--ray-shard-size", type=int, default=None,
                   help="variants per actor call (default: one --batch-size batch)")


def executor_from_args(address: str | None, num_actors: int | None = None,
                       gpus_per_actor: float | None = None, cpus_per_actor: float | None = None,
                       shard_size: int | None = None, progress: bool | None = None):
    """The executor for a command's ``--ray ADDRESS`` flag: None (run locally) when no
    address was given, else a :class:`RayExecutor` ("auto", host:port, ray://host:port, or
    "local" to start a Ray cluster on this machine). Raises ValueError when Ray is missing or
    a value is bad, naming the flag."""
    if address is None:
        return None
    try:
        require_ray()
    except ImportError as exc:
        raise ValueError(f"--ray {address} needs Ray, which is not installed: "
                         f"{INSTALL_HINT}") from exc
    flags = {"num_actors": "--ray-actors", "num_gpus": "--ray-gpus", "num_cpus": "--ray-cpus",
             "shard_size": "--ray-shard-size"}
    try:
        return RayExecutor(address=None if address == "local" else address,
                           num_actors=num_actors, num_gpus=gpus_per_actor,
                           num_cpus=cpus_per_actor, shard_size=shard_size, progress=progress)
    except ValueError as exc:
        text = str(exc)
        for name, flag in flags.items():
            if text.startswith(name + " "):
                text = f"{flag}: {text}"
        raise ValueError(text) from None
