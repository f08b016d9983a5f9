"""Run independent, seeded work items in parallel: in this process, in processes, or on Ray.

Why one helper: rolling out episodes of the MuJoCo env (for demonstrations or for evaluation)
is the slow part of training, and every item is independent of the others. The budget is small
(2 CPU cores on the reference machine), so each worker gets one core's worth of threads: a
worker process that let OpenMP, MKL or torch start a thread per core would fight the other
workers for the same 2 cores and make the whole run slower than running in order.

Determinism: results depend only on the items, never on how many workers ran them nor on the
order they finished in. The caller puts everything an item needs into the item itself (its
config and its chunk of episode seeds) and derives every random stream from those seeds,
never from a worker's id; the results come back in the order of the items. So `workers=0`
(the default, in this process, in order), `workers=2` and a Ray cluster give equal results.

Three back ends, one call (`fan_out`):
- `workers == 0`, no Ray address: in this process, in order (tests, tiny budgets, debugging);
- `workers > 0`: a pool of `workers` spawned processes (never forked: the parent may already
  run rclpy or torch threads, which a fork would copy in an unusable state);
- `ray_address`: one Ray task per item, with one CPU each; "local" starts a private Ray
  instance of `workers` CPUs (all of this machine's if 0) for the duration of the call.

A failing item fails the whole call with a `WorkerError` naming the item; work not yet started
is cancelled first, and the pool or the Ray instance this call started is shut down.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import socket
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Any, TextIO, TypeVar

from ..core.errors import ConfigError, LlmMasError

Item = TypeVar("Item")
Result = TypeVar("Result")
Progress = Callable[[int, int], None]  # (items done, items in all)

# Thread pools of the numeric libraries, capped at one thread per worker (see the docstring).
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
# A cluster address that does not answer within this (s) is reported at once: Ray itself
# retries an unreachable head for many minutes (20 attempts of ~40 s each in Ray 2.60).
CONNECT_PROBE_S = 5.0
RAY_HINT = "start one with `ray start --head` or drop --ray"
AUTH_HINT = (
    "the cluster wants its authentication token: set RAY_AUTH_MODE=token, with the token in "
    "~/.ray/auth_token or RAY_AUTH_TOKEN (`ray get-auth-token`), or use --ray auto on the head"
)


class WorkerError(LlmMasError):
    """A work item raised. The message names the item and the original error, which is also
    this error's `__cause__`; `index` is the item's position in `items`."""

    def __init__(self, message: str, index: int = -1, error_type: str = "") -> None:
        # Only the message is positional, so the error survives pickling (a nested fan_out).
        super().__init__(message)
        self.index = index
        self.error_type = error_type


def fan_out(
    function: Callable[[Item], Result],
    items: Iterable[Item],
    *,
    workers: int = 0,
    ray_address: str | None = None,
    progress: Progress | None = None,
    label: str = "items",
) -> list[Result]:
    """`[function(item) for item in items]`, in the order of `items`, run in parallel.

    `function` must be a picklable top-level function (processes and Ray import it by name)
    and each item picklable. `workers`: processes to run them in (0: in this process), or the
    CPUs of a "local" Ray instance. `ray_address`: "auto", "local", "host:6379" or
    "ray://host:10001" to run on Ray instead (a Ray already initialised in this process is
    used as is, whatever the address). `progress(done, total)` is called in this process
    after each item. `label` names the items in error messages ("episodes", "rollouts").
    Raises `WorkerError` when an item raises, `ConfigError` for bad arguments or no Ray.
    """
    if workers < 0:
        raise ConfigError(f"workers must be 0 (in this process) or more, not {workers}")
    if ray_address is not None and not ray_address.strip():
        raise ConfigError("the Ray address is empty: give 'auto', 'local' or host:port")
    work = list(items)
    if not work:
        return []
    if ray_address is not None:
        with ray_session(ray_address, workers) as ray:
            return _on_ray(ray, function, work, progress, label)
    if workers == 0:
        return _in_this_process(function, work, progress, label)
    return _in_processes(function, work, workers, progress, label)


def progress_printer(label: str, stream: TextIO | None = None) -> Progress:
    """A `progress` callback printing `label: done/total` about every 10 % and at the end,
    to `stream` (standard error, looked up at each call, when None)."""
    printed = 0

    def report(done: int, total: int) -> None:
        nonlocal printed
        printed = min(printed, done)  # a new run with the same printer starts over
        if done == total or done - printed >= math.ceil(total / 10):
            out = sys.stderr if stream is None else stream
            print(f"{label}: {done}/{total}", file=out, flush=True)
            printed = done

    return report


@contextmanager
def ray_session(address: str, workers: int = 0) -> Iterator[Any]:
    """The `ray` module, initialised at `address` for the duration of the block, and shut
    down afterwards only if this block initialised it: several `fan_out` calls inside one
    block (training, then evaluation) share one Ray instance instead of starting one each."""
    try:
        import ray
    except ImportError as error:
        raise ConfigError(
            f"--ray {address} needs Ray, which is not installed: pip install ray "
            "(the version in requirements.txt), or drop --ray"
        ) from error
    if ray.is_initialized():
        yield ray
        return
    _connect(ray, address, workers)
    try:
        yield ray
    finally:
        ray.shutdown()


def one_thread_each() -> None:
    """Cap this worker's numeric thread pools at one thread. The variables reach libraries
    loaded from now on; torch, if already loaded, is told directly (never imported here:
    a worker that does not need it should not pay for it)."""
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def _in_this_process(
    function: Callable[[Item], Result],
    work: Sequence[Item],
    progress: Progress | None,
    label: str,
) -> list[Result]:
    results = []
    for index, item in enumerate(work):
        try:
            results.append(function(item))
        except Exception as error:
            raise _failure(label, index, len(work), error) from error
        if progress is not None:
            progress(index + 1, len(work))
    return results


def _in_processes(
    function: Callable[[Item], Result],
    work: Sequence[Item],
    workers: int,
    progress: Progress | None,
    label: str,
) -> list[Result]:
    results: list[Any] = [None] * len(work)
    context = multiprocessing.get_context("spawn")  # never fork: see the module docstring
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(work)), mp_context=context, initializer=one_thread_each
    )
    # Leaving the block always shuts the pool down: on a failure (or Ctrl-C) the items not
    # started are cancelled, the running ones (at most one per worker) finish, the workers
    # exit and are joined, so no process outlives the call.
    with pool:
        futures: dict[Future[Result], int] = {
            pool.submit(function, item): index for index, item in enumerate(work)
        }
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                index = futures[future]
                try:
                    results[index] = future.result()
                except Exception as error:
                    raise _failure(label, index, len(work), error) from error
                if progress is not None:
                    progress(done, len(work))
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return results


def _on_ray(
    ray: Any,
    function: Callable[[Item], Result],
    work: Sequence[Item],
    progress: Progress | None,
    label: str,
) -> list[Result]:
    results: list[Any] = [None] * len(work)
    task = ray.remote(num_cpus=1)(_call)
    shared = ray.put(function)  # sent to the object store once, not once per task
    refs = {task.remote(shared, item): index for index, item in enumerate(work)}
    pending = list(refs)
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            index = refs[ready[0]]
            try:
                results[index] = ray.get(ready[0])
            except Exception as error:
                # A RayTaskError wraps what the task raised: name that, not the wrapper.
                cause = getattr(error, "cause", None) or error
                raise _failure(label, index, len(work), cause) from error
            if progress is not None:
                progress(len(work) - len(pending), len(work))
    except BaseException:
        for ref in pending:  # force: a cancelled rollout should stop now, not finish
            ray.cancel(ref, force=True)
        raise
    return results


def _call(function: Callable[[Item], Result], item: Item) -> Result:
    """One Ray task. Ray starts its workers with OMP_NUM_THREADS=1 already, unless the
    driver's environment sets it; this makes sure, as for the processes."""
    one_thread_each()
    return function(item)


