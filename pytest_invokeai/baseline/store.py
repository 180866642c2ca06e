"""Where baseline records, their optional PNG copies and the workflows' index maps live on disk.

Layout under the store's root (``baselines/`` by default)::

    baselines/
      example_suite/test_noise.py/                      one directory per test file (its path segments)
        test_noise_seed_1-1a2b3c4d.json                 the record of "example_suite/test_noise.py::test_noise[seed=1]"
        test_noise_seed_1-1a2b3c4d.save_image.0.png     optional PNG copy: <stem>.<node id>.<image index>.png
                                                        (a node id's dots are replaced: the owner stays unambiguous)
        test_noise_seed_1-1a2b3c4d.save_image.0.preview.png   its preview for people (or .preview.jpg), see
                                                        baseline/preview.py: part of the record, like the copies
      loose_id-5e6f7a8b.json                            a test id without "::" sits at the top
      _profiles/<profile>/...                           the same layout, per profile (e.g. "cuda", "cpu")
      _index_maps/example_suite/noise.json.json         index map of the workflow example_suite/noise.json

A test id ``FILE::REST`` is split at its first ``::``; each ``/``-separated segment of ``FILE``
becomes a directory and ``REST`` the file stem, every one passed through
:func:`pytest_invokeai._util.names.safe_stem`. That keeps names readable where they are already safe and
appends a hash of the original where characters were replaced, so ``..``, absolute paths, ``:``,
Windows device names and non-ASCII text can neither escape the root nor collide. ``safe_stem``
never yields a name starting with ``_`` other than an escaped device name (``_CON-...``), so the
``_profiles`` and ``_index_maps`` directories cannot clash with a test's directory.

A record also holds its test id, and reading checks it: should two ids ever land on one file (two ids
that differ only in letter case, on a case-insensitive file system), that is an error, not a wrong
comparison.

A file that cannot be used (empty, cut short, binary, hand-broken, or holding another test's record
that does not belong there) is *unreadable*: reading it raises :class:`UnreadableBaseline` (for an
index map :class:`UnreadableIndexMap`), naming the file and what is wrong, and the scans
(:meth:`BaselineStore.scan_records`, :meth:`BaselineStore.scan_index_maps`) list it beside the good
files instead of stopping. Whoever rewrites such a file first keeps its bytes with
:meth:`BaselineStore.set_aside` (``<name>.broken`` beside it): nothing the user had is lost.

Profiles hold baselines for one environment: a test reads its profile's record when there is one,
else the default store's, and writes only to its profile. Index maps are per workflow, shared by every
profile, in the default store. Every file is written atomically (see :mod:`pytest_invokeai._util.atomic`),
so several pytest-xdist workers can write at once and a reader never sees half a file.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pytest_invokeai._util.atomic import TEMP_SUFFIX, write_atomic
from pytest_invokeai._util.locks import file_lock
from pytest_invokeai._util.names import safe_stem
from pytest_invokeai.baseline.record import (
    BaselineRecord,
    RecordError,
    check_header,
    parse_json,
)
from pytest_invokeai.errors import BaselineError
from pytest_invokeai.workflow.drift import IndexMap, IndexMapError

if TYPE_CHECKING:  # PIL loads where previews are made, not where the store is opened
    from pytest_invokeai.baseline.preview import Preview

PROFILES_DIR = "_profiles"
INDEX_MAPS_DIR = "_index_maps"
RECORD_SUFFIX = ".json"
IMAGE_SUFFIX = ".png"
# A preview for people (pull-request image diffs, the report): PNG when it fits its byte budget, else JPEG.
PREVIEW_SUFFIXES = (".preview.png", ".preview.jpg")
_RESERVED = {PROFILES_DIR, INDEX_MAPS_DIR}
# <record stem>.<node part>.<index>.png: the node part has no ".", so the owner of a copy is unambiguous
# even when record stems contain dots ("t" and "t.x" side by side).
_IMAGE_NAME = re.compile(r"(?P<stem>.+)\.(?P<node>[^.]+)\.(?P<index>\d+)\.png")
_PREVIEW_NAME = re.compile(r"(?P<stem>.+)\.(?P<node>[^.]+)\.(?P<index>\d+)\.preview\.(?:png|jpg)")
# Written into each stored index map beside IndexMap's own keys (which ignores unknown keys), because
# the workflow path cannot be recovered from a file name that safe_stem had to change.
_INDEX_MAP_WORKFLOW_KEY = "workflow"
KeepPreview = Literal["keep"]
KEEP_PREVIEW: KeepPreview = "keep"  # for BaselineStore.save: keep the preview stored for this image
BROKEN_SUFFIX = ".broken"  # an unreadable file's bytes, kept beside the file that replaced it


class UnreadableBaseline(BaselineError):
    """A baseline record file that cannot be used; rewriting it (update modes changed, all) is the fix.

    ``problem`` says what is wrong without the file's name (for listings)."""

    def __init__(self, path: Path, problem: str, *, advice: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}; {advice}")


