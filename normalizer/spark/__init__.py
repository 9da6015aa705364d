"""Run the normalizer inside Spark executors (the optional extra ``o365norm[spark]``).

    from normalizer.spark import make_partition_normalizer, records, rejects
    normalize = make_partition_normalizer(rules=["./my-rules"])      # compiles once here: rule errors raise now
    tagged = sc.textFile("s3a://bucket/audit/*.ndjson").mapPartitions(normalize).cache()
    records(tagged).saveAsTextFile("s3a://bucket/normalized/")
    rejects(tagged).saveAsTextFile("s3a://bucket/rejects/")

The job, for whole dumps of any shape: ``python -m normalizer.spark.job`` (see job.py).
Importing this package does not import pyspark; the job names the extra to install when
pyspark is missing.
"""

from .partition import PartitionNormalizer, make_partition_normalizer
from .rule_config import RuleConfig
from .tagged import COUNTS, RECORD, REJECT, records, rejects, total_counts

__all__ = ["COUNTS", "PartitionNormalizer", "RECORD", "REJECT", "RuleConfig", "make_partition_normalizer",
           "records", "rejects", "total_counts"]
