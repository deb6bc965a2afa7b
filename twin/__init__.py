"""satwin twin: the service-area microgrid model, pure and importable without Qt or a network."""

from twin.config.errors import ScenarioError, SimulationError

__all__ = ["ScenarioError", "SimulationError"]
__version__ = "0.1.0"
