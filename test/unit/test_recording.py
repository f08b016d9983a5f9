"""Seeing the simulated robot: off-screen recordings and the viewer, without ROS."""

import os
import struct
import sys
import zlib

import numpy as np
import pytest

from llm_mas_ros.core.errors import ConfigError
from llm_mas_ros.core.sim import arm as arm_module
from llm_mas_ros.core.sim.arm import ArmSimulation, DisplayError, OffscreenCamera
from llm_mas_ros.core.sim.recording import (
    FRAME_SIZE,
    EvenSample,
    Recorder,
    SimView,
    contact_sheet,
    png_bytes,
)
from llm_mas_ros.core.sim.sim_settings import SimSettings, sim_settings_from_params


def read_png(data: bytes) -> np.ndarray:
    """The pixels of an 8-bit RGB PNG with filter 0 rows (what png_bytes writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    chunks, offset = {}, 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        crc = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])[0]
        assert crc == zlib.crc32(kind + body)
        chunks[kind] = body
        offset += 12 + length
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(height, -1)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(height, width, 3)


def offscreen_reason() -> str | None:
    """Why MuJoCo cannot render off-screen on this machine, or None."""
    try:
        camera = OffscreenCamera(ArmSimulation(_robot()), 32, 24)
    except DisplayError as error:
        return str(error)
    camera.close()
    return None


def _robot():
    from llm_mas_ros.core.robot.model import load_robot

    return load_robot()


@pytest.fixture(scope="module")
def can_render() -> None:
    reason = offscreen_reason()
    if reason:
        pytest.skip(f"no off-screen OpenGL backend here: {reason}")


def test_png_bytes_round_trip():
    image = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    assert (read_png(png_bytes(image)) == image).all()
    with pytest.raises(ValueError, match="uint8 RGB"):
        png_bytes(np.zeros((2, 2), dtype=np.uint8))


def test_even_sample_stays_bounded_spread_and_keeps_the_last():
    sample = EvenSample(limit=4)
    for number in range(21):
        sample.add(np.full((1, 1, 3), number, dtype=np.uint8))
    kept = [int(item[0, 0, 0]) for item in sample.items()]
    assert kept == [0, 8, 16, 20]


def test_contact_sheet_tiles_half_size_frames_in_a_grid():
    frames = [np.full((4, 6, 3), value, dtype=np.uint8) for value in (10, 20, 30, 40, 50)]
    sheet = contact_sheet(frames, columns=2)
    assert sheet.shape == (3 * 2, 2 * 3, 3)
    assert sheet[0, 0, 0] == 10 and sheet[0, 3, 0] == 20 and sheet[4, 0, 0] == 50
    assert sheet[4, 3, 0] == 0  # the empty last tile


def test_the_record_setting_names_a_png_or_an_mp4():
    assert sim_settings_from_params({"record": "out.PNG"}).record == "out.PNG"
    with pytest.raises(ConfigError, match=r"record must name a \.png or \.mp4 file"):
        sim_settings_from_params({"record": "out.gif"})


def test_a_recording_to_a_missing_folder_fails_at_start(tmp_path):
    with pytest.raises(DisplayError, match="is no folder"):
        Recorder(tmp_path / "nowhere" / "out.png", 25.0, lambda: np.zeros((2, 2, 3), np.uint8))


def test_frames_are_rendered_at_the_rate_of_simulated_time(tmp_path):
    rendered = []

    def render():
        rendered.append(1)
        return np.zeros((4, 4, 3), np.uint8)

    recorder = Recorder(tmp_path / "out.png", 25.0, render)
    for step in range(501):  # 1 s of 500 Hz physics
        recorder.offer(step / 500)
    assert len(rendered) == 26  # at 0, 0.04, ..., 1.0 s
    recorder.offer(3.0)  # after a skip: one frame, not a burst
    assert len(rendered) == 27


def test_a_simulation_is_recorded_off_screen_to_a_png(arm, tmp_path, can_render):
    sim = ArmSimulation(arm)
    path = tmp_path / "motion.png"
    view = SimView(sim, SimSettings(record=str(path), record_rate_hz=25.0))
    assert view.warnings == [] and str(path) in view.notes[0]
    sim.set_command(arm.joint_names.index("elbow_joint"), 1.0)
    for _ in range(50):  # 1 s at 500 Hz, 10 steps per advance: frames at 0.02, 0.06 .. 0.98 s
        sim.step(10)
        view.update()
    assert not path.exists()  # written at close, not before
    (line,) = view.close()
    assert line == f"recording: wrote {path} (25 frames)"
    assert view.close() == []  # idempotent
    sheet = read_png(path.read_bytes())
    width, height = FRAME_SIZE
    assert sheet.shape[1] == 4 * (width // 2) and sheet.shape[0] % (height // 2) == 0
    first, last = sheet[: height // 2, : width // 2], sheet[-height // 2 :, : width // 2]
    assert first.max() > 0, "the arm is drawn"
    assert np.abs(first.astype(int) - last.astype(int)).sum() > 0, "the arm moved"


def test_an_mp4_without_imageio_ffmpeg_says_what_to_install(
    arm, tmp_path, can_render, monkeypatch
):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # import fails as if absent
    with pytest.raises(DisplayError, match="needs the imageio-ffmpeg package"):
        SimView(ArmSimulation(arm), SimSettings(record=str(tmp_path / "out.mp4")))


def test_a_simulation_is_recorded_to_an_mp4(arm, tmp_path, can_render):
    pytest.importorskip("imageio_ffmpeg", reason="imageio-ffmpeg is not installed")
    sim = ArmSimulation(arm)
    path = tmp_path / "motion.mp4"
    view = SimView(sim, SimSettings(record=str(path)))
    for _ in range(25):
        sim.step(10)
        view.update()
    assert view.close() == [f"recording: wrote {path} (13 frames)"]
    assert path.stat().st_size > 1000 and b"ftyp" in path.read_bytes()[:64]
    assert list(tmp_path.iterdir()) == [path]  # the partial file was renamed


def test_the_viewer_without_a_display_is_one_line_and_the_simulation_runs_on(arm, monkeypatch):
    for name in arm_module.DISPLAY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    sim = ArmSimulation(arm)
    view = SimView(sim, SimSettings(viewer=True))
    assert view.warnings == [
        "viewer: no display (DISPLAY and WAYLAND_DISPLAY are unset); the simulation runs "
        "without it"
    ]
    sim.set_command(arm.joint_names.index("elbow_joint"), 0.5)
    for _ in range(100):
        sim.step(10)
        view.update()
    assert sim.positions[arm.joint_names.index("elbow_joint")] == pytest.approx(0.5, abs=0.01)
    assert view.close() == []


def test_the_viewer_on_an_unreachable_display_is_one_line(arm, monkeypatch):
    """A display that is named but cannot be reached: refused in this thread (the viewer's own
    thread would end the process)."""
    monkeypatch.setenv("DISPLAY", f":{900 + os.getpid() % 50}")
    view = SimView(ArmSimulation(arm), SimSettings(viewer=True))
    (warning,) = view.warnings
    assert warning.startswith("viewer: cannot open a window on the display")
    assert "\n" not in warning
