"""Read the repository's Dockerfile into stages (dockerfile-parse does the parsing). It holds one
build target per service (named after the service) and one for Tilt (`<service>-dev`)."""

from __future__ import annotations

import functools
import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from dockerfile_parse import DockerfileParser

from .manifests import REPO

DOCKERFILE = REPO / "Dockerfile"


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def values(self, instruction: str) -> list[str]:
        return [value for kind, value in self.instructions if kind == instruction]

    def copied_from(self) -> list[str]:
        """The stages (or images) this stage's COPY --from=... instructions read."""
        return [word.split("=", 1)[1] for value in self.values("COPY") for word in value.split()
                if word.startswith("--from=")]


@dataclass
class Dockerfile:
    path: Path
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        """What `docker build` without --target builds."""
        return self.stages[-1]

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)

    def target(self, service: str) -> Stage:
        return self.stage(service)

    def dev_target(self, service: str) -> Stage:
        return self.stage(f"{service}-dev")

    def lineage(self, stage: Stage) -> list[Stage]:
        """The stage and the stages it is built FROM, outermost first."""
        names = {s.name for s in self.stages}
        chain = [stage]
        while chain[0].base in names:
            chain.insert(0, self.stage(chain[0].base))
        return chain

    def needs(self, stage: Stage) -> list[Stage]:
        """Every stage a build of `stage` runs: its lineage and, recursively, what they COPY --from."""
        names = {s.name for s in self.stages}
        seen: dict[str, Stage] = {}
        todo = [stage]
        while todo:
            current = todo.pop()
            for part in self.lineage(current):
                if part.name not in seen:
                    seen[part.name] = part
                    todo.extend(self.stage(src) for src in part.copied_from() if src in names)
        return [s for s in self.stages if s.name in seen]

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
        assert value is not None, f"{self.path} {stage.name}: no CMD"
        parsed = json.loads(value)  # exec form only
        assert isinstance(parsed, list)
        return parsed


@functools.cache
def dockerfile() -> Dockerfile:
    parser = DockerfileParser(str(DOCKERFILE))
    stages: list[Stage] = []
    for item in parser.structure:
        kind, value = item["instruction"], item["value"]
        if kind == "FROM":
            words = value.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(name=name, base=words[0]))
        elif kind != "COMMENT":
            assert stages, f"{DOCKERFILE}: {kind} before FROM"
            stages[-1].instructions.append((kind, value))
    return Dockerfile(DOCKERFILE, stages)
