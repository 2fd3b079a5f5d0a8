"""The crash journal: what the gateway took, written the moment it answered, so that a worker
killed between two checkpoints is not made to send it again.

Outcomes reach the database only at checkpoints (every CHECKPOINT_ROWS rows, one UPDATE per
group), because a database write per message would halve the delivery rate. In between, each outcome a
method `report()`s is appended to a file of its own claim: `<JOURNAL_DIR>/<sent>-<batch>-<claim>.log`,
one line per row (`id, status, charged, gateway ref, reason`), with one `write()` per report.

- A killed process (SIGKILL, OOM) loses nothing written: the data is in the kernel's page
  cache, so the worker that takes the rows over reads every line. Only the message that was on
  the wire (email: one; an SMS order: its rows) may have gone out unrecorded.
- The file is never synced to disk: an `fdatasync` per group of 100 lines halved the delivery
  rate (on ext4 it flushes the database's writes too). So after the machine itself went down
  (the boot id in the header differs) lines may be missing, and the reader trusts only the
  lines present: the rest of the chunk that was being sent is marked, as without a journal.

A file rather than Redis: a local append costs under a microsecond and survives the process
without a round trip per message; Redis would need one per message (or lose up to a window of
them when the worker dies). The journal only helps a worker that can read the file: workers on
other machines fall back to marking the whole chunk, unless JOURNAL_DIR is shared.
"""

import functools
import logging
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from sender.channels import Outcome
from sender.conf import sender_settings

logger = logging.getLogger(__name__)
STALE_SECONDS = 24 * 3600
"""A journal left this long (its worker and every reclaimer gone) is removed by the periodic round."""
_CLEAN = str.maketrans("\t\n\r", "   ")


def directory() -> Path:
    """SENDER["JOURNAL_DIR"], else `journal/` in the project's VAR_DIR."""
    configured = sender_settings.JOURNAL_DIR
    if configured:
        return Path(configured)
    return Path(getattr(settings, "VAR_DIR", None) or Path(settings.BASE_DIR) / "var") / "journal"


@functools.cache
def boot_id() -> str:
    """This boot of the machine: the page cache (every line written) survives a process, not a reboot.
    Read once per process (it cannot change under a running process; each claim used to read it)."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def path_for(sent_id: int, batch: int, token: uuid.UUID) -> Path:
    return directory() / f"{sent_id}-{batch}-{token.hex}.log"


class Journal:
    """The append-only journal of one claim, open while its worker delivers the batch."""

    def __init__(self, sent_id: int, batch: int, token: uuid.UUID):
        self.path = path_for(sent_id, batch, token)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        try:
            self.fd: int | None = os.open(self.path, flags, 0o600)
        except FileNotFoundError:  # the first journal here: make the folder (not checked per claim)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(self.path, flags, 0o600)
        os.write(self.fd, f"#sender-journal 1 boot={boot_id()} pid={os.getpid()}\n".encode())
        self.seen: set[int] = set()

    def write(self, outcomes: Sequence[Outcome]) -> None:
        """Append the outcomes not journaled yet, in one write (a killed process keeps it)."""
        lines = []
        for o in outcomes:
            if o.row_id in self.seen:
                continue
            self.seen.add(o.row_id)
            lines.append(f"{o.row_id}\t{o.status}\t{int(bool(o.charged))}\t{o.gateway_ref.translate(_CLEAN)}"
                         f"\t{o.reason.translate(_CLEAN)}\n")
        if lines and self.fd is not None:
            os.write(self.fd, "".join(lines).encode())

    __call__ = write  # the listener `sender.channels.base.report` calls

    def close(self, keep: bool = False) -> None:
        """Stop journaling; remove the file once its outcomes are in the database (not `keep`)."""
        if self.fd is None:
            return
        os.close(self.fd)
        self.fd = None
        if not keep:
            self.path.unlink(missing_ok=True)


@dataclass
class Record:
    """What a dead worker's journal proves: outcomes by row, and whether every line written
    survived (the same boot: a killed process, not a machine that went down)."""

    outcomes: dict[int, Outcome]
    complete: bool
    path: Path

    @property
    def token(self) -> uuid.UUID:
        return uuid.UUID(self.path.stem.rsplit("-", 1)[1])

    @property
    def last(self) -> int | None:
        """The last row reported (rows go out in id order)."""
        return max(self.outcomes) if self.outcomes else None


def left_for(sent_id: int, batch: int, besides: uuid.UUID | None = None) -> list[Path]:
    """Journal files of this batch's other claims (normally none: one only stays behind a dead worker)."""
    folder = directory()
    try:
        names = os.listdir(folder)  # a plain listing: glob's pattern matching cost more than the claim
    except (FileNotFoundError, NotADirectoryError):
        return []
    prefix, mine = f"{sent_id}-{batch}-", f"{besides.hex}.log" if besides else None
    return [folder / name for name in names
            if name.startswith(prefix) and name.endswith(".log") and name[len(prefix):] != mine]


def read(path: Path) -> Record | None:
    """Parse a journal; a torn last line (power cut) is ignored. None when it cannot be read."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    lines = data.decode("utf-8", "replace").split("\n")
    header = lines[0].split() if lines else []
    boot = next((part[5:] for part in header if part.startswith("boot=")), "")
    outcomes: dict[int, Outcome] = {}
    for line in lines[1:-1]:  # the last piece has no newline: empty, or torn
        try:
            row_id, status, charged, ref, reason = line.split("\t", 4)
            outcomes[int(row_id)] = Outcome(int(row_id), status, reason, ref, charged == "1")
        except ValueError:
            logger.warning("skipping a malformed line of the delivery journal %s", path)
    return Record(outcomes, complete=bool(boot) and boot == boot_id(), path=path)


def sweep(max_age: float = STALE_SECONDS) -> int:
    """Remove journals nobody will read (untouched for `max_age` seconds); return how many."""
    folder = directory()
    if not folder.is_dir():
        return 0
    removed = 0
    for path in folder.glob("*.log"):
        try:
            if time.time() - path.stat().st_mtime > max_age:
                path.unlink()
                removed += 1
        except OSError:
            continue
    return removed