def _connect(ray: Any, address: str, workers: int) -> None:
    quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if address == "local":
            ray.init(
                address="local",
                num_cpus=workers or os.cpu_count(),
                include_dashboard=False,
                **quiet,
            )
        else:
            _probe(address)
            ray.init(address=address, **quiet)
    except ConfigError:
        raise
    except Exception as error:
        where = "start a local Ray instance" if address == "local" else f"reach Ray at {address}"
        hint = AUTH_HINT if _refused_token(error) else RAY_HINT
        raise ConfigError(
            f"cannot {where}: {type(error).__name__}: {_first_line(error)}; {hint}"
        ) from error


def _refused_token(error: BaseException | None) -> bool:
    """Whether the cluster refused us for want of its token. In Ray 2.60 a head started
    without RAY_AUTH_MODE uses token authentication, but a driver given an explicit address
    does not send the token unless RAY_AUTH_MODE=token; Ray then only says it cannot connect
    (after ~20 s of retries), the reason being in the text of an error down the chain."""
    while error is not None:
        if "InvalidAuthToken" in str(error) or type(error).__name__ == "AuthenticationError":
            return True
        error = error.__cause__ or error.__context__
    return False


def _probe(address: str) -> None:
    """Fail at once, and readably, when nothing answers at a `host:port` or `ray://host:port`
    address: Ray would retry for many minutes. 'auto' and other schemes are Ray's to resolve."""
    scheme, _, rest = address.rpartition("://")
    host, _, port = rest.rpartition(":")
    if scheme not in ("", "ray") or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_PROBE_S).close()
    except OSError as error:
        raise ConfigError(
            f"cannot reach a Ray cluster at {address}: {error.strerror or error}; {RAY_HINT}"
        ) from error


def _failure(label: str, index: int, total: int, error: BaseException) -> WorkerError:
    kind = type(error).__name__
    return WorkerError(
        f"{label}: item [{index}] of {total} failed: {kind}: {error}", index=index, error_type=kind
    )


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else "no details"
