"""`llm-mas-ros bench`: every section in turn, in the ROS domain the command line gives it
(cli.py claims a free one, limited to this host, and inits rclpy), then the JSON, the
markdown report and the plots into the --out folder. Progress goes to stderr, one line per
step; the report (or the JSON with --json) to stdout.

Configs and node logs go to a temporary folder, removed when the run succeeded and named in
the error when it did not.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from ..core.errors import ConfigError, LlmMasError
from ..eval.provenance import cpu_info, git_state, machine, software_versions
from . import bench_plots, bench_report
from . import control_sections as C
from .bench_settings import BenchSettings
from .instruction_timings import instructions, model_unavailable

JSON_FILE = "bench.json"
MARKDOWN_FILE = "bench.md"
ROS_PACKAGES = ("ros-rclpy", "ros-rmw-fastrtps-cpp")  # what decides the hop cost
T = TypeVar("T")


class Progress:
    """One line per step on stderr, with the seconds since the bench began; how long each
    section took (s), for the JSON's meta."""

    def __init__(self) -> None:
        self.began = time.monotonic()
        self.section_s: dict[str, float] = {}

    def __call__(self, text: str) -> None:
        print(f"bench [{self.elapsed:6.1f} s] {text}", file=sys.stderr, flush=True)

    def section(self, name: str, what: str, run: Callable[[], T]) -> T:
        self(f"{name}: {what}")
        began = time.monotonic()
        result = run()
        self.section_s[name] = round(time.monotonic() - began, 1)
        return result

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.began


def writable(out: Path) -> Path:
    """`out`, created, once a file can be written in it; a ConfigError (one line) otherwise."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        raise ConfigError(f"--out {out}: cannot write there ({error.strerror})") from error
    return out


def run_bench(settings: BenchSettings, out: Path, as_json: bool) -> int:
    """Run every section, write the results into `out` (writable()), print the report."""
    progress = Progress()
    work = Path(tempfile.mkdtemp(prefix="llm_mas_ros-bench-"))
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        sections, notes = _sections(settings, work, progress)
    except RuntimeError as error:  # a system that died or never became ready
        raise LlmMasError(f"{error} (the nodes' logs are in {work})") from error
    meta = {**_meta(started_at, progress.elapsed), "section_s": progress.section_s}
    result = bench_report.assemble(
        meta, dataclasses.asdict(settings), {**sections, "notes": notes}
    )
    _write(result, out, progress)
    print(json.dumps(result) if as_json else bench_report.markdown(result), flush=True)
    missing = bench_report.problems(result)
    if missing:
        raise LlmMasError(f"incomplete result: {'; '.join(missing)} (logs in {work})")
    shutil.rmtree(work, ignore_errors=True)
    return 0


def _sections(
    settings: BenchSettings, work: Path, progress: Progress
) -> tuple[dict[str, Any], list[str]]:
    model_reason = model_unavailable(settings.planner)
    if model_reason is None:
        _convert_model(settings.planner, progress)
    rates = ", ".join(f"{rate:g}" for rate in settings.rates_hz)
    step = progress.section
    control = step(
        "sense_act",
        f"tuned, naive, floors at {rates} Hz, {settings.seconds:g} s each",
        lambda: C.sense_act(settings, work),
    )
    notes = [note for note in [control.pop("weights_note", "")] if note]
    counts = ", ".join(map(str, settings.scaling_agents))
    sections = {
        **control,
        "starts": step(
            "starts",
            f"start->ready, tuned x{settings.starts}, naive x{settings.naive_starts}",
            lambda: C.starts(settings, work),
        ),
        "scaling": step(
            "scaling", f"tuned with {counts} agents", lambda: C.scaling(settings, work)
        ),
        "while_decoding": step(
            "while_decoding",
            f"sense->act beside the planner ({settings.decode_load} load)",
            lambda: C.while_decoding(settings, work, model_reason),
        ),
        "instructions": step(
            "instructions",
            f"-> first command / done, {settings.trials} of each kind",
            lambda: instructions(settings, work, model_reason),
        ),
    }
    if model_reason:
        notes.append(f"model instructions not measured: {model_reason}")
    return sections, notes


def _convert_model(planner: str, progress: Progress) -> None:
    """The very first start converts the embedded model (~30 s): here, said, not inside the
    planner's ready time."""
    if planner != "smollm2":
        return
    from ..core.planning.llm.models import convert_smollm2, smollm2_converted

    if not smollm2_converted():
        progress("converting the embedded model once (~30 s)")
        convert_smollm2()


def _command() -> str:
    """This run as a person types it: `llm-mas-ros bench ...`."""
    argv = sys.argv[1:]
    flags = argv[argv.index("bench") + 1 :] if "bench" in argv else argv  # or the script's
    return shlex.join(["llm-mas-ros", "bench", *flags])


def _meta(started_at: str, wall_s: float) -> dict[str, Any]:
    software: dict[str, str | None] = dict(software_versions())
    for name in ROS_PACKAGES:
        try:
            software[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            software[name] = None
    return {
        "command": _command(),
        "machine": machine(),
        "cpu": cpu_info()["model"],
        "software": software,
        "rmw": os.environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp (default)"),
        "ros_domain_id": os.environ.get("ROS_DOMAIN_ID"),
        "git": git_state(Path(__file__).resolve().parent),
        "started_at": started_at,
        "ended_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_s": round(wall_s, 1),
    }


def _write(result: dict[str, Any], out: Path, progress: Progress) -> None:
    (out / JSON_FILE).write_text(json.dumps(result, indent=1, allow_nan=False) + "\n")
    (out / MARKDOWN_FILE).write_text(bench_report.markdown(result))
    bench_plots.latency_cdfs(result, out / bench_plots.CDF_FILE)
    bench_plots.scaling_curve(result, out / bench_plots.SCALING_FILE)
    progress(
        f"wrote {JSON_FILE}, {MARKDOWN_FILE}, {bench_plots.CDF_FILE}, "
        f"{bench_plots.SCALING_FILE} into {out}"
    )
