"""Streaming flattener: decoded label-noise results to COPY data, one table at a time.

Each generator yields chunks of about `CHUNK_ROWS` rows in a PostgreSQL
COPY format. Tables with text columns use text format (tab-separated, one
row per line, `\\N` for NULL). The three large numeric tables in
`BINARY_TABLES` use binary format, because `struct.pack` builds those rows
about twice as fast as formatting floats as text. Rows are produced
straight from the decoded structs and never collected, so memory stays
bounded by the decoded payload plus one chunk. A key listed twice within
one table keeps its first row; later ones are dropped and counted in
`Flattener.duplicates`.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from models.label_noise import (
    CosineSimilarityIssue,
    EmbeddedSample,
    LabelNoiseData,
)
from models.studio import Sample

CHUNK_ROWS = 8192

# COPY text format gives a meaning to backslash, and to tab, newline and
# carriage return as separators, so these four are escaped inside values.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"

# Binary COPY layout: a 16-bit field count, then per field a 32-bit byte
# length and the value in network byte order (bigint q, integer i, smallint
# h, double precision d). Floats travel as their IEEE bits, so they round-trip
# exactly and PostgreSQL parses no text.
BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
BINARY_TRAILER = struct.pack(">h", -1)
BINARY_TABLES = frozenset({"neighbor_scores", "neighbor_windows", "cross_validation_scores"})
_NEIGHBOR_SCORE_ROW = struct.Struct(">h" + "iq" * 4 + "id")
_NEIGHBOR_WINDOW_ROW = struct.Struct(">h" + "iq" * 4 + "ih" + "iq" * 3)
_CROSS_VALIDATION_ROW = struct.Struct(">h" + "iq" * 4 + "ii" + "id" * 2)

# Columns of each table in the order the generators write them.
COLUMNS: dict[str, tuple[str, ...]] = {
    "run_labels": ("run_id", "label_index", "label_name"),
    "run_samples": ("run_id", "sample_id", "filename", "label", "category", "is_disabled"),
    "cosine_issues": ("run_id", "kind", "sample_id", "label_index"),
    "cosine_matches": (
        "run_id",
        "kind",
        "sample_id",
        "other_sample_id",
        "window_start",
        "window_end",
        "other_label_index",
        "score",
    ),
    "neighbor_scores": ("run_id", "sample_id", "window_start", "window_end", "score"),
    "neighbor_windows": (
        "run_id",
        "sample_id",
        "window_start",
        "window_end",
        "rank",
        "neighbor_sample_id",
        "neighbor_window_start",
        "neighbor_window_end",
    ),
    "cross_validation_scores": (
        "run_id",
        "sample_id",
        "window_start",
        "window_end",
        "label_index",
        "probability",
        "score",
    ),
}


@dataclass(frozen=True)
class SampleSnapshot:
    """A sample as Studio listed it when the run fetched its results."""

    sample_id: int
    filename: str
    label: str | None
    category: str
    is_disabled: bool

    @classmethod
    def from_sample(cls, sample: Sample) -> SampleSnapshot:
        """Keep the fields of a listed Studio sample that the warehouse stores."""
        return cls(
            sample_id=sample.id,
            filename=sample.filename,
            label=sample.label,
            category=sample.category,
            is_disabled=sample.is_disabled,
        )


def copy_text(value: str) -> str:
    """Escape `value` as a COPY text-format field.

    Raises `ValueError` for a NUL character, which PostgreSQL `text` cannot store.
    """
    if "\x00" in value:
        raise ValueError(
            f"Text value {value[:80]!r} contains a NUL character (U+0000), "
            "which PostgreSQL text columns cannot store"
        )
    return value.translate(_COPY_ESCAPES)


def _nullable_text(value: str | None) -> str:
    return _NULL if value is None else copy_text(value)


def _chunks(lines: Iterable[str]) -> Iterator[str]:
    buffer: list[str] = []
    for line in lines:
        buffer.append(line)
        if len(buffer) >= CHUNK_ROWS:
            yield "".join(buffer)
            buffer.clear()
    if buffer:
        yield "".join(buffer)


class Flattener:
    """COPY data of one run's results; each table's generator may be consumed once.

    The flattener keeps the three method sections, not the decoded response,
    so `release` can free a section once its tables are written.
    """

    def __init__(self, run_id: int, data: LabelNoiseData) -> None:
        self.run_id = run_id
        self.cosine_similarity = data.cosine_similarity
        self.neighbors = data.neighbors
        self.cross_validation = data.cross_validation
        self.duplicates: Counter[str] = Counter()
        self._prefix = f"{run_id}\t"
        # Positions of entries whose key was listed earlier, so that the nested
        # rows (matches, neighbour windows) of a dropped entry are dropped with it.
        self._dropped_cosine_issues: set[tuple[str, int]] = set()
        self._dropped_neighbor_entries: set[int] = set()

    def labels(self, labels: Sequence[str]) -> Iterator[str]:
        """Rows of `run_labels`: the label at position i has index i."""
        return _chunks(
            f"{self._prefix}{index}\t{copy_text(name)}\n" for index, name in enumerate(labels)
        )

    def samples(
        self, listed: Iterable[SampleSnapshot], *, skip_ids: set[int] | None = None
    ) -> Iterator[str]:
        """Rows of `run_samples`: the listed samples, then embedded samples not listed.

        `skip_ids` are sample ids the run already has rows for.
        """
        seen = set(skip_ids or ())
        return _chunks(self._sample_lines(listed, seen))

    def _sample_lines(self, listed: Iterable[SampleSnapshot], seen: set[int]) -> Iterator[str]:
        prefix = self._prefix
        listed_dropped = 0
        for sample in listed:
            if sample.sample_id in seen:
                listed_dropped += 1
                continue
            seen.add(sample.sample_id)
            yield (
                f"{prefix}{sample.sample_id}\t{copy_text(sample.filename)}\t"
                f"{_nullable_text(sample.label)}\t{copy_text(sample.category)}\t"
                f"{'t' if sample.is_disabled else 'f'}\n"
            )
        if listed_dropped:
            self.duplicates["run_samples"] += listed_dropped

        for embedded in self.embedded_samples():
            if embedded.id in seen:
                continue
            seen.add(embedded.id)
            yield (
                f"{prefix}{embedded.id}\t{copy_text(embedded.filename)}\t"
                f"{copy_text(embedded.label)}\t{copy_text(embedded.category)}\t"
                f"{'t' if embedded.is_disabled else 'f'}\n"
            )

    def embedded_samples(self) -> Iterator[EmbeddedSample]:
        """Yield every `sample` object embedded in the results, in document order."""
        if self.cosine_similarity is not None:
            for issues in (
                self.cosine_similarity.similar_but_different_label,
                self.cosine_similarity.different_but_same_label,
            ):
                for issue in issues:
                    if issue.sample is not None:
                        yield issue.sample
                    for other in issue.issues:
                        if other.sample is not None:
                            yield other.sample
        if self.neighbors is not None:
            for entry in self.neighbors.scores_and_neighbors:
                if entry.sample is not None:
                    yield entry.sample
                for neighbor in entry.neighbor_windows:
                    if neighbor.sample is not None:
                        yield neighbor.sample
        if self.cross_validation is not None:
            for score in self.cross_validation.scores:
                if score.sample is not None:
                    yield score.sample

    def release(self, section: str) -> None:
        """Drop a method section (`cosine_similarity`, `neighbors` or `cross_validation`).

        Its structs are freed once nothing else references the decoded
        response, and its generators then yield nothing.
        """
        if section not in ("cosine_similarity", "neighbors", "cross_validation"):
            raise ValueError(f"Unknown label-noise section {section!r}")
        setattr(self, section, None)

    def _cosine_kinds(self) -> Iterator[tuple[str, list[CosineSimilarityIssue]]]:
        section = self.cosine_similarity
        if section is None:
            return
        yield "similar_but_different_label", section.similar_but_different_label
        yield "different_but_same_label", section.different_but_same_label

    def cosine_issues(self) -> Iterator[str]:
        """Rows of `cosine_issues`, keyed by kind and sample; call before `cosine_matches`."""
        return _chunks(self._cosine_issue_lines())

    def _cosine_issue_lines(self) -> Iterator[str]:
        prefix = self._prefix
        for kind, issues in self._cosine_kinds():
            seen: set[int] = set()
            for position, issue in enumerate(issues):
                if issue.id in seen:
                    self._dropped_cosine_issues.add((kind, position))
                    self.duplicates["cosine_issues"] += 1
                    continue
                seen.add(issue.id)
                yield f"{prefix}{kind}\t{issue.id}\t{issue.label}\n"

    def cosine_matches(self) -> Iterator[str]:
        """Rows of `cosine_matches`: each symptomatic window of each other sample.

        The matches of a dropped duplicate issue are dropped with it, uncounted.
        """
        return _chunks(self._cosine_match_lines())

    def _cosine_match_lines(self) -> Iterator[str]:
        prefix = self._prefix
        dropped_issues = self._dropped_cosine_issues
        for kind, issues in self._cosine_kinds():
            seen: set[tuple[int, int, int, int]] = set()
            dropped = 0
            for position, issue in enumerate(issues):
                if (kind, position) in dropped_issues:
                    continue
                head = f"{prefix}{kind}\t{issue.id}\t"
                for other in issue.issues:
                    for window in other.windows:
                        key = (issue.id, other.id, window.window_start, window.window_end)
                        if key in seen:
                            dropped += 1
                            continue
                        seen.add(key)
                        yield (
                            f"{head}{other.id}\t{window.window_start}\t{window.window_end}\t"
                            f"{other.label}\t{window.score!r}\n"
                        )
            if dropped:
                self.duplicates["cosine_matches"] += dropped

    def neighbor_scores(self) -> Iterator[bytes]:
        """Binary COPY rows of `neighbor_scores`; call before `neighbor_windows`."""
        section = self.neighbors
        if section is None:
            return
        pack = _NEIGHBOR_SCORE_ROW.pack
        run_id = self.run_id
        seen: set[tuple[int, int, int]] = set()
        buffer: list[bytes] = []
        for position, entry in enumerate(section.scores_and_neighbors):
            key = (entry.id, entry.window_start, entry.window_end)
            if key in seen:
                self._dropped_neighbor_entries.add(position)
                continue
            seen.add(key)
            try:
                buffer.append(pack(5, 8, run_id, *_window(entry), 8, entry.score))
            except struct.error as exc:
                raise _out_of_range("neighbor_scores", key, exc) from exc
            if len(buffer) >= CHUNK_ROWS:
                yield b"".join(buffer)
                buffer.clear()
        if buffer:
            yield b"".join(buffer)
        if self._dropped_neighbor_entries:
            self.duplicates["neighbor_scores"] += len(self._dropped_neighbor_entries)

    def neighbor_windows(self) -> Iterator[bytes]:
        """Binary COPY rows of `neighbor_windows`: rank 1 is the first, nearest neighbour.

        The neighbours of a dropped duplicate window are dropped with it, uncounted.
        """
        section = self.neighbors
        if section is None:
            return
        pack = _NEIGHBOR_WINDOW_ROW.pack
        run_id = self.run_id
        dropped = self._dropped_neighbor_entries
        buffer: list[bytes] = []
        for position, entry in enumerate(section.scores_and_neighbors):
            if position in dropped:
                continue
            window = _window(entry)
            try:
                buffer.extend(
                    pack(8, 8, run_id, *window, 2, rank, *_window(neighbor))
                    for rank, neighbor in enumerate(entry.neighbor_windows, start=1)
                )
            except struct.error as exc:
                key = (entry.id, entry.window_start, entry.window_end)
                raise _out_of_range("neighbor_windows", key, exc) from exc
            if len(buffer) >= CHUNK_ROWS:
                yield b"".join(buffer)
                buffer.clear()
        if buffer:
            yield b"".join(buffer)

    def cross_validation_scores(self) -> Iterator[bytes]:
        """Binary COPY rows of `cross_validation_scores`, one per window."""
        section = self.cross_validation
        if section is None:
            return
        pack = _CROSS_VALIDATION_ROW.pack
        run_id = self.run_id
        seen: set[tuple[int, int, int]] = set()
        dropped = 0
        buffer: list[bytes] = []
        for score in section.scores:
            key = (score.id, score.window_start, score.window_end)
            if key in seen:
                dropped += 1
                continue
            seen.add(key)
            try:
                buffer.append(
                    pack(
                        7,
                        8,
                        run_id,
                        *_window(score),
                        4,
                        score.label,
                        8,
                        score.probability,
                        8,
                        score.score,
                    )
                )
            except struct.error as exc:
                raise _out_of_range("cross_validation_scores", key, exc) from exc
            if len(buffer) >= CHUNK_ROWS:
                yield b"".join(buffer)
                buffer.clear()
        if buffer:
            yield b"".join(buffer)
        if dropped:
            self.duplicates["cross_validation_scores"] += dropped


class _Window(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def window_start(self) -> int: ...
    @property
    def window_end(self) -> int: ...


def _window(item: _Window) -> tuple[int, int, int, int, int, int]:
    """Return the length-prefixed binary fields of a window's sample id, start and end."""
    return 8, item.id, 8, item.window_start, 8, item.window_end


def _out_of_range(table: str, key: tuple[int, int, int], exc: struct.error) -> ValueError:
    sample_id, start, end = key
    return ValueError(
        f"A {table} row of sample {sample_id}, window {start}-{end} ms, has a value outside "
        f"its column type (bigint ids and times, integer labels, smallint ranks): {exc}"
    )
