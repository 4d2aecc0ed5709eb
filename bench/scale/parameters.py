"""Every number the scale model uses, with its unit and where it comes from: an AWS document, a measurement made here
(a file in bench/results/), or "assumption" when nothing published pins it down. `python -m bench.scale --parameters`
prints this table; `--set name=value` overrides one for a run (the results file records the values used).
"""

from __future__ import annotations

from dataclasses import dataclass

S3_PERFORMANCE = ("AWS S3 User Guide, \"Best practices design patterns: optimizing Amazon S3 performance\" "
                  "https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html")
S3_503 = ("AWS Knowledge Center, \"How do I troubleshoot HTTP 5xx errors from Amazon S3?\" "
          "https://repost.aws/knowledge-center/http-5xx-errors-s3")
LAMBDA_SQS_SCALING = ("AWS Lambda Developer Guide, \"Configuring scaling behavior for SQS event source mappings\" "
                      "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html")
LAMBDA_SCALING_CONFIG = ("AWS Lambda API Reference, ScalingConfig (MaximumConcurrency 2-1000) "
                         "https://docs.aws.amazon.com/lambda/latest/dg/API_ScalingConfig.html")
DDB_HOT_PARTITION = ("Amazon DynamoDB Developer Guide, \"Understanding DynamoDB warm throughput\": each partition is "
                     "limited to 1,000 write units and 3,000 read units per second "
                     "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html")
DDB_TRANSACTIONS = ("Amazon DynamoDB API Reference, TransactWriteItems / TransactionCanceledException: an ongoing "
                    "TransactWriteItems that conflicts with a concurrent one cancels it "
                    "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html")
DDB_PRICING = "Amazon DynamoDB pricing, on-demand, us-east-1 https://aws.amazon.com/dynamodb/pricing/on-demand/"
S3_PRICING = "Amazon S3 pricing, S3 Standard requests, us-east-1 https://aws.amazon.com/s3/pricing/"
SQS_PRICING = "Amazon SQS pricing, standard queue, us-east-1 https://aws.amazon.com/sqs/pricing/"
LAMBDA_PRICING = "AWS Lambda pricing, x86, us-east-1 https://aws.amazon.com/lambda/pricing/"
BOTOCORE_RETRIES = ("botocore, standard retry mode: delay = rand(0,1) x 2^attempt, capped at 20 s "
                    "https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html")
S5CMD_SOURCE = "s5cmd source (github.com/peak/s5cmd, commit 54d6a8a)"
TEMPLATE = "this repository: template.yaml"
ENGINE = "this repository: layers/eraser/eraser/config.py (EngineSettings)"
AWS_CLI_S3_CONFIG = ("AWS CLI S3 configuration, max_concurrent_requests default 10 "
                     "https://docs.aws.amazon.com/cli/latest/topic/s3-config.html")
MEASURED = "measured here: bench/results/"


@dataclass(frozen=True)
class Parameter:
    name: str
    value: float
    unit: str
    source: str


def _table(*parameters: Parameter) -> dict[str, Parameter]:
    return {parameter.name: parameter for parameter in parameters}


