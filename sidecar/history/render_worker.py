"""The child process that renders `/history` and `/events` bodies (renders.RenderWorker).

    python -m sidecar.history.render_worker    # started by the sidecar, spoken to on pipes

A render is tens of milliseconds of pure Python. In a thread of the sidecar it holds the GIL
the event loop needs, and on a busy machine the thread is preempted holding it: a probe then
waits for the render's next time slice, not its own (`/livez` p99 at 39 ms with a render per
request, against 12 ms idle). In this process, a render costs the loop's process nothing but
its share of the CPU, and at a lower priority not even that while probes wait.

The parent sends, one at a time, an 8-byte big-endian length and a pickled job (a
`functools.partial` of a module-level render and the copy it reads: the parent's own data,
from its own pipe, never anything a client sent). The child answers a status byte (0: the
body follows, 1: the error's text follows), an 8-byte length and the bytes. At the end of its
input (the sidecar stopped, or closed it) it exits.
"""

import os
import pickle
import sys
from typing import BinaryIO

NICE = 10  # added to the sidecar's own niceness: the loop's process comes first
OK, FAILED = b"\x00", b"\x01"


def _exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = stream.read(size)
    return data if len(data) == size else None


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    """Render each job of `requests` into `answers` until the input ends."""
    while (header := _exactly(requests, 8)) is not None:
        payload = _exactly(requests, int.from_bytes(header, "big"))
        if payload is None:
            return
        try:
            body = pickle.loads(payload)()  # noqa: S301 (the parent's own job, see above)
            status = OK
        except Exception as exc:  # the parent logs it and renders in a thread instead
            body, status = f"{type(exc).__name__}: {exc}"[:500].encode(), FAILED
        answers.write(status + len(body).to_bytes(8, "big") + body)
        answers.flush()


def main() -> int:
    os.nice(NICE)
    serve(sys.stdin.buffer, sys.stdout.buffer)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