class UnreadableIndexMap(IndexMapError):
    """A stored index map that cannot be used (see :class:`UnreadableBaseline`)."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(problem, source=str(path))


@dataclass
class StoreScan:
    """The files of one kind in a store: the good ones by key (test id or workflow), and the unreadable ones."""

    found: dict[str, Path] = field(default_factory=dict)
    unreadable: dict[Path, str] = field(default_factory=dict)  # file -> what is wrong with it


@functools.lru_cache(maxsize=4096)
def _safe_segment(segment: str) -> str:
    """A test file's path segment made safe (the same few segments recur in every test id of a suite)."""
    return safe_stem(segment)


def _split_test_id(test_id: str) -> tuple[list[str], str]:
    """Directory segments and file stem of a test id (both made safe)."""
    if not test_id:
        raise ValueError("a test id must not be empty")
    file_part, separator, rest = test_id.partition("::")
    if not separator:
        return [], safe_stem(test_id)
    return [_safe_segment(segment) for segment in file_part.split("/")], safe_stem(rest)


def _segments(path_key: str) -> list[str]:
    return [safe_stem(segment) for segment in path_key.split("/")]


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except IsADirectoryError:
        raise BaselineError(f"{path}: is a directory, expected a baseline .json file") from None
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read the file: {exc.strerror or exc}") from None


