"""`python -m bench`: Eraser against other deletion tools on the embedded backend (moto's server on loopback).

For each scenario the bench populates a fresh bucket straight through moto's in-process backend, runs each contender
on it, checks that exactly the right objects are gone, counts the requests the server saw, and reports medians.
"""
