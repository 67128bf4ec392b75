"""What the history does with a sample far from the last one: a clock that jumped.

A tier buckets by wall-clock time and keeps the span before its newest bucket. One sample ten
years ahead (an RTC glitch, a bad NTP answer) would make every tier's past "too old" and cut
it, and every later, real sample would merge into that one future bucket until real time
caught up with it. So a sample more than `JUMP` seconds from the newest one taken (ahead or
behind) is held, not taken, until the next sample says which clock is right:

- the next one is near the held one: the time really is there now (the sidecar was stopped
  for a while, or the clock was set for good). Both are taken; after a clock that went back,
  the buckets after the new time are dropped first (they are in the future of the clock now),
  and that is told.
- the next one is near the newest taken: the held sample was a jump and back. It is set aside,
  which is told, and the series goes on from real time.
- neither: the held one is set aside and the new one is held in its turn.

The decision reads only the samples' times, in order, so replaying the journal after a restart
(where every sample is kept as it came) takes the same decisions again: the past stays as it
was. A short step back (NTP slewing, under `JUMP`) merges into the newest bucket as before.
"""

from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from sidecar.durations import approximate
from sidecar.timestamps import iso

# Longer than any interval the sidecar runs at (and than NTP's steps); short enough that real
# samples never pile into one bucket for long.
JUMP = 300.0


class Timed(Protocol):
    """A sample: all the guard reads of it is its time."""

    @property
    def time(self) -> float: ...


S = TypeVar("S", bound=Timed)


@dataclass
class Decision(Generic[S]):
    """What to do with the samples now: drop buckets after `rewind`, then take `take`."""

    take: list[S] = field(default_factory=list)
    rewind: float | None = None
    note: str | None = None  # what happened, for the timeline; None when nothing did


class ClockGuard(Generic[S]):
    """Holds a sample far from the newest taken until the next one tells whether it is real."""

    def __init__(self, last: float | None = None, held: S | None = None) -> None:
        self.last = last  # the newest time taken
        self.held = held

    def offer(self, sample: S) -> Decision[S]:
        """Decide about `sample` (and the one held, if any)."""
        held, self.held = self.held, None
        if held is None:
            return self._fresh(sample)
        if abs(sample.time - held.time) <= JUMP:
            decision: Decision[S] = Decision([held, sample])
            if self.last is not None and held.time < self.last:
                decision.rewind = held.time
                decision.note = (
                    f"the clock went back {approximate(self.last - held.time)}: the history "
                    f"after {iso(held.time, 'seconds')} is dropped (it is in the future now)"
                )
            self.last = max(held.time, sample.time)
            return decision
        decision = self._fresh(sample)
        way = "ahead" if self.last is None or held.time > self.last else "back"
        gap = abs(held.time - (self.last if self.last is not None else sample.time))
        decision.note = (
            f"the clock jumped {approximate(gap)} {way} for one sample "
            f"(at {iso(held.time, 'seconds')}): it is set aside, the history goes on"
        )
        return decision

    def _fresh(self, sample: S) -> Decision[S]:
        if self.last is None or abs(sample.time - self.last) <= JUMP:
            self.last = sample.time if self.last is None else max(self.last, sample.time)
            return Decision([sample])
        self.held = sample
        return Decision([])
