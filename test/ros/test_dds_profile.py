"""The package's Fast DDS profile (config/fastdds.xml, set for every process by
dds_environment) takes effect on the topics it names."""

import rclpy
from std_msgs.msg import String

from llm_mas_ros.ros import qos, topics

UNREAD_BOUND = 20  # the /instruction reader's max_samples in config/fastdds.xml


def test_an_instruction_reader_stores_a_bounded_number_unread_and_holds_the_sender_back(harness):
    """Nothing takes from the reader (the executor never spins it), so it acknowledges what it
    stores and no more: the sender keeps the rest, unacknowledged, instead of the reader's
    memory growing with a flood."""
    publisher = harness.tester.create_publisher(String, topics.INSTRUCTION, qos.INSTRUCTIONS)
    reader = rclpy.create_node("unread_planner")  # not on the executor: never takes
    try:
        reader.create_subscription(String, topics.INSTRUCTION, lambda _: None, qos.INSTRUCTIONS)
        assert harness.until(lambda: publisher.get_subscription_count() == 1)
        for index in range(UNREAD_BOUND):
            publisher.publish(String(data=f"elbow to {index} degrees"))
        assert publisher.wait_for_all_acked(rclpy.duration.Duration(seconds=10))
        publisher.publish(String(data="one more than the reader stores"))
        assert not publisher.wait_for_all_acked(rclpy.duration.Duration(seconds=1))
    finally:
        reader.destroy_node()
