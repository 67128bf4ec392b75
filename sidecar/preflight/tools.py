"""The compose tools whose rules preflight follows, and which one drives which engine."""

from enum import StrEnum


class Tool(StrEnum):
    """A compose implementation whose naming rules preflight follows."""

    COMPOSE = "compose"  # Docker Compose v2 (`docker compose`, compose-go)
    DOCKER_COMPOSE = "docker-compose"  # docker-compose v1, 1.21 to 1.29
    DOCKER_COMPOSE_LEGACY = "docker-compose-legacy"  # docker-compose v1 before 1.21
    PODMAN_COMPOSE = "podman-compose"

    @property
    def label(self) -> str:
        """How the tool is named in output."""
        return _LABELS[self]

    @property
    def command(self) -> str:
        """How an operator starts it."""
        return _COMMANDS[self]


_LABELS = {
    Tool.COMPOSE: "docker compose v2",
    Tool.DOCKER_COMPOSE: "docker-compose v1",
    Tool.DOCKER_COMPOSE_LEGACY: "docker-compose < 1.21",
    Tool.PODMAN_COMPOSE: "podman-compose",
}
_COMMANDS = {
    Tool.COMPOSE: "docker compose",
    Tool.DOCKER_COMPOSE: "docker-compose",
    Tool.DOCKER_COMPOSE_LEGACY: "docker-compose",
    Tool.PODMAN_COMPOSE: "podman-compose",
}

V1_TOOLS = (Tool.DOCKER_COMPOSE, Tool.DOCKER_COMPOSE_LEGACY)

# The tool whose rules apply when none is named: the one that drives the engine.
DEFAULT_TOOLS = {"podman": Tool.PODMAN_COMPOSE, "docker": Tool.COMPOSE}
