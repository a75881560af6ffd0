"""Schedules: the order a kernel runs its statement instances in, as an isl schedule tree."""

from .legality import check_schedule
from .schedule import Schedule, identity_schedule

__all__ = ["Schedule", "check_schedule", "identity_schedule"]
