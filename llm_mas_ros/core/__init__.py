"""Pure core of llm_mas_ros: no rclpy import anywhere below this package (a test checks)."""
