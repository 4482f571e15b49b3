"""What an adapter is given: its connector's configuration as plain data (no Django import), built by the runner
from the database (connectors.services.load_specs) or by a test directly."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class TagSpec:
    source_ref: str                  # node id / register spec / topic — kind-specific
    characteristic: str              # data-dictionary code
    params: dict = field(default_factory=dict)
    equipment: str | None = None     # equipment code of the characteristic, copied into each envelope
    update_period_s: float | None = None
    physical_min: float | None = None
    physical_max: float | None = None


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    id: int
    site: str                        # site code
    name: str
    kind: str
    config: dict = field(default_factory=dict)
    secrets: dict = field(default_factory=dict)
    tags: tuple[TagSpec, ...] = ()
    shadow_mode: bool = False

    @property
    def key(self) -> str:
        """The connector's name in envelopes and the outbox: site code and name (names are unique per site)."""
        return f"{self.site}/{self.name}"

    @property
    def fingerprint(self) -> str:
        """Changes whenever anything the adapter depends on changes: the runner restarts the adapter then."""
        payload = json.dumps(
            [self.site, self.name, self.kind, self.config, self.secrets, self.shadow_mode,
             [(t.source_ref, t.characteristic, t.params, t.equipment, t.update_period_s, t.physical_min, t.physical_max)
              for t in self.tags]],
            sort_keys=True, default=str,
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    def tag_for(self, source_ref: str) -> TagSpec | None:
        for tag in self.tags:
            if tag.source_ref == source_ref:
                return tag
        return None
