"""Readers of training-log formats: each returns the tidy scalar table and the damage it found."""

from fourlens.training.readers.tfevents import is_event_file, read_event_file, read_event_files
from fourlens.training.readers.tfrecord import ReadIssue

__all__ = ["ReadIssue", "is_event_file", "read_event_file", "read_event_files"]
