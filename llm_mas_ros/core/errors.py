"""Precise error types. Every message is meant to be read by a person and acted upon."""


class LlmMasError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(LlmMasError):
    """A configuration file, URDF or parameter is missing or inconsistent."""


class SubgoalError(LlmMasError):
    """A subgoal text cannot be understood or executed by an agent."""


class PlanError(LlmMasError):
    """An instruction cannot be turned into a plan."""


class Refused(PlanError):
    """An instruction the rule planner understood well enough to refuse: no model is asked
    ('move the elbow a bit': which way?)."""


class ModelError(LlmMasError):
    """A language model cannot be found, loaded or run."""
