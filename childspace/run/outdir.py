"""The output folder of a run: checked before any analysis, written whole or not at all, one run at a time.

A run writes every file into a staging folder next to the output folder (``.NAME.childspace-staging``), adds a
``run.json`` manifest (config hash, version, time, files) and then swaps the staging folder in (two renames: the
old folder aside as ``.NAME.childspace-previous``, the new one into place; the old one is then deleted). So:

- a folder is either the previous run's or the new run's, complete, never a mix (a ``--no-maps`` run leaves no
  older maps next to its new tables); only the scenarios that ``childspace scenario`` wrote under
  ``scenario/`` are carried over into the new folder (:data:`KEPT`, listed under ``kept`` in ``run.json``);
- a run that is stopped (Ctrl+C, SIGTERM, an error, a crash, SIGKILL) leaves the output folder as it was; what it
  left beside it is removed (or, for a swap cut between its two renames, finished) when the next run starts;
- a lock file (``.NAME.childspace.lock``, locked with the operating system's file lock, so a killed run never
  leaves a stale lock) keeps a second run out of the same folder: it stops with a clear message, or waits.

Only what a run wrote may be replaced: an output folder that holds other files (a planner's notes, or the data
folder itself given as ``--outputs``) is refused instead of deleted.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from childspace._errors import ChildspaceError

MANIFEST = "run.json"
#: What childspace writes at the top of an output folder (outputs of versions without a manifest are recognised).
KNOWN_OUTPUTS = (
    "childspace.gpkg",
    "childspace_cgcs2000.gpkg",
    "childspace_local.gpkg",
    "childspace.xlsx",
    "report.html",
    "maps",
    "figures",
    "tables",
    MANIFEST,
    "scenario",
)  # childspace scenario: OUTPUTS/scenario/NAME/
#: folders written by other commands into an output folder, kept when a new run replaces it (moved from the old
#: folder into the new one after the swap): ``childspace scenario`` writes OUTPUTS/scenario/NAME/
KEPT = ("scenario",)
#: files that no planner writes but a folder may hold: placeholders of version control and the file managers'
#: own (macOS Finder, Windows Explorer); they do not stop a run and are moved into the new outputs
PLACEHOLDERS = (".gitkeep", ".keep", ".DS_Store", "Thumbs.db", "desktop.ini")
# leftovers of childspace._atomic.atomic_path: ".<stem>.<8 random chars><suffix>" (+ SQLite side files)
_TEMP = re.compile(r"^\.[^.].*\.[a-z0-9_]{8}(\.[A-Za-z0-9]+)?(-journal|-wal|-shm)?$")
MB = 1024 * 1024


def staging_path(out: Path) -> Path:
    return out.parent / f".{out.name}.childspace-staging"


def previous_path(out: Path) -> Path:
    return out.parent / f".{out.name}.childspace-previous"


def lock_path(out: Path) -> Path:
    return out.parent / f".{out.name}.childspace.lock"


# ---------------------------------------------------------------------------------------------------------------
# preflight
# ---------------------------------------------------------------------------------------------------------------
def _probe_write(folder: Path) -> str | None:
    """None when a file can be created in ``folder``, else the reason."""
    try:
        fd, name = tempfile.mkstemp(prefix=".childspace-probe.", dir=folder)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    os.unlink(name)
    return None


def _foreign(out: Path) -> list[str]:
    """Entries of an output folder that no childspace run wrote."""
    allowed = set(KNOWN_OUTPUTS)
    man = out / MANIFEST
    if man.is_file():
        try:
            files = json.loads(man.read_text(encoding="utf-8")).get("files", [])
            allowed |= {str(f["path"]).split("/", 1)[0] for f in files}
        except (ValueError, KeyError, TypeError, OSError):
            pass
    allowed |= set(PLACEHOLDERS)
    return sorted(p.name for p in out.iterdir() if p.name not in allowed and not _TEMP.match(p.name))


def check_output_folder(out: Path, need_bytes: int = 0) -> str:
    """Check that a run can write ``out``; return a one-line description (free space).

    Raises
    ------
    ChildspaceError
        One line: ``out`` is a file, its folder cannot be created or written, it holds files a run did not write,
        or the disk is nearly full.
    """
    out = Path(out)
    pkg = Path(__file__).resolve().parents[1]
    if Path(os.path.abspath(out)).resolve().is_relative_to(pkg):
        raise ChildspaceError(
            "the output folder is inside the childspace package",
            path=out,
            fix="give another folder with --outputs (or [project] outputs in the config)",
        )
    if out.exists() and not out.is_dir():
        raise ChildspaceError(
            "the output path is a file, not a folder",
            path=out,
            fix="give a folder for --outputs (it is created when missing)",
        )
    anc = out if out.exists() else out.parent
    while not anc.exists():
        anc = anc.parent
    if not anc.is_dir():
        raise ChildspaceError(
            f"cannot create the output folder: {anc} is a file", path=out, fix="choose another output folder"
        )
    if not out.exists():
        why = _probe_write(anc)
        if why:
            raise ChildspaceError(
                f"cannot create the output folder: {anc} is not writable ({why})",
                path=out,
                fix="choose an output folder you can write to (--outputs)",
            )
    else:
        why = _probe_write(out)
        if why:
            raise ChildspaceError(
                f"the output folder is not writable ({why})",
                path=out,
                fix="choose an output folder you can write to (--outputs), or change its permissions",
            )
        if out.parent.exists():
            why = _probe_write(out.parent)
            if why:
                raise ChildspaceError(
                    f"the folder holding the outputs ({out.parent}) is not writable ({why}); a run "
                    "writes its new outputs beside the old ones first",
                    path=out,
                    fix="choose an output folder inside a folder you can write to",
                )
        foreign = _foreign(out)
        if foreign:
            more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
            raise ChildspaceError(
                f"the output folder holds files that a childspace run did not write "
                f"({', '.join(foreign[:3])}{more}); a run replaces the whole folder",
                path=out,
                fix="give an empty or new folder for --outputs (or move those files)",
            )
    free = shutil.disk_usage(anc).free
    if free < need_bytes:
        raise ChildspaceError(
            f"only {free / MB:,.0f} MB free on the disk of the output folder; this run needs "
            f"about {need_bytes / MB:,.0f} MB",
            path=out,
            fix="free some disk space or choose an output folder on another disk",
        )
    return f"{out} ({'exists' if out.exists() else 'will be created'}, writable, {free / MB:,.0f} MB free)"


def check_inputs_readable(paths: Iterable[tuple[str, Path]]) -> int:
    """Every input exists and can be read; returns their total size in bytes.

    Raises
    ------
    ChildspaceError
        Naming the config section and the file.
    """
    total = 0
    for section, p in paths:
        p = Path(p)
        try:
            if p.is_dir():  # e.g. a File Geodatabase folder
                os.listdir(p)
                total += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
            else:
                with open(p, "rb") as fh:
                    fh.read(1)
                total += p.stat().st_size
        except FileNotFoundError:
            raise ChildspaceError(
                f"{section}: file not found", path=p, fix="check the path in the config"
            ) from None
        except OSError as exc:
            raise ChildspaceError(
                f"{section}: cannot read the file ({exc.strerror or exc})",
                path=p,
                fix="check the file's permissions, or close the program that holds it",
            ) from None
    return total


def needed_bytes(input_bytes: int, out: Path) -> int:
    """A rough upper bound of the disk a run needs: the new outputs beside the old ones until the swap."""
    return 100 * MB + 2 * input_bytes


# ---------------------------------------------------------------------------------------------------------------
# the lock
# ---------------------------------------------------------------------------------------------------------------
_held: dict[Path, int] = {}
_held_guard = threading.Lock()


def _try_lock(fh: Any) -> bool:
    try:
        if sys.platform == "win32":
            import msvcrt

            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


@contextmanager
def locked(out: Path, wait: bool = False, progress: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the lock of output folder ``out`` (re-entrant within a process).

    Raises
    ------
    ChildspaceError
        Another run holds it and ``wait`` is False.
    """
    out = Path(os.path.abspath(out))
    with _held_guard:
        if out in _held:
            _held[out] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _held_guard:
                _held[out] -= 1
        return
    lp = lock_path(out)
    told = False
    while True:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            fh = open(lp, "a+b")  # noqa: SIM115 - held open for the lifetime of the lock
        except OSError as exc:
            raise ChildspaceError(
                f"cannot create the lock file beside the output folder ({exc.strerror or exc})",
                path=lp,
                fix="choose an output folder inside a folder you can write to",
            ) from None
        if _try_lock(fh):
            try:  # the file may have been removed by the run that held it just before we locked it
                same = os.name == "nt" or os.path.samestat(os.fstat(fh.fileno()), os.stat(lp))
            except FileNotFoundError:
                same = False
            if same:
                break
            fh.close()
            continue
        fh.seek(0)
        holder = fh.read(200).decode("utf-8", "replace").strip()
        fh.close()
        if not wait:
            raise ChildspaceError(
                f"another childspace run is writing to this output folder ({holder or 'running'})",
                path=out,
                fix="wait for it to finish, run again with --wait, or choose another folder with --outputs",
            )
        if not told and progress is not None:
            progress(f"等待另一运行结束 Waiting for the other run writing {out} ({holder})")
            told = True
        time.sleep(0.5)
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}, started {_dt.datetime.now():%Y-%m-%d %H:%M:%S}".encode())
        fh.flush()
        with _held_guard:
            _held[out] = 1
        recover(out)
        yield
    finally:
        with _held_guard:
            _held.pop(out, None)
        if os.name != "nt":
            try:
                os.unlink(lp)  # while still locked: a waiting run re-checks that it locked the live file
            except OSError:
                pass
        fh.close()
        if os.name == "nt":
            try:
                os.unlink(lp)
            except OSError:
                pass


