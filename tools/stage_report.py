"""Write a stage report: the summary a feature-engineering or clustering job leaves beside its output.

One file, the standard library and numpy only: copy it into the job. At the end of the job, build the report and
write it under a key ending in ``stage-report.json`` in the artifacts bucket (a SageMaker Processing output
uploads it; a Glue or Batch job puts it with its own S3 client). The stage-report function validates it against
``schemas/stage-report.schema.json``, emits its metrics and compares it with the stage's previous run.

    report = StageReport("feature-engineering", job_id=os.environ["PROCESSING_JOB_NAME"])
    report.rows(rows_in=len(texts), rows_out=len(embeddings))
    report.nulls({"text": texts, "lang": langs})
    report.batches(total=40, failed=0)
    report.embeddings(embeddings)            # a (rows, dimension) array
    report.log("embedded with all-MiniLM-L6-v2")
    report.write("/opt/ml/processing/output/report/stage-report.json")

A clustering job calls ``report.clusters(embeddings, labels, silhouette=...)`` instead of ``embeddings``; label
-1 counts as noise (HDBSCAN's), every other label as a cluster.
"""

from __future__ import annotations

import json
import math
import time
from datetime import datetime, timezone
from typing import Iterable, Mapping

import numpy as np

REPORT_VERSION = 1
STAGES = ("feature-engineering", "clustering")
MAX_DIMENSION = 8192
MAX_CLUSTERS = 4096
MAX_LOG_LINES = 50
MAX_LOG_CHARS = 1000


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _finite(values: np.ndarray, what: str) -> np.ndarray:
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{what} has NaN or infinite values: a report must carry finite numbers")
    return values


def _is_null(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


class StageReport:
    """One run's report; created when the job starts (its start time), written when it ends."""

    def __init__(self, stage: str, job_id: str):
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, not {stage!r}")
        if not job_id:
            raise ValueError("job_id names the run (a Glue job run id, a processing job name)")
        self._started = time.monotonic()
        self.report: dict = {
            "reportVersion": REPORT_VERSION,
            "stage": stage,
            "jobId": job_id[:256],
            "startedAt": _now(),
            "rowsIn": 0,
            "rowsOut": 0,
            "nullShare": {},
            "failedBatches": 0,
        }

    def rows(self, rows_in: int, rows_out: int) -> None:
        """Rows read and rows written."""
        self.report["rowsIn"], self.report["rowsOut"] = int(rows_in), int(rows_out)

    def nulls(self, columns: Mapping[str, Iterable]) -> None:
        """Per field, the share of values that are None, NaN or blank text."""
        for field, values in columns.items():
            values = list(values)
            nulls = sum(1 for v in values if _is_null(v))
            self.report["nullShare"][str(field)[:128]] = nulls / len(values) if values else 0.0

    def batches(self, total: int, failed: int) -> None:
        """Batches run, and how many failed (their rows are not in rows_out)."""
        if failed > total:
            raise ValueError(f"{failed} failed batches of {total}")
        self.report["batches"], self.report["failedBatches"] = int(total), int(failed)

    def embeddings(self, matrix) -> None:
        """The distribution of the embeddings written: mean, per-dimension variance, norm quantiles."""
        x = _finite(np.asarray(matrix, dtype=np.float64), "the embeddings")
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(f"embeddings must be a non-empty (rows, dimension) array, not shape {x.shape}")
        if x.shape[1] > MAX_DIMENSION:
            raise ValueError(f"dimension {x.shape[1]} is over the contract's {MAX_DIMENSION}")
        norms = np.linalg.norm(x, axis=1)
        p05, p50, p95 = np.quantile(norms, [0.05, 0.5, 0.95])
        self.report["embeddings"] = {
            "dimension": int(x.shape[1]),
            "mean": x.mean(axis=0).tolist(),
            "variance": x.var(axis=0).tolist(),
            "normQuantiles": {"p05": float(p05), "p50": float(p50), "p95": float(p95)},
        }

    def clusters(self, matrix, labels, silhouette: float | None = None) -> None:
        """The clusters found: sizes, each one's mean squared distance to its centroid, the size-weighted total,
        the rows labelled -1 as noise, and the silhouette score when the job computed one."""
        x = _finite(np.asarray(matrix, dtype=np.float64), "the embeddings")
        labels = np.asarray(labels)
        if x.ndim != 2 or labels.shape != (x.shape[0],):
            raise ValueError(f"one label per row: {labels.shape} labels for {x.shape} embeddings")
        ids = sorted(int(c) for c in np.unique(labels) if c != -1)
        if len(ids) > MAX_CLUSTERS:
            raise ValueError(f"{len(ids)} clusters is over the contract's {MAX_CLUSTERS}")
        sizes, intra = [], []
        for c in ids:
            members = x[labels == c]
            sizes.append(int(members.shape[0]))
            intra.append(float(((members - members.mean(axis=0)) ** 2).sum(axis=1).mean()))
        clustered = sum(sizes)
        total = sum(s * v for s, v in zip(sizes, intra)) / clustered if clustered else 0.0
        section = {
            "clusters": len(ids),
            "sizes": sizes,
            "intraVariance": intra,
            "totalIntraVariance": total,
            "noise": int((labels == -1).sum()),
        }
        if silhouette is not None:
            section["silhouette"] = float(silhouette)
        self.report["clustering"] = section

    def log(self, line: str) -> None:
        """A summary line, shown in a notice about the run (the first 50 are kept, each cut to 1000 characters)."""
        lines = self.report.setdefault("log", [])
        if len(lines) < MAX_LOG_LINES:
            lines.append(str(line)[:MAX_LOG_CHARS])

    def finish(self) -> dict:
        """The report, with the finish time and the seconds since the start."""
        self.report["finishedAt"] = _now()
        self.report["seconds"] = round(time.monotonic() - self._started, 3)
        return self.report

    def to_json(self) -> str:
        """The finished report as JSON (NaN refused: it is not JSON)."""
        return json.dumps(self.finish(), allow_nan=False, separators=(",", ":"))

    def write(self, path: str) -> dict:
        """Finishes the report and writes it to ``path`` (whose name should end in ``stage-report.json``)."""
        text = self.to_json()
        with open(path, "w", encoding="utf-8") as out:
            out.write(text)
        return self.report
