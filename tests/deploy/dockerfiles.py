"""Read a service's Dockerfile into stages (dockerfile-parse does the parsing)."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from dockerfile_parse import DockerfileParser

from .manifests import REPO


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def values(self, instruction: str) -> list[str]:
        return [value for kind, value in self.instructions if kind == instruction]


@dataclass
class Dockerfile:
    path: Path
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)

    def lineage(self, stage: Stage) -> list[Stage]:
        """The stage and the stages it is built FROM, outermost first."""
        names = {s.name for s in self.stages}
        chain = [stage]
        while chain[0].base in names:
            chain.insert(0, self.stage(chain[0].base))
        return chain

    def image_of(self, stage: Stage) -> str:
        return self.lineage(stage)[0].base

    def env(self, stage: Stage) -> dict[str, str]:
        env: dict[str, str] = {}
        for part in self.lineage(stage):
            for value in part.values("ENV"):
                for item in shlex.split(value):
                    key, _, val = item.partition("=")
                    env[key] = val
        return env

    def last(self, stage: Stage, instruction: str) -> str | None:
        for part in reversed(self.lineage(stage)):
            values = part.values(instruction)
            if values:
                return values[-1]
        return None

    def cmd(self, stage: Stage) -> list[str]:
        value = self.last(stage, "CMD")
        assert value is not None, f"{self.path}: no CMD"
        parsed = json.loads(value)  # exec form only
        assert isinstance(parsed, list)
        return parsed


def dockerfile(service: str) -> Dockerfile:
    path = REPO / "services" / service / "Dockerfile"
    parser = DockerfileParser(str(path))
    stages: list[Stage] = []
    for item in parser.structure:
        kind, value = item["instruction"], item["value"]
        if kind == "FROM":
            words = value.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(name=name, base=words[0]))
        elif kind != "COMMENT":
            assert stages, f"{path}: {kind} before FROM"
            stages[-1].instructions.append((kind, value))
    return Dockerfile(path, stages)
