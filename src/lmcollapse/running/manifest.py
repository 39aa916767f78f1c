"""A generation's manifest (manifest.json in its folder): what went into generation t and what it cost. One
typed record, written by the runner and read by the API, reports and studies, so a field is named in one
place."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass(frozen=True)
class GenerationManifest:
    """Counts, training-set composition, gate counts, timings and environment of one committed generation."""

    generation: int
    n_train: int  # documents in D_t
    n_sampled: int  # documents drawn from M_t (every sampling round)
    n_kept: int  # documents that passed the gates: K_t
    gates: dict[str, list[int]] = field(default_factory=dict)  # gate -> [seen, kept]
    sampling_rounds: int = 1
    composition: dict[str, int] = field(default_factory=dict)  # D_t's documents by origin ("real", "synthetic@s")
    seconds: dict[str, float] = field(default_factory=dict)  # stage -> process-seconds (fit, sample, ...)
    activity: dict[str, float] = field(default_factory=dict)  # the mitigation's measures (running/activity.py)
    calibrated: dict[str, float] = field(default_factory=dict)  # parameters set from generation 0 ("model.tce_gamma")
    real_token_share: float | None = None  # the share of real text in the tokens the learner saw (D_t or its resample)
    environment: dict = field(default_factory=dict)  # provenance.environment() of the process that wrote it

    @property
    def work_seconds(self) -> float:
        """Process-seconds of the generation's stages together: what a run or a mitigation costs."""
        return float(sum(self.seconds.values()))

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, record: dict) -> "GenerationManifest":
        """The manifest of a stored record; keys a later version adds are dropped, so older readers keep working
        on newer folders, and missing optional keys take their defaults (folders of 0.2 and 0.3)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in record.items() if key in names})

    # A mapping view for code written against 0.4, when Run.manifest(t) returned the plain dict; kept for one
    # minor version.
    def __getitem__(self, key: str):
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def get(self, key: str, default=None):
        return getattr(self, key, default)
