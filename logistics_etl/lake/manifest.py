"""A batch's manifest: what one extract committed to a table, kept in its Delta commit's metadata.

The commit's `commitInfo` holds it as JSON under MANIFEST_KEY (lake/delta.py writes and reads it); the extract
audit (`lake_audit.batches`), `logistics history` and the watermarks (lake/watermarks.py) read it back.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields

MANIFEST_KEY = "logistics_batch"  # the commit metadata key holding a batch's Manifest (JSON)


@dataclass
class Manifest:
    """What one extract committed to a table: its commit's metadata."""

    table: str
    batch_id: int
    mode: str  # "incremental" or "full"
    watermark_column: str
    watermark_from: str | None  # exclusive lower bound used by the query (ISO text or key)
    watermark_to: str | None  # highest watermark value among the rows read
    rows: int
    deleted_rows: int
    files: list[dict] = field(default_factory=list)  # the staged Parquet parts: name, rows, bytes
    schema: list[dict] = field(default_factory=list)
    new_columns: list[str] = field(default_factory=list)
    key_count: int | None = None
    extracted_at: str = ""
    committed_at: str = ""
    seconds: float = 0.0
    source: str = ""
    run_id: str = ""
    # the table's watermark after this commit: the highest `watermark_to` of it and every commit before it, so a
    # reader needs the newest commits only (None in commits written before it was recorded)
    table_watermark: str | None = None
    version: int | None = None  # the Delta table version of the commit (known once committed)

    @property
    def bytes(self) -> int:
        return sum(f["bytes"] for f in self.files)

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if k != "version"}, sort_keys=True)

    @classmethod
    def from_commit(cls, commit: dict) -> Manifest | None:
        """The manifest of a history entry of `DeltaTable.history()`; None for a commit no extract made."""
        text = commit.get(MANIFEST_KEY)
        if text is None:
            return None
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in json.loads(text).items() if k in known}, version=commit.get("version"))
