"""Seeing the simulated robot: MuJoCo's viewer where a display exists, and a recording of the
motion rendered off-screen, for a person to look at what happened.

A recording samples the simulation at `record_rate_hz` frames per *simulated* second (a lag the
simulator skips is not in it) and is written when the simulator closes, cleanly stopped: a
`.png` is a contact sheet of frames evenly spread over the run (memory stays bounded however
long it runs), an `.mp4` a video (streamed to a temporary file beside it, named at the end; it
needs the imageio-ffmpeg package). Neither a missing display nor a closed viewer window stops
the simulation; a recording that cannot be made fails at start, with what to install.
"""

from __future__ import annotations

import importlib
import math
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .arm import ArmSimulation, DisplayError, OffscreenCamera, Viewer
from .sim_settings import SimSettings

FRAME_SIZE = (512, 384)  # width, height (px): multiples of 16, as video encoders want them
SHEET_FRAMES = 16  # a contact sheet shows at most this many frames, evenly spread, and the last
SHEET_COLUMNS = 4
VIEWER_RATE_HZ = 30.0  # viewer refreshes per simulated second
MP4_ENCODER = "imageio_ffmpeg"  # module of the imageio-ffmpeg package (ships its own ffmpeg)

Frame = np.ndarray  # (height, width, 3) uint8 RGB


