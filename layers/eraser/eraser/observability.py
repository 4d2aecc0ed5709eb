"""The one Logger, Tracer and Metrics of every function (configured by POWERTOOLS_* variables in template Globals)."""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
