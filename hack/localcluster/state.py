"""What a run directory remembers between commands: ports and S3 credentials."""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class State:
    ports: dict[str, int] = field(default_factory=dict)
    s3_access_key: str = "containertask"
    s3_secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    @classmethod
    def load(cls, path: Path) -> State:
        if not path.exists():
            return cls()
        return cls(**json.loads(path.read_text()))

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        tmp.chmod(0o600)
        tmp.replace(path)
