"""Tests of the domain package on its own: no AWS, no handlers."""
