"""Eraser's domain: everything the functions share, split by subject.

- ``config``: settings parsed once from the environment
- ``errors``: the domain's error types (each API family renders them its own way)
- ``aws``: boto3 clients, created once per process
- ``tenancy``: organizations and buckets
- ``auth``: credentials (API keys, JWT), scopes, principals
- ``storage``: S3 deletion (single object, bulk, listing)
- ``tasks``: the deletion task engine
- ``api``: HTTP plumbing and one renderer per API family
"""
