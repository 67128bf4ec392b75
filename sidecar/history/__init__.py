"""The history: what the charts draw and the timeline tells, kept beside the state.

`series.py` bounds the samples (three resolutions), `events.py` is the timeline's entries,
`files.py` the crash-safe journal and snapshot, `history.py` the whole of it in memory, and
`recorder.py` the scheduler listener that feeds it from each report.
"""

from sidecar.history.events import Change, Event, Kind
from sidecar.history.history import History
from sidecar.history.recorder import Recorder

__all__ = ["Change", "Event", "History", "Kind", "Recorder"]