# ---------------------------------------------------------------------------------------------------------------
# recovery, staging and the swap
# ---------------------------------------------------------------------------------------------------------------
def recover(out: Path) -> list[str]:
    """Tidy what killed runs left around ``out`` (call with the lock held); returns what was done.

    A complete staging folder (with its manifest) whose swap was cut short is put in place; an incomplete one is
    deleted; the previous folder is restored when the output folder is missing, else deleted; temporary files of
    an older version's writers inside the output folder are deleted.
    """
    out = Path(out)
    done: list[str] = []
    stage, prev = staging_path(out), previous_path(out)
    if stage.exists():
        if (stage / MANIFEST).is_file() and not out.exists():
            os.replace(stage, out)
            done.append(f"finished the swap of an interrupted run into {out}")
        else:
            shutil.rmtree(stage, ignore_errors=True)
            done.append(f"removed the incomplete outputs of an interrupted run ({stage.name})")
    if prev.exists():
        if out.exists():
            done += _carry_kept(prev, out)  # a run stopped between its swap and moving the scenarios over
            shutil.rmtree(prev, ignore_errors=True)
            done.append(f"removed the outputs replaced by the last run ({prev.name})")
        else:
            os.replace(prev, out)
            done.append(f"restored the previous outputs into {out}")
    if out.is_dir():
        for folder in (out, out / "maps", out / "figures", out / "tables"):
            if folder.is_dir():
                for p in folder.iterdir():
                    if p.is_file() and _TEMP.match(p.name):
                        p.unlink(missing_ok=True)
                        done.append(f"removed the temporary file {p.name}")
    return done


