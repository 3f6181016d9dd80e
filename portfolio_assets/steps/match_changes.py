"""What a materialization of match_report changed, and keeping it in the history.

The previous reports are the ones on disk when the step starts, read before the
new ones replace them (`match_report_parts.py` compares them with the new ones); when
there are none (the first materialization, or a report deleted) there is nothing to
compare with. A reused materialization records an empty record. The record is pending while the reports are replaced and appended to
the history (`incremental/change_history.py`) once they are, so a process that dies
in between loses nothing and adds nothing that did not happen.

Only a step given a run id records; called without one (a test, the benchmark) it
returns the changes and leaves the history alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ..domain.changes import ChangeSet
from ..incremental.change_history import (
    ChangeRecord,
    append_record,
    commit_pending,
    settle_pending,
    stage_pending,
)
from ..incremental.fingerprints import text_fingerprint
from ..incremental.metadata_files import MetadataFiles
from ..io.atomic_files import remove_leftover_temp_files
from ..settings import Settings

__all__ = ["ChangeRecording"]


@dataclass(frozen=True)
class ChangeRecording:
    settings: Settings
    run_id: str | None
    """The run whose changes are recorded; None records nothing."""

    @property
    def _files(self) -> MetadataFiles:
        return MetadataFiles(self.settings.metadata_dir)

    def settle_interrupted(self) -> str | None:
        """Settle the record of a run that died while replacing the reports; what was done, or None."""
        if self.run_id is None:
            return None
        remove_leftover_temp_files(self._files.change_history_dir)  # of a killed run: none runs now
        return settle_pending(
            self._files.change_history_dir, self._files.pending_change_path, self._reports_hash_on_disk
        )

    def record_unchanged(self) -> ChangeSet:
        """A reused materialization: the reports are the last ones, nothing changed."""
        changes = ChangeSet(compared=True)
        if self.run_id is not None:
            append_record(self._files.change_history_dir, ChangeRecord.now(self.run_id, changes))
        return changes

    @contextmanager
    def replacing(self, changes: ChangeSet, report_hash: str) -> Iterator[None]:
        """Around replacing the reports (whose new text hashes to `report_hash`): the
        record is pending meanwhile and appended to the history once they are replaced."""
        if self.run_id is None:
            yield
            return
        record = ChangeRecord.now(self.run_id, changes)
        stage_pending(self._files.pending_change_path, record, report_hash)
        yield
        commit_pending(self._files.change_history_dir, self._files.pending_change_path, record)

    def _reports_hash_on_disk(self) -> str | None:
        try:
            texts = [
                path.read_bytes().decode("utf-8")  # as written: no newline translation
                for path in (self.settings.match_report_path, self.settings.unmatched_report_path)
            ]
        except (OSError, UnicodeDecodeError):
            return None
        return text_fingerprint(*texts)
