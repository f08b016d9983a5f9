"""`llm-mas-ros bench`: the control path's latency, side by side on one machine.

One invocation runs, in a ROS domain of its own limited to this host, the tuned runtime (the
agents process `llm-mas-ros up` starts), a naive build (one process per agent,
SingleThreadedExecutor, default QoS depth 10, an eager torch policy per agent: naive_agent.py)
and the floor (a bare rclpy echo, and an echo on a bare rcl wait set: floor_echo.py), and
measures sense->act, step jitter, CPU per agent, start->ready, scaling with the number of
agents, sense->act while the planner decodes (control_sections.py), and instruction->first
command / done (instruction_timings.py). cli.py parses the command line and gives it its
domain; bench_command.py runs the sections and writes bench.json, bench.md (bench_report.py)
and the PNG plots (bench_plots.py). The pure parts (statistics, the report, the duplicated
arm, the torch policy, the settings) are unit tested without ROS.
"""