def _carry_kept(old: Path, new: Path) -> list[str]:
    """Move the :data:`KEPT` folders' entries (e.g. each scenario) and the :data:`PLACEHOLDERS` from the replaced
    outputs ``old`` into the new outputs ``new`` where ``new`` has no entry of that name (renames within one
    parent folder: no copy)."""
    done: list[str] = []
    for name in PLACEHOLDERS:
        if (old / name).is_file() and not (new / name).exists():
            os.replace(old / name, new / name)
    for name in KEPT:
        src = old / name
        if not src.is_dir():
            continue
        dst = new / name
        if not dst.exists():
            os.replace(src, dst)
            done.append(f"kept {name}/ of the earlier outputs")
            continue
        if not dst.is_dir():
            continue
        for entry in sorted(src.iterdir()):
            if not (dst / entry.name).exists():
                os.replace(entry, dst / entry.name)
                done.append(f"kept {name}/{entry.name} of the earlier outputs")
    return done


def kept_entries(out: Path) -> list[str]:
    """The :data:`KEPT` entries of output folder ``out`` a new run will keep (``scenario/NAME``)."""
    return sorted(
        f"{name}/{p.name}"
        for name in KEPT
        if (Path(out) / name).is_dir()
        for p in (Path(out) / name).iterdir()
        if not p.name.startswith(".")
    )


