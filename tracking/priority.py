"""The flusher's CPU priority: storing can wait for a free core; answering requests cannot. No Django.

On a machine shared with the web workers, every batch the flusher stores takes a core away from the requests
being answered at that moment, and the latency tail shows it (bench-ingest: p99 ~60 ms with the flusher at
nice 10, ~46 ms at SCHED_IDLE, the ceiling's ~35 ms). At "idle" the flusher runs on Linux's SCHED_IDLE
policy, only when a core would otherwise be idle; the Redis buffer absorbs the difference and storing
catches up the moment the web quietens. If it falls behind by more than MAX_LAG_SECONDS (the web keeps both
cores busy for that long), it returns to normal priority until it has caught up, where the system lets it
(raising priority back needs RLIMIT_NICE ≥ 20 or CAP_SYS_NICE; otherwise it says so once and stays idle).
"""

import logging
import os

log = logging.getLogger(__name__)

MODES = ("idle", "low", "normal")
MAX_LAG_SECONDS = 5.0
CAUGHT_UP_SECONDS = 1.0


def _set_idle():
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return True
    os.nice(19)  # no SCHED_IDLE on this system: the lowest nice value instead
    return False


def _set_normal():
    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


class Priority:
    """Applies a mode at start and, in "idle", steps up while the flusher lags (`update(lag)` after each batch)."""

    def __init__(self, mode, *, set_idle=_set_idle, set_normal=_set_normal):
        if mode not in MODES:
            raise ValueError(f"priority: one of {', '.join(MODES)}")
        self.mode, self._set_idle, self._set_normal = mode, set_idle, set_normal
        self.raised = False
        self.can_raise = True

    def apply(self):
        """Lower the priority as the mode says; a system that refuses (a sandbox's seccomp policy…) only costs
        the latency benefit, never the flushing: it says so and carries on at the priority it was started with."""
        try:
            if self.mode == "idle":
                self.can_raise = self._set_idle()
            elif self.mode == "low":
                os.nice(10)
        except OSError as error:
            self.mode = "normal"
            log.warning("the flusher could not lower its CPU priority (%s); it runs at normal priority", error)

    def update(self, lag_seconds):
        if self.mode != "idle" or lag_seconds is None:
            return
        if not self.raised and lag_seconds > MAX_LAG_SECONDS and self.can_raise:
            try:
                self._set_normal()
            except PermissionError:
                self.can_raise = False
                log.warning(
                    "the flusher is %.0fs behind and may not leave SCHED_IDLE (raise RLIMIT_NICE to 20, or run it "
                    "with --priority normal on a machine of its own)", lag_seconds,
                )  # fmt: skip
                return
            self.raised = True
            log.info("the flusher is %.0fs behind: normal priority until it catches up", lag_seconds)
        elif self.raised and lag_seconds < CAUGHT_UP_SECONDS:
            self._set_idle()
            self.raised = False
