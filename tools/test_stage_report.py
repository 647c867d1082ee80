"""tools/stage_report.py writes reports the schema accepts, with the figures numpy computes."""

import json
import math
import pathlib
import sys
import tempfile
import unittest

import jsonschema
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from stage_report import StageReport  # noqa: E402

SCHEMA = json.loads(
    (pathlib.Path(__file__).parent.parent / "schemas" / "stage-report.schema.json").read_text()
)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def valid(report: dict) -> dict:
    errors = [f"{e.json_path}: {e.message}" for e in VALIDATOR.iter_errors(report)]
    assert not errors, errors
    return report


class StageReportTest(unittest.TestCase):
    def setUp(self):
        self.rng = np.random.default_rng(7)

    def test_feature_engineering_report_validates_with_numpy_figures(self):
        x = self.rng.normal(1.0, 0.5, size=(500, 16))
        report = StageReport("feature-engineering", "fe-1")
        report.rows(rows_in=510, rows_out=500)
        report.nulls({"text": ["a", "", None, float("nan"), "b"], "lang": ["es", "en", "es", "es", "fr"]})
        report.batches(total=5, failed=1)
        report.embeddings(x)
        report.log("embedded")
        with tempfile.TemporaryDirectory() as d:
            path = pathlib.Path(d) / "stage-report.json"
            written = report.write(str(path))
            read = json.loads(path.read_text())
        self.assertEqual(read, written)
        valid(read)
        self.assertEqual(read["nullShare"], {"text": 0.6, "lang": 0.0})
        e = read["embeddings"]
        self.assertEqual(e["dimension"], 16)
        np.testing.assert_allclose(e["mean"], x.mean(axis=0))
        np.testing.assert_allclose(e["variance"], x.var(axis=0))
        q = e["normQuantiles"]
        self.assertLessEqual(q["p05"], q["p50"])
        self.assertLessEqual(q["p50"], q["p95"])
        self.assertEqual((read["batches"], read["failedBatches"]), (5, 1))
        self.assertGreaterEqual(read["finishedAt"], read["startedAt"])

    def test_rows_default_to_the_rows_embedded(self):
        report = StageReport("feature-engineering", "fe-3")
        report.embeddings(self.rng.normal(size=(40, 4)))
        read = valid(json.loads(report.to_json()))
        self.assertEqual((read["rowsIn"], read["rowsOut"]), (40, 40))

    def test_clustering_report_counts_noise_and_weights_the_total(self):
        x = np.vstack([self.rng.normal(0, 1, (30, 4)), self.rng.normal(5, 2, (10, 4)), self.rng.normal(9, 1, (2, 4))])
        labels = np.array([0] * 30 + [1] * 10 + [-1] * 2)
        report = StageReport("clustering", "cl-1")
        report.rows(42, 40)
        report.clusters(x, labels, silhouette=0.42)
        c = valid(json.loads(report.to_json()))["clustering"]
        self.assertEqual((c["clusters"], c["sizes"], c["noise"]), (2, [30, 10], 2))
        first = x[:30]
        self.assertAlmostEqual(c["intraVariance"][0], ((first - first.mean(axis=0)) ** 2).sum(axis=1).mean())
        weighted = (30 * c["intraVariance"][0] + 10 * c["intraVariance"][1]) / 40
        self.assertAlmostEqual(c["totalIntraVariance"], weighted)
        self.assertEqual(c["silhouette"], 0.42)

    def test_what_the_contract_refuses_is_refused_when_written(self):
        report = StageReport("feature-engineering", "fe-2")
        with self.assertRaisesRegex(ValueError, "NaN"):
            report.embeddings([[1.0, math.nan]])
        with self.assertRaisesRegex(ValueError, "non-empty"):
            report.embeddings(np.zeros((0, 3)))
        with self.assertRaisesRegex(ValueError, "failed batches"):
            report.batches(total=1, failed=2)
        with self.assertRaisesRegex(ValueError, "stage"):
            StageReport("training", "x")
        with self.assertRaisesRegex(ValueError, "one label per row"):
            StageReport("clustering", "c").clusters(np.zeros((3, 2)), [0, 1])
        with self.assertRaisesRegex(ValueError, "non-empty"):
            report.embeddings(np.zeros((3, 0)))
        with self.assertRaisesRegex(ValueError, "too large"):
            report.embeddings([[1e300, 1e300]])
        with self.assertRaisesRegex(ValueError, "field names"):
            report.nulls({"": [1]})
        with self.assertRaisesRegex(ValueError, "at most 256 fields"):
            report.nulls({f"f{i}": [1] for i in range(257)})
        with self.assertRaisesRegex(ValueError, "silhouette"):
            StageReport("clustering", "c").clusters(np.zeros((2, 2)), [0, 0], silhouette=float("nan"))
        # NaN of numpy's float types counts as null too.
        report.nulls({"score": [np.float32("nan"), np.float64(1.0)]})
        self.assertEqual(report.report["nullShare"]["score"], 0.5)
        # A feature-engineering report without embeddings is not the contract: the schema says so.
        errors = list(VALIDATOR.iter_errors(json.loads(report.to_json())))
        self.assertTrue(any("embeddings" in e.message for e in errors), errors)


if __name__ == "__main__":
    unittest.main()
