"""HTTP plumbing shared by the API functions, and one module per API family that renders results and errors.

Families: ``quiva`` (purge), ``mixpeek`` (delete bucket, tasks), ``katapult`` (trash purge_all), ``s3xml``
(DeleteObject) and ``seahorse`` (bulk delete).
"""