_critical = threading.local()


@contextmanager
def _uninterrupted() -> Iterator[None]:
    """Ctrl+C and SIGTERM wait until the block is done (then interrupt as usual)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def defer(signum: int, frame: Any) -> None:
        pending.append(signum)

    sigs = [signal.SIGINT] + ([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])
    old = {s: signal.signal(s, defer) for s in sigs}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if pending:
            h = old.get(signal.Signals(pending[0]))
            if callable(h):
                h(pending[0], None)
            else:
                raise KeyboardInterrupt


def _manifest(stage: Path, info: dict[str, Any]) -> dict[str, Any]:
    from childspace import __version__

    files = sorted(p for p in stage.rglob("*") if p.is_file())
    return {
        "childspace_version": __version__,
        "finished": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        **info,
        "files": [{"path": p.relative_to(stage).as_posix(), "bytes": p.stat().st_size} for p in files],
    }


@contextmanager
def staged(
    out: Path,
    info: dict[str, Any] | None = None,
    wait: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Iterator[Path]:
    """Yield an empty staging folder for the outputs of ``out``; swap it in when the block completes.

    On an exception (Ctrl+C included) the staging folder is deleted and ``out`` is left as it was. The
    :data:`KEPT` folders of the old outputs (the scenarios of ``childspace scenario``) are moved into the new
    ones after the swap, unless the new outputs have their own of that name; the manifest lists them under
    ``kept``. (A run stopped between the swap and that move: the next run's :func:`recover` finishes it.)
    """
    out = Path(os.path.abspath(out))
    with locked(out, wait=wait, progress=progress):
        check_output_folder(out)
        stage, prev = staging_path(out), previous_path(out)
        shutil.rmtree(stage, ignore_errors=True)
        stage.mkdir(parents=True)
        try:
            yield stage
            kept = [k for k in kept_entries(out) if not (stage / k).exists()]
            man = _manifest(stage, {**(info or {}), **({"kept": kept} if kept else {})})
            (stage / MANIFEST).write_text(json.dumps(man, ensure_ascii=False, indent=1), encoding="utf-8")
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        with _uninterrupted():
            try:
                if out.exists():
                    os.replace(out, prev)
            except OSError as exc:  # Windows: a file of the old outputs is open (Excel, QGIS)
                shutil.rmtree(stage, ignore_errors=True)
                raise ChildspaceError(
                    f"the old outputs could not be replaced ({exc.strerror or exc}); they are "
                    "left as they were",
                    path=out,
                    fix="close the files of this folder open in Excel, QGIS or a browser and run again",
                ) from None
            try:
                os.replace(stage, out)
            except OSError as exc:
                if prev.exists() and not out.exists():
                    os.replace(prev, out)
                shutil.rmtree(stage, ignore_errors=True)
                raise ChildspaceError(
                    f"the new outputs could not be moved into place ({exc.strerror or exc}); the "
                    "old ones are left as they were",
                    path=out,
                    fix="check the folder's permissions and run again",
                ) from None
            if prev.exists():
                _carry_kept(prev, out)
        shutil.rmtree(prev, ignore_errors=True)
