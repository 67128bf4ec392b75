"""The demo's throwaway MariaDB with what only the tests do to it: kill, hang, restart, and bring
back a datadir set aside."""

import shutil
import signal
from pathlib import Path

from sidecar.demo.mariadb import MariaDBServer


class MariaDBTestServer(MariaDBServer):
    """A `MariaDBServer` that fault scenarios can kill, hang and resume."""

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash or an OOM kill would."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def pause(self) -> None:
        """Hang the server (SIGSTOP): connections are accepted by the kernel, nothing answers."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Undo `pause()`."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        """Stop and start again on the same datadir."""
        self.stop()
        self.start()

    def restore_datadir(self, aside: Path) -> None:
        """Stop and bring back a datadir set aside by `swap_datadir()`."""
        self.stop()
        shutil.rmtree(self.datadir)
        aside.rename(self.datadir)
        self.start()