# -- PNG ------------------------------------------------------------------------------------------
def png_bytes(image: Frame) -> bytes:
    """`image` as a PNG file (8-bit RGB, no filtering): zlib only, no imaging library."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected (h, w, 3) uint8 RGB, got {image.shape} {image.dtype}")
    height, width, _ = image.shape
    rows = np.zeros((height, 1 + width * 3), dtype=np.uint8)  # each row: filter byte 0, pixels
    rows[:, 1:] = image.reshape(height, width * 3)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, truecolour
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


def contact_sheet(frames: list[Frame], columns: int = SHEET_COLUMNS) -> Frame:
    """`frames` (all one size) in a grid, left to right then down, each at half size."""
    tiles = [_half(frame) for frame in frames]
    height, width, _ = tiles[0].shape
    columns = min(columns, len(tiles))
    rows = math.ceil(len(tiles) / columns)
    sheet = np.zeros((rows * height, columns * width, 3), dtype=np.uint8)
    for index, tile in enumerate(tiles):
        row, column = divmod(index, columns)
        sheet[row * height : (row + 1) * height, column * width : (column + 1) * width] = tile
    return sheet


def _half(frame: Frame) -> Frame:
    """`frame` at half its size, each pixel the mean of a 2x2 block (odd edges dropped)."""
    height, width = frame.shape[0] // 2 * 2, frame.shape[1] // 2 * 2
    blocks = frame[:height, :width].reshape(height // 2, 2, width // 2, 2, 3)
    return np.asarray(blocks.mean(axis=(1, 3)).round(), dtype=np.uint8)


class EvenSample:
    """At most `limit` items of a stream of unknown length, evenly spread over it (every
    `stride`-th; the stride doubles when the store fills), plus always the latest."""

    def __init__(self, limit: int = SHEET_FRAMES) -> None:
        self.limit = limit
        self.kept: list[Frame] = []
        self.latest: Frame | None = None
        self.stride = 1
        self.count = 0

    def add(self, item: Frame) -> None:
        if self.count % self.stride == 0:
            self.kept.append(item)
            if len(self.kept) > self.limit:
                self.kept = self.kept[::2]
                self.stride *= 2
        self.latest = item
        self.count += 1

    def items(self) -> list[Frame]:
        last_kept = (self.count - 1) % self.stride == 0
        extra = [] if self.latest is None or last_kept else [self.latest]
        return self.kept + extra


# -- writers --------------------------------------------------------------------------------------
class _SheetWriter:
    def __init__(self, path: Path, rate_hz: float) -> None:
        self.path = path
        self.sample = EvenSample()

    def add(self, frame: Frame) -> None:
        self.sample.add(frame)

    def close(self) -> None:
        frames = self.sample.items()
        if frames:
            self.path.write_bytes(png_bytes(contact_sheet(frames)))


class _VideoWriter:
    def __init__(self, path: Path, rate_hz: float) -> None:
        try:
            encoder: Any = importlib.import_module(MP4_ENCODER)
        except ImportError as error:
            raise DisplayError(
                f"recording {path.name} needs the imageio-ffmpeg package (pip install "
                "imageio-ffmpeg); or record to a .png contact sheet"
            ) from error
        self.path = path
        self.partial = path.with_name(f".{path.stem}.partial{path.suffix}")
        self.frames: Any = encoder.write_frames(
            str(self.partial), FRAME_SIZE, fps=rate_hz, macro_block_size=16
        )
        self.frames.send(None)  # starts ffmpeg
        self.count = 0

    def add(self, frame: Frame) -> None:
        self.frames.send(np.ascontiguousarray(frame))
        self.count += 1

    def close(self) -> None:
        self.frames.close()  # ffmpeg finishes the file
        if self.count:
            os.replace(self.partial, self.path)
        else:
            self.partial.unlink(missing_ok=True)


_WRITERS: dict[str, Callable[[Path, float], _SheetWriter | _VideoWriter]] = {
    ".png": _SheetWriter,
    ".mp4": _VideoWriter,
}


class Recorder:
    """Frames of `render()` every 1/rate_hz simulated seconds, to `path` (.png or .mp4)."""

    def __init__(self, path: str | Path, rate_hz: float, render: Callable[[], Frame]) -> None:
        self.path = Path(path).expanduser().resolve()
        if not self.path.parent.is_dir():
            raise DisplayError(f"cannot record to {self.path}: {self.path.parent} is no folder")
        writer = _WRITERS.get(self.path.suffix.lower())
        if writer is None:
            raise DisplayError(f"cannot record to {self.path}: use {' or '.join(_WRITERS)}")
        self.period_s = 1.0 / rate_hz
        self.render = render
        self.writer = writer(self.path, rate_hz)
        self.next_frame_s = -math.inf
        self.frames = 0

    def offer(self, sim_time: float) -> None:
        """Render a frame if one is due at `sim_time` (s): at most one per call."""
        if sim_time + 1e-9 < self.next_frame_s:
            return
        self.writer.add(self.render())
        self.frames += 1
        start = sim_time if self.next_frame_s == -math.inf else self.next_frame_s
        self.next_frame_s = start + self.period_s * (
            math.floor((sim_time - start) / self.period_s + 1e-9) + 1
        )

    def close(self) -> str:
        """Write the file; a line saying what was written."""
        self.writer.close()
        if not self.frames:
            return f"recording: no frame rendered, {self.path} not written"
        return f"recording: wrote {self.path} ({self.frames} frames)"


# -- the simulator's view -------------------------------------------------------------------------
class SimView:
    """The viewer and the recorder of one simulation, as `settings` ask for them. `warnings`
    (why there is no viewer) and `notes` (where the recording goes) are one-line messages for
    a person. Call `update()` after each advance of the simulation, `close()` at the end."""

    def __init__(self, sim: ArmSimulation, settings: SimSettings) -> None:
        self.sim = sim
        self.warnings: list[str] = []
        self.notes: list[str] = []
        self.viewer: Viewer | None = None
        self.camera: OffscreenCamera | None = None
        self.recorder: Recorder | None = None
        self.next_sync_s = -math.inf
        if settings.viewer:
            try:
                self.viewer = Viewer(sim)
            except DisplayError as error:
                self.warnings.append(f"viewer: {error}; the simulation runs without it")
        if settings.record:
            self.camera = OffscreenCamera(sim, *FRAME_SIZE)
            try:
                self.recorder = Recorder(
                    settings.record, settings.record_rate_hz, self.camera.render
                )
            except DisplayError:
                self.camera.close()
                raise
            self.notes.append(
                f"recording: {settings.record_rate_hz:g} frames per simulated second, written "
                f"to {self.recorder.path} at shutdown"
            )

    def update(self) -> None:
        now = self.sim.time
        if self.viewer is not None and now + 1e-9 >= self.next_sync_s:
            if self.viewer.running:
                self.viewer.sync()
            else:  # its window was closed: the simulation goes on
                self.viewer = None
            self.next_sync_s = now + 1.0 / VIEWER_RATE_HZ
        if self.recorder is not None:
            self.recorder.offer(now)

    def close(self) -> list[str]:
        """Close the viewer, write the recording; what was written, as lines. Idempotent."""
        lines = []
        if self.viewer is not None:
            self.viewer.close()
            self.viewer = None
        if self.recorder is not None:
            lines.append(self.recorder.close())
            self.recorder = None
        if self.camera is not None:
            self.camera.close()
            self.camera = None
        return lines