class BaselineStore:
    def __init__(self, root: str | Path, *, profile: str | None = None):
        if profile is not None and (not isinstance(profile, str) or safe_stem(profile) != profile):
            raise BaselineError(
                f"invalid baseline profile name {profile!r}: use letters, digits, '.', '_' and '-', starting and "
                "ending with a letter or digit, at most 100 characters, not a Windows device name (CON, NUL, COM1...); "
                "e.g. 'cuda' or 'cpu-fp32'"
            )
        self.root = Path(root)
        self.profile = profile

    def __repr__(self) -> str:
        return f"BaselineStore({str(self.root)!r}, profile={self.profile!r})"

    # -- where things are ------------------------------------------------------------------

    @property
    def active_root(self) -> Path:
        """The directory this store writes records to: the profile's when a profile is set."""
        return self.root / PROFILES_DIR / self.profile if self.profile else self.root

    def _read_roots(self) -> list[Path]:
        """Where records are looked up, first match wins: the profile's store, then the default one."""
        return [self.active_root, self.root] if self.profile else [self.root]

    @staticmethod
    def _record_in(base: Path, test_id: str) -> Path:
        directories, stem = _split_test_id(test_id)
        return base.joinpath(*directories, stem + RECORD_SUFFIX)

    def record_path(self, test_id: str) -> Path:
        return self._record_in(self.active_root, test_id)

    def find(self, test_id: str) -> Path | None:
        for base in self._read_roots():
            path = self._record_in(base, test_id)
            if path.is_file():
                return path
        return None

    def profiles(self) -> list[str]:
        base = self.root / PROFILES_DIR
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []

    # -- records ---------------------------------------------------------------------------

    def load(self, test_id: str) -> BaselineRecord | None:
        """The record of ``test_id`` (the profile's, else the default store's), or None when there is none.

        A file that cannot be used raises :class:`UnreadableBaseline`; one written by a newer pytest-invokeai,
        or shared by two test ids on a case-insensitive file system, raises :class:`BaselineError`."""
        path = self.find(test_id)
        if path is None:
            return None
        try:
            record = BaselineRecord.from_json(_read_bytes(path), source=str(path))
        except RecordError as exc:
            if exc.newer:
                raise
            raise UnreadableBaseline(path, exc.problem, advice=self._rerecord_advice(path)) from None
        if record.test_id != test_id:
            if any(_same_file(self._record_in(base, record.test_id), path) for base in self._read_roots()):
                raise BaselineError(
                    f"{path}: holds the baseline of test {record.test_id!r}, not of {test_id!r}; two test ids map to "
                    "this file (ids differing only in letter case on a case-insensitive file system?). Rename one test."
                )
            problem = f"holds the record of test_id {record.test_id!r}, not {test_id!r}"
            raise UnreadableBaseline(path, problem, advice=self._rerecord_advice(path))
        return record

    def _rerecord_advice(self, path: Path) -> str:
        if self.active_root in path.parents:
            return (
                "re-record it with --invokeai-update-baselines=changed (or all), which keeps the broken file as "
                f"{path.name}{BROKEN_SUFFIX}"
            )
        # A profile's run read the default store's record: it writes only its own.
        return "re-record it in the default store (without a baseline profile) with --invokeai-update-baselines=changed (or all)"

    def set_aside(self, path: Path) -> Path:
        """Move an unreadable file out of the way before it is rewritten: its bytes go to ``<name>.broken``
        beside it (``.broken.1``, ``.broken.2``... when that exists); returns where they went."""
        data = _read_bytes(path)
        for number in range(10_000):
            kept = path.with_name(path.name + BROKEN_SUFFIX + (f".{number}" if number else ""))
            try:
                with kept.open("xb") as out:  # never over an older kept file
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
            except FileExistsError:
                continue
            except OSError as exc:
                raise BaselineError(
                    f"{path}: cannot keep the unreadable file as {kept.name}: {exc.strerror or exc}"
                ) from None
            path.unlink(missing_ok=True)  # only now: the bytes are safe beside it
            return kept
        raise BaselineError(f"{path}: cannot keep the unreadable file: {path.name}{BROKEN_SUFFIX}.* are all taken")

    def save(
        self,
        record: BaselineRecord,
        *,
        images: Mapping[str, Sequence[bytes]] | None = None,
        previews: Mapping[str, Sequence[Preview | KeepPreview | None]] | None = None,
    ) -> Path:
        """Write ``record`` to the active store, with optional PNG copies and previews of its images.

        ``images``: node id -> the PNG copy of each image (all of an output's, or the output is left out).
        ``previews``: node id -> per image, by index: a :class:`~pytest_invokeai.baseline.preview.Preview` to
        write, ``KEEP_PREVIEW`` to keep the one stored (an image not named is kept too), None for no preview.
        Copies and previews of images the record no longer has (and copies not given) are deleted, so what
        sits beside a record shows what the record holds. Returns the record file."""
        given = {**(images or {}), **(previews or {})}
        unknown = sorted(set(given) - set(record.outputs))
        if unknown:
            raise ValueError(f"images given for node(s) {', '.join(unknown)} that are not outputs of the record")
        path = self.record_path(record.test_id)
        self._refuse_overwriting_another_test(path, record.test_id)
        kept = set()
        try:
            # The record first: copies and previews only ever sit beside a record that owns them.
            write_atomic(path, record.to_json().encode("utf-8"))
            for node_id, pngs in (images or {}).items():
                for index, png in enumerate(pngs):
                    image_file = self._image_in(path, node_id, index)
                    write_atomic(image_file, bytes(png))
                    kept.add(image_file.name)
            for node_id, output in record.outputs.items():
                wanted = list((previews or {}).get(node_id, ()))
                for index in range(len(output.images)):
                    preview = wanted[index] if index < len(wanted) else KEEP_PREVIEW
                    if preview == KEEP_PREVIEW:
                        kept.update(p.name for p in self.preview_candidates(path, node_id, index) if p.is_file())
                    if preview is None or isinstance(preview, str):  # kept, or none wanted (deleted below)
                        continue
                    kept.add(self._write_preview(path, node_id, index, preview).name)
        except OSError as exc:
            raise BaselineError(f"{path}: cannot write the baseline: {exc.strerror or exc}") from None
        for stale in self.companions(path):
            if stale.name not in kept:
                stale.unlink(missing_ok=True)
        return path

    def add_previews(self, test_id: str, previews: Mapping[str, Sequence[Preview | None]]) -> list[Path]:
        """Write the previews that the active store's record of ``test_id`` lacks; the record is not touched.

        ``previews``: node id -> a preview per image, by index (None: none to add); an image that has a
        preview keeps it. Returns the files written."""
        path = self.record_path(test_id)
        if not path.is_file():
            raise BaselineError(f"{path}: no baseline record there to add previews to")
        written = []
        try:
            for node_id, images in previews.items():
                for index, preview in enumerate(images):
                    if preview is not None and not self.has_preview(path, node_id, index):
                        written.append(self._write_preview(path, node_id, index, preview))
        except OSError as exc:
            raise BaselineError(f"{path}: cannot write a preview: {exc.strerror or exc}") from None
        return written

    def _write_preview(self, record_file: Path, node_id: str, index: int, preview: Preview) -> Path:
        """Write one preview, then remove the same image's preview in the other format (PNG <-> JPEG)."""
        candidates = self.preview_candidates(record_file, node_id, index)
        target = self.preview_file(record_file, node_id, index, preview.suffix)
        write_atomic(target, preview.data)
        for other in candidates:
            if other != target:
                other.unlink(missing_ok=True)
        return target

    def _refuse_overwriting_another_test(self, path: Path, test_id: str) -> None:
        try:
            stored = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return  # nothing there, or a broken file: writing a good record over it is the fix
        other = stored.get("test_id") if isinstance(stored, dict) else None
        if isinstance(other, str) and other != test_id:
            raise BaselineError(
                f"{path}: holds the baseline of test {other!r}; not overwriting it with the baseline of {test_id!r} "
                "(two test ids map to this file: ids differing only in letter case on a case-insensitive file system?)"
            )

    def delete(self, test_id: str) -> list[Path]:
        """Remove the active store's record of ``test_id``, its PNG copies and previews; returns the removed files."""
        path = self.record_path(test_id)
        removed = []
        for victim in [*self.companions(path), path]:
            try:
                victim.unlink()
            except FileNotFoundError:
                continue
            removed.append(victim)
        self._remove_empty_directories(path.parent, self.active_root)
        return removed

    def stored_test_ids(self) -> dict[str, Path]:
        """Every readable record in the active store, test id -> file (:meth:`scan_records` also names the others)."""
        return self.scan_records().found

    def scan_records(self) -> StoreScan:
        """The active store's records: test id -> file, and the files that cannot be used, with what is wrong.

        Reads only what marks a record (format, version, test id), not its fingerprints. A record that holds
        a test id whose file is elsewhere is unreadable here: it cannot be the baseline of the test it stands for."""
        scan = StoreScan()
        for path in self.record_files():
            try:
                test_id = check_header(parse_json(_read_bytes(path), source=""), source="")
            except RecordError as exc:
                scan.unreadable[path] = exc.problem
                continue
            except BaselineError as exc:  # the file cannot be read at all
                scan.unreadable[path] = str(exc).removeprefix(f"{path}: ")
                continue
            if not self._placed_right(path, test_id):
                expected = self._record_in(self.active_root, test_id)
                scan.unreadable[path] = f"holds the record of test_id {test_id!r}, whose record belongs in {expected}"
                continue
            scan.found[test_id] = path
        return scan

    def _placed_right(self, path: Path, test_id: str) -> bool:
        """Whether ``path`` (a file of the active store) is where the record of ``test_id`` belongs."""
        directories, stem = _split_test_id(test_id)
        if path.name == stem + RECORD_SUFFIX and path.parent.parts[len(self.active_root.parts) :] == tuple(directories):
            return True  # (compared by parts: a scan of thousands of records must not build a path for each)
        return _same_file(self._record_in(self.active_root, test_id), path)

    def visible_test_ids(self) -> dict[str, Path]:
        """Every test id a lookup finds, test id -> file: the profile's records first, then the default store's,
        as :meth:`find` reads them. Unreadable files are left out (:meth:`scan_records` names them)."""
        found: dict[str, Path] = {}
        for base in self._read_roots():
            for path in BaselineStore(base).record_files():
                try:
                    found.setdefault(self.read_test_id(path), path)
                except BaselineError:
                    continue
        return found

    def record_files(self) -> list[Path]:
        """The record files of the active store, sorted (index maps and other profiles excluded)."""
        return sorted(
            Path(directory, name) for directory, names in self._walk_active() for name in names if _is_record_name(name)
        )

    def _walk_active(self) -> Iterator[tuple[str, list[str]]]:
        """Each folder of the active store with its file names; profiles and index maps left out."""
        base = self.active_root
        if not base.is_dir():
            return
        for directory, subdirectories, names in os.walk(base):
            if Path(directory) == base:
                subdirectories[:] = [d for d in subdirectories if d not in _RESERVED]
            yield directory, names

    @staticmethod
    def read_test_id(path: Path) -> str:
        """The test id a record file holds (without checking its fingerprints)."""
        return check_header(parse_json(_read_bytes(path), source=str(path)), source=str(path))

    # -- PNG copies ------------------------------------------------------------------------

    @staticmethod
    def _image_in(record_file: Path, node_id: str, index: int) -> Path:
        stem = record_file.name[: -len(RECORD_SUFFIX)]
        return record_file.with_name(f"{stem}.{_node_part(node_id)}.{index}{IMAGE_SUFFIX}")

    def image_path(self, test_id: str, node_id: str, index: int) -> Path | None:
        """The stored PNG copy of one baseline image, from the store whose record :meth:`load` reads."""
        record_file = self.find(test_id)
        if record_file is None:
            return None
        path = self._image_in(record_file, node_id, index)
        return path if path.is_file() else None

    @classmethod
    def preview_candidates(cls, record_file: Path, node_id: str, index: int) -> list[Path]:
        """Where the preview of one output image may sit: ``<stem>.<node part>.<index>.preview.png|jpg``."""
        return [cls.preview_file(record_file, node_id, index, suffix) for suffix in PREVIEW_SUFFIXES]

    @classmethod
    def has_preview(cls, record_file: Path, node_id: str, index: int) -> bool:
        return any(path.is_file() for path in cls.preview_candidates(record_file, node_id, index))

    @staticmethod
    def preview_file(record_file: Path, node_id: str, index: int, suffix: str) -> Path:
        """The file of one output image's preview in one format (``suffix``: ``.preview.png`` or ``.preview.jpg``)."""
        if suffix not in PREVIEW_SUFFIXES:
            raise ValueError(f"a preview is {' or '.join(PREVIEW_SUFFIXES)}, not {suffix!r}")
        stem = record_file.name[: -len(RECORD_SUFFIX)]
        return record_file.with_name(f"{stem}.{_node_part(node_id)}.{index}{suffix}")

    def preview_path(self, test_id: str, node_id: str, index: int) -> Path | None:
        """The small preview of one baseline image (PNG or JPEG), from the store whose record :meth:`load` reads."""
        record_file = self.find(test_id)
        if record_file is None:
            return None
        return next((path for path in self.preview_candidates(record_file, node_id, index) if path.is_file()), None)

    @staticmethod
    def companions(record_file: Path) -> list[Path]:
        """The PNG copies and previews beside ``record_file`` that belong to it (whatever their node ids and indices)."""
        directory, stem = record_file.parent, record_file.name[: -len(RECORD_SUFFIX)]
        if not directory.is_dir():
            return []
        return sorted(directory / name for name in os.listdir(directory) if companion_owner(name) == stem)

    def previews_of(self, record_file: Path) -> list[Path]:
        """The previews beside ``record_file`` that belong to it."""
        return [path for path in self.companions(record_file) if _PREVIEW_NAME.fullmatch(path.name)]

    def stray_companions(self) -> list[Path]:
        """PNG copies and previews in the active store whose record is gone (orphans, whatever test they were of)."""
        strays = []
        for directory, names in self._walk_active():
            records = {name[: -len(RECORD_SUFFIX)] for name in names if _is_record_name(name)}
            for name in names:
                owner = companion_owner(name)
                if owner is not None and owner not in records:
                    strays.append(Path(directory, name))
        return sorted(strays)

    # -- index maps ------------------------------------------------------------------------

    def index_map_path(self, workflow_key: str) -> Path:
        if not workflow_key:
            raise ValueError("a workflow key must not be empty")
        *directories, name = _segments(workflow_key)
        return self.root.joinpath(INDEX_MAPS_DIR, *directories, name + RECORD_SUFFIX)

    def load_index_map(self, workflow_key: str) -> IndexMap | None:
        """The stored map of a workflow, or None; a file that cannot be used raises :class:`UnreadableIndexMap`."""
        path = self.index_map_path(workflow_key)
        if not path.is_file():
            return None
        try:
            return IndexMap.load(path)
        except IndexMapError as exc:
            raise UnreadableIndexMap(path, _map_problem(exc)) from None

    def save_index_map(self, workflow_key: str, index_map: IndexMap) -> Path:
        path = self.index_map_path(workflow_key)
        data = {**index_map.to_json(), _INDEX_MAP_WORKFLOW_KEY: workflow_key}
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        try:
            write_atomic(path, text.encode("utf-8"))
        except OSError as exc:
            raise IndexMapError(f"cannot write the index map: {exc.strerror or exc}", source=str(path)) from None
        return path

    def replace_unreadable_index_map(self, workflow_key: str, index_map: IndexMap) -> Path | None:
        """Set the unreadable map of ``workflow_key`` aside (see :meth:`set_aside`) and save ``index_map``.

        xdist workers meet the same map at once: under a lock, only the first replaces it, and the others
        find a readable map (None). Returns where the old bytes went."""
        path = self.index_map_path(workflow_key)
        digest = hashlib.sha256(str(path.resolve()).encode("utf-8")).hexdigest()[:16]
        # The lock lives outside the store: nothing stray lands in the user's baselines folder.
        with file_lock(Path(tempfile.gettempdir()) / f"pytest-invokeai-map-{digest}.lock"):
            try:
                if self.load_index_map(workflow_key) is not None:
                    return None  # another process replaced it meanwhile
            except UnreadableIndexMap:
                pass
            kept = self.set_aside(path) if path.is_file() else None
            self.save_index_map(workflow_key, index_map)
            return kept

    def stored_index_maps(self) -> dict[str, Path]:
        """Every readable stored index map, workflow key -> file (:meth:`scan_index_maps` also names the others)."""
        return self.scan_index_maps().found

    def scan_index_maps(self) -> StoreScan:
        """The stored index maps: workflow key -> file, and the files that cannot be used, with what is wrong."""
        base = self.root / INDEX_MAPS_DIR
        scan = StoreScan()
        if not base.is_dir():
            return scan
        for directory, _, names in os.walk(base):
            for name in names:
                if _is_record_name(name):
                    path = Path(directory, name)
                    try:
                        IndexMap.load(path)
                    except IndexMapError as exc:
                        scan.unreadable[path] = _map_problem(exc)
                        continue
                    scan.found[self._index_map_key(path, base)] = path
        scan.found = dict(sorted(scan.found.items()))
        scan.unreadable = dict(sorted(scan.unreadable.items()))
        return scan

    @staticmethod
    def _index_map_key(path: Path, base: Path) -> str:
        try:
            key = json.loads(path.read_bytes()).get(_INDEX_MAP_WORKFLOW_KEY)
        except (OSError, ValueError, AttributeError):
            key = None
        if isinstance(key, str) and key:
            return key
        # A map saved without its key (copied in by hand): the path is the key where names were safe.
        return path.relative_to(base).as_posix()[: -len(RECORD_SUFFIX)]

    # -- housekeeping ----------------------------------------------------------------------

    @staticmethod
    def _remove_empty_directories(directory: Path, stop: Path) -> None:
        while directory != stop and stop in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return  # not empty (or already gone, or in use): leave it
            directory = directory.parent


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def _map_problem(exc: IndexMapError) -> str:
    return ": ".join(part for part in (exc.json_path, exc.message) if part)


def _node_part(node_id: str) -> str:
    """``safe_stem(node_id)`` without dots (a dot gets a hash, like every other replaced character)."""
    stem = safe_stem(node_id)
    if "." not in stem:
        return stem
    return stem.replace(".", "_") + "-" + hashlib.sha256(node_id.encode("utf-8")).hexdigest()[:8]


def companion_owner(name: str) -> str | None:
    """The record stem a PNG copy's or a preview's file name belongs to, or None for any other file."""
    if name.endswith(TEMP_SUFFIX):
        return None  # a write in progress (or one cut short): not a file of the store yet
    match = _IMAGE_NAME.fullmatch(name) or _PREVIEW_NAME.fullmatch(name)
    return match["stem"] if match else None


def _is_record_name(name: str) -> bool:
    return name.endswith(RECORD_SUFFIX) and not name.startswith(".") and not name.endswith(TEMP_SUFFIX)
