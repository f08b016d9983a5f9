import pytest

from llm_mas_ros.core.robot.model import RobotModel, load_robot


@pytest.fixture(scope="session")
def arm() -> RobotModel:
    """The reference robot from the package's URDF and config/robot.yaml."""
    return load_robot()
