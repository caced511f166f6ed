"""Edges of the pipeline: every module here reads or writes files, streams or devices."""
