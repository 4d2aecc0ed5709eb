"""Storage: deleting objects from S3 (single objects, bulk deletes, key rules)."""
