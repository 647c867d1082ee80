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
from datetime import datetime, timedelta, timezone
from typing import Iterable, Mapping

import numpy as np

REPORT_VERSION = 1
STAGES = ("feature-engineering", "clustering")
MAX_DIMENSION = 8192
MAX_CLUSTERS = 4096
MAX_LOG_LINES = 50
MAX_LOG_CHARS = 1000
MAX_FIELDS = 256
MAX_REPORT_BYTES = 1 << 20
MAX_FIELD_CHARS = 128


def _time(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _finite(values: np.ndarray, what: str) -> np.ndarray:
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{what} has NaN or infinite values: a report must carry finite numbers")
    return values


def _is_null(value) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        # NaN in any float type (numpy's too) is not equal to itself; pandas' NA cannot even say so.
        return bool(value != value)
    except (TypeError, ValueError):
        return True


class StageReport:
    """One run's report; created when the job starts (its start time), written when it ends."""

    def __init__(self, stage: str, job_id: str):
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, not {stage!r}")
        if not job_id:
            raise ValueError("job_id names the run (a Glue job run id, a processing job name)")
        # The finish time is the start plus a monotonic clock's elapsed time: a wall clock stepped back mid-job
        # cannot make a run end before it started.
        self._started_at = datetime.now(timezone.utc)
        self._started = time.monotonic()
        self._embedded_rows = None
        self.report: dict = {
            "reportVersion": REPORT_VERSION,
            "stage": stage,
            "jobId": job_id[:256],
            "startedAt": _time(self._started_at),
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
        shares = self.report["nullShare"]
        names = [str(field) for field in columns]
        for name in names:
            if not name or len(name) > MAX_FIELD_CHARS:
                raise ValueError(f"field names are 1 to {MAX_FIELD_CHARS} characters: {name[:40]!r}")
        if len(set(shares) | set(names)) > MAX_FIELDS:
            raise ValueError(f"at most {MAX_FIELDS} fields: report the ones that matter")
        for name, values in zip(names, columns.values()):
            values = list(values)
            nulls = sum(1 for v in values if _is_null(v))
            shares[name] = nulls / len(values) if values else 0.0

    def batches(self, total: int, failed: int) -> None:
        """Batches run, and how many failed (their rows are not in rows_out)."""
        if failed > total:
            raise ValueError(f"{failed} failed batches of {total}")
        self.report["batches"], self.report["failedBatches"] = int(total), int(failed)

    def embeddings(self, matrix) -> None:
        """The distribution of the embeddings written: mean, per-dimension variance, norm quantiles."""
        x = _finite(np.asarray(matrix, dtype=np.float64), "the embeddings")
        if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"embeddings must be a non-empty (rows, dimension) array, not shape {x.shape}")
        if x.shape[1] > MAX_DIMENSION:
            raise ValueError(f"dimension {x.shape[1]} is over the contract's {MAX_DIMENSION}")
        norms = _finite(np.linalg.norm(x, axis=1), "the embeddings' norms (values too large)")
        p05, p50, p95 = np.quantile(norms, [0.05, 0.5, 0.95])
        self.report["embeddings"] = {
            "dimension": int(x.shape[1]),
            "mean": _finite(x.mean(axis=0), "the mean (values too large)").tolist(),
            "variance": _finite(x.var(axis=0), "the variance (values too large)").tolist(),
            "normQuantiles": {"p05": float(p05), "p50": float(p50), "p95": float(p95)},
        }
        self._embedded_rows = int(x.shape[0])

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
        if not math.isfinite(total) or not all(math.isfinite(v) for v in intra):
            raise ValueError("the intra-cluster variance is too large to report (values overflow)")
        if silhouette is not None:
            if not -1.0 <= float(silhouette) <= 1.0:
                raise ValueError(f"a silhouette score is between -1 and 1, not {silhouette}")
            section["silhouette"] = float(silhouette)
        self.report["clustering"] = section

    def log(self, line: str) -> None:
        """A summary line, shown in a notice about the run (the first 50 are kept, each cut to 1000 characters)."""
        lines = self.report.setdefault("log", [])
        if len(lines) < MAX_LOG_LINES:
            lines.append(str(line)[:MAX_LOG_CHARS])

    def finish(self) -> dict:
        """The report, with the finish time and the seconds since the start. A job that embedded rows but never
        called rows() reports them as rows out (and in): the shift check weighs a run by its rows."""
        elapsed = time.monotonic() - self._started
        self.report["finishedAt"] = _time(self._started_at + timedelta(seconds=elapsed))
        self.report["seconds"] = round(elapsed, 3)
        if self._embedded_rows and not self.report["rowsOut"]:
            self.report["rowsOut"] = self._embedded_rows
            self.report["rowsIn"] = max(self.report["rowsIn"], self._embedded_rows)
        return self.report

    def to_json(self) -> str:
        """The finished report as JSON (NaN refused: it is not JSON)."""
        return json.dumps(self.finish(), allow_nan=False, ensure_ascii=False, separators=(",", ":"))

    def write(self, path: str) -> dict:
        """Finishes the report and writes it to ``path`` (whose name should end in ``stage-report.json``)."""
        text = self.to_json()
        if len(text.encode("utf-8")) > MAX_REPORT_BYTES:
            raise ValueError(f"the report is over {MAX_REPORT_BYTES} bytes: fewer fields or log lines")
        with open(path, "w", encoding="utf-8") as out:
            out.write(text)
        return self.report
