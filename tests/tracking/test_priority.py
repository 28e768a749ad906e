"""tracking.priority: the flusher yields the CPU to the web workers, and steps up when it falls behind."""

import pytest

from tracking import priority


class Recorder:
    def __init__(self, *, may_raise=True, has_idle=True):
        self.calls, self.may_raise, self.has_idle = [], may_raise, has_idle

    def idle(self):
        self.calls.append("idle")
        return self.has_idle

    def normal(self):
        if not self.may_raise:
            raise PermissionError("RLIMIT_NICE")
        self.calls.append("normal")


def make(mode="idle", **kwargs):
    recorder = Recorder(**kwargs)
    return priority.Priority(mode, set_idle=recorder.idle, set_normal=recorder.normal), recorder


def test_idle_mode_starts_idle_and_steps_up_only_while_behind():
    cpu, calls = make()
    cpu.apply()
    for lag in (0.3, None, 4.9):  # keeping up, nothing stored, behind but within the bound
        cpu.update(lag)
    assert calls.calls == ["idle"]
    cpu.update(priority.MAX_LAG_SECONDS + 1)
    cpu.update(3.0)  # catching up: stays at normal priority
    assert calls.calls == ["idle", "normal"] and cpu.raised
    cpu.update(0.2)
    assert calls.calls == ["idle", "normal", "idle"] and not cpu.raised


def test_without_the_right_to_step_up_it_warns_once_and_stays_idle(caplog):
    cpu, calls = make(may_raise=False)
    cpu.apply()
    cpu.update(60.0)
    cpu.update(60.0)
    assert calls.calls == ["idle"] and not cpu.raised
    assert caplog.text.count("may not leave SCHED_IDLE") == 1


def test_without_sched_idle_there_is_nothing_to_step_up_from():
    cpu, calls = make(has_idle=False)  # nice 19 instead: lowering it again needs privileges anyway
    cpu.apply()
    cpu.update(60.0)
    assert calls.calls == ["idle"]


def test_normal_mode_never_touches_the_scheduler():
    cpu, calls = make("normal")
    cpu.apply()
    cpu.update(60.0)
    assert calls.calls == []


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="priority: one of idle, low, normal"):
        priority.Priority("urgent")


def test_a_system_that_refuses_a_lower_priority_only_costs_the_latency_benefit(caplog):
    def refused():
        raise PermissionError("sched_setscheduler: operation not permitted")

    cpu = priority.Priority("idle", set_idle=refused, set_normal=lambda: None)
    cpu.apply()
    cpu.update(60.0)  # and nothing else is tried
    assert cpu.mode == "normal" and not cpu.raised
    assert "could not lower its CPU priority" in caplog.text