PARAMETERS: dict[str, Parameter] = _table(
    # --- S3 request limits and partitions ------------------------------------------------------------------------
    Parameter("s3_delete_per_partition", 3500, "DELETE-class requests/s per partitioned prefix",
              S3_PERFORMANCE + ": \"at least 3,500 PUT/COPY/POST/DELETE\""),
    Parameter("s3_read_per_partition", 5500, "GET/HEAD/LIST requests/s per partitioned prefix",
              S3_PERFORMANCE + ": \"5,500 GET/HEAD requests per second per partitioned prefix\""),
    Parameter("s3_delete_objects_key_cost", 1, "DELETE requests one key of a DeleteObjects call counts for",
              "assumption: S3 does not document how a DeleteObjects call counts against the per-prefix limit; "
              "one DELETE per key is the conservative reading (0.001 would make a 1000-key call count as one)"),
    Parameter("s3_burst_seconds", 1.0, "s of unused request budget a partition can bank",
              "assumption (token bucket of one second of the limit)"),
    Parameter("s3_split_after_seconds", 1800, "s of sustained load before a partition splits in two",
              "assumption: " + S3_503 + " says S3 scales \"gradually\" while answering 503; an AWS answer on "
              "re:Post (s3-object-key-naming-pattern) puts automatic partitioning at 30 to 60 minutes"),
    Parameter("s3_split_load_fraction", 0.8, "demand / limit that counts as sustained load",
              "assumption"),
    Parameter("s3_split_window_seconds", 10, "s per window in which sustained load is judged", "assumption"),
    # --- S3 latencies (lognormal: median and 99th percentile) -----------------------------------------------------
    Parameter("s3_list_median_ms", 60, "ms per ListObjectsV2 page of 1000 keys (median)",
              "assumption: AWS publishes no listing latency; tens of ms per page is the issue's premise"),
    Parameter("s3_list_p99_ms", 250, "ms per list page (99th percentile)", "assumption"),
    Parameter("s3_list_versions_median_ms", 90, "ms per ListObjectVersions page of 1000 entries (median)",
              "assumption"),
    Parameter("s3_delete_objects_base_ms", 40, "ms per DeleteObjects call, fixed part (median)", "assumption"),
    Parameter("s3_delete_objects_per_key_ms", 0.25, "ms per key of a DeleteObjects call (median)",
              "assumption (a 1000-key call: 290 ms median)"),
    Parameter("s3_delete_objects_p99_factor", 3.0, "99th percentile / median of a DeleteObjects call",
              "assumption"),
    Parameter("s3_delete_object_median_ms", 25, "ms per DeleteObject (median)", "assumption"),
    Parameter("s3_slowdown_ms", 15, "ms before a 503 SlowDown answer", "assumption"),
    # --- Lambda and SQS ---------------------------------------------------------------------------------------------
    Parameter("lambda_initial_concurrency", 5, "concurrent batches when messages appear", LAMBDA_SQS_SCALING),
    Parameter("lambda_scale_per_minute", 300, "concurrent invocations added per minute",
              LAMBDA_SQS_SCALING + ": \"up to 300 more instances per minute\" (60 before 2024-03; the AWS "
                                   "Compute Blog, \"Introducing faster polling scale-up\")"),
    Parameter("lambda_max_batches", 1000, "batches an event source mapping processes at once",
              LAMBDA_SQS_SCALING + ": \"The maximum number of batches ... simultaneously is 1,000\" "
                                   "(the older figure 1,250 is a concurrency quota, re:Post lambda-sqs-scaling)"),
    Parameter("account_concurrency", 1000, "concurrent executions per account and region (default quota)",
              "AWS Lambda Developer Guide, \"Lambda quotas\" https://docs.aws.amazon.com/lambda/latest/dg/"
              "gettingstarted-limits.html"),
    Parameter("batch_delete_max_concurrency", 20, "MaximumConcurrency of the batch-delete event source",
              TEMPLATE + " (BatchDeleteMaxConcurrency default; " + LAMBDA_SCALING_CONFIG + ")"),
    Parameter("listing_max_concurrency", 10, "MaximumConcurrency of the listing event source", TEMPLATE),
    Parameter("batch_delete_batch_size", 5, "chunk messages per batch-delete invocation", TEMPLATE),
    Parameter("deletion_visibility_timeout_s", 540, "s before a failed chunk message is delivered again",
              TEMPLATE),
    Parameter("max_receive_count", 5, "deliveries before a message is dead-lettered (task FAILED)", TEMPLATE),
    Parameter("sqs_send_median_ms", 8, "ms per SendMessage(Batch)", "assumption"),
    Parameter("sqs_poll_gap_ms", 20, "ms between a message becoming visible and its invocation starting",
              "assumption"),
    Parameter("cold_start_ms", 720, "ms of a new batch-delete instance's start (interpreter and imports)",
              MEASURED + "20261123T030010Z.json (import_times: batch_delete process_ms 720.7)"),
    Parameter("chunk_cpu_ms", 14.3, "ms of worker CPU per 1000-key chunk (parse message, build call, read answer), on one core here",
              MEASURED + "scale-measurements.json (python -m bench.scale.measure)"),
    Parameter("page_cpu_ms", 20.8, "ms of lister CPU per 1000-entry page (parse page, cut and serialize chunks), on one core here",
              MEASURED + "scale-measurements.json (python -m bench.scale.measure)"),
    Parameter("chunk_message_kib", 33.3, "KiB per 1000-key chunk message (billing: one SQS request per 64 KiB)",
              MEASURED + "scale-measurements.json (python -m bench.scale.measure)"),
    Parameter("lambda_mb_per_vcpu", 1769, "MB of function memory per vCPU (CPU scales with memory)",
              "AWS Lambda Developer Guide, \"Configure Lambda function memory\": at 1,769 MB a function has the "
              "equivalent of one vCPU https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html"),
    Parameter("batch_delete_memory_mb", 256, "MB of the batch-delete function", TEMPLATE),
    Parameter("listing_memory_mb", 512, "MB of the listing function", TEMPLATE),
    Parameter("listing_pages_per_step", 50, "pages one listing step lists before handing over", ENGINE),
    # --- DynamoDB ---------------------------------------------------------------------------------------------------
    Parameter("ddb_item_wcu_per_s", 1000, "write units/s one partition (so one item) accepts", DDB_HOT_PARTITION),
    Parameter("ddb_item_rcu_per_s", 3000, "read units/s one partition (so one item) accepts", DDB_HOT_PARTITION),
    Parameter("ddb_get_median_ms", 5, "ms per consistent GetItem", "assumption (DynamoDB advertises single-digit "
                                                                     "millisecond reads)"),
    Parameter("ddb_update_median_ms", 8, "ms per UpdateItem", "assumption"),
    Parameter("ddb_transact_median_ms", 20, "ms per TransactWriteItems of two items", "assumption"),
    Parameter("ddb_transact_hold_ms", 10, "ms a transaction holds its items against concurrent writes",
              "assumption (half the transaction's modeled latency; not published, the model's largest unknown); "
              + DDB_TRANSACTIONS),
    Parameter("task_item_kib", 1.23, "KiB of the task item (write units scale with the larger image)",
              MEASURED + "scale-measurements.json (python -m bench.scale.measure)"),
    Parameter("botocore_max_attempts", 8, "attempts of the engine's clients (standard mode)",
              "this repository: layers/eraser/eraser/aws.py; " + BOTOCORE_RETRIES),
    Parameter("key_retry_attempts", 5, "the deletion loop's own attempts per call", ENGINE),
    Parameter("key_retry_base_s", 0.2, "s, base of the deletion loop's backoff", ENGINE),
    # --- the design's adaptive rate (storage/rate.py in the issue) ----------------------------------------------------
    Parameter("aimd_start_fraction", 0.9, "first rate per prefix, as a fraction of the documented 3,500/s",
              "design choice (start under the published floor)"),
    Parameter("aimd_increase_per_s", 50, "keys/s added per second of sending", "design choice"),
    Parameter("aimd_decrease", 0.9, "factor the rate is cut by on SlowDown", "design choice"),
    Parameter("aimd_floor", 100, "keys/s a prefix's rate never goes under", "design choice"),
    # --- peers -----------------------------------------------------------------------------------------------------
    Parameter("s5cmd_delete_in_flight", 10, "DeleteObjects calls s5cmd rm keeps in flight (whatever --numworkers)",
              S5CMD_SOURCE + ": storage/s3.go MultiDelete, sem := make(chan struct{}, 10)"),
    Parameter("s5cmd_retry_count", 10, "retries per request (--retry-count default)", S5CMD_SOURCE
              + ": command/app.go defaultRetryCount"),
    Parameter("s5cmd_throttle_min_delay_s", 0.5, "s, aws-sdk-go throttle backoff base (503: 2^n x [0.5, 1) s)",
              S5CMD_SOURCE + ": vendor/.../aws/client/default_retryer.go DefaultRetryerMinThrottleDelay"),
    Parameter("boto3_max_attempts", 10, "attempts per call of the boto3 scripts (standard mode)",
              "this repository: bench/worker.py; " + BOTOCORE_RETRIES),
    Parameter("awscli_concurrency", 10, "DeleteObject requests aws s3 rm keeps in flight", AWS_CLI_S3_CONFIG),
    Parameter("client_page_cpu_ms", 15.6, "ms of a Python client's CPU per 1000-entry page or DeleteObjects answer",
              MEASURED + "scale-measurements.json (python -m bench.scale.measure)"),
    # --- prices -----------------------------------------------------------------------------------------------------
    Parameter("price_list_per_1000", 0.005, "USD per 1,000 LIST requests", S3_PRICING + " (PUT, COPY, POST, LIST)"),
    Parameter("price_delete_per_1000", 0.0, "USD per 1,000 DELETE / DeleteObjects requests",
              S3_PRICING + ": DELETE and CANCEL requests are free (DeleteObjects, a POST, is taken as DELETE: "
                           "assumption)"),
    Parameter("price_sqs_per_million", 0.40, "USD per million SQS requests (each 64 KiB of payload is one)",
              SQS_PRICING),
    Parameter("price_ddb_write_per_million", 0.625, "USD per million write request units", DDB_PRICING),
    Parameter("price_ddb_read_per_million", 0.125, "USD per million read request units", DDB_PRICING),
    Parameter("price_lambda_per_million", 0.20, "USD per million Lambda invocations", LAMBDA_PRICING),
    Parameter("price_lambda_gb_second", 0.0000166667, "USD per GB-second of Lambda", LAMBDA_PRICING),
)


class Values:
    """Parameter values by attribute, with overrides (``--set name=value``)."""

    def __init__(self, overrides: dict[str, float] | None = None) -> None:
        unknown = set(overrides or {}) - set(PARAMETERS)
        if unknown:
            raise KeyError(f"unknown parameters: {', '.join(sorted(unknown))}")
        self._values = {name: parameter.value for name, parameter in PARAMETERS.items()}
        self._values.update(overrides or {})

    def __getattr__(self, name: str) -> float:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def as_dict(self) -> dict[str, float]:
        return dict(self._values)


def table_rows() -> list[tuple[str, str, str, str]]:
    return [(p.name, f"{p.value:g}", p.unit, p.source) for p in PARAMETERS.values()]
