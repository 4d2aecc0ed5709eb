"""What the routes do: each handler calls exactly one function here after authenticating and parsing, and renders
what it returns.

An operation takes the authenticated ``Principal`` and the route's request model (defined here), looks the bucket
or task up within the caller's organization, enforces the task-creation rate limit where it creates a task, decides
between answering synchronously and creating a task, and calls the engine (``tasks``) and ``storage`` for the work.

Modules by subject: ``objects`` (bulk delete, S3 DeleteObject and DeleteObjects, the S3 endpoint's reads),
``buckets`` (purge a bucket, delete a bucket, the Idempotency-Key), ``tasks`` (read and cancel a task), ``trash``
(list, restore, purge_all, the scheduled purge of expired trash).
"""
