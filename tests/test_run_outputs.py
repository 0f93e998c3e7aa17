"""The output folder of a run: preflight before any analysis, one complete run at a time (staging + swap +
manifest), a lock against a second run, tidying after killed runs, SIGTERM like Ctrl+C, any console encoding."""

from __future__ import annotations

import json
import os
import pickle
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from childspace._errors import ChildspaceError
from childspace.run import checking, outdir, pipeline
from childspace.run.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_TOML = ROOT / "childspace" / "data" / "sample.toml"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the command; its output is decoded strictly in the console encoding it was given."""
    enc = (env or {}).get("PYTHONIOENCODING", "utf-8")
    return subprocess.run(
        [sys.executable, "-m", "childspace", *args],
        capture_output=True,
        text=True,
        encoding=enc,
        errors="strict",
        cwd=cwd or ROOT,
        timeout=600,
        env=env or ENV,
        check=False,
    )


def _one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("childspace: error:"), stderr
    return lines[0]


def _fake_old_run(out: Path) -> dict:
    """An output folder as an older run with maps left it (manifest included)."""
    files = {
        "report.html": "<html>old</html>",
        "maps/overview.html": "old map",
        "tables/schools.csv": "old,table\n",
        "childspace.xlsx": "old workbook",
    }
    for rel, text in files.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(text, encoding="utf-8")
    man = {
        "childspace_version": "0.0.9",
        "marker": "old",
        "files": [{"path": rel, "bytes": (out / rel).stat().st_size} for rel in files],
    }
    (out / "run.json").write_text(json.dumps(man), encoding="utf-8")
    return man


def _listing(out: Path) -> set[str]:
    return {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}


def _state(out: Path) -> str:
    """'old' (the fake older run, untouched), 'new' (a complete run: exactly the files of its manifest), or why not."""
    if not out.is_dir():
        return "missing"
    try:
        man = json.loads((out / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"no manifest: {sorted(_listing(out))}"
    listed = {f["path"]: f["bytes"] for f in man["files"]}
    have = _listing(out) - {"run.json"}
    if have != set(listed):
        return f"mixed: {sorted(have ^ set(listed))}"
    if any((out / p).stat().st_size != b for p, b in listed.items()):
        return "sizes differ"
    return "old" if man.get("marker") == "old" else "new"


# ---------------------------------------------------------------------------------------------------------------
# preflight: one line before any analysis
# ---------------------------------------------------------------------------------------------------------------
def test_outputs_pointing_at_a_file_fails_before_the_analysis(tmp_path, capsys):
    f = tmp_path / "out.txt"
    f.write_text("x", encoding="utf-8")
    t = time.perf_counter()
    assert main(["report", "--config", str(SAMPLE_TOML), "--outputs", str(f)]) == 2
    err = capsys.readouterr()
    assert "the output path is a file, not a folder" in err.err and str(f) in err.err
    assert "Walk network" not in err.out and time.perf_counter() - t < 20


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs a folder nobody may write (Linux /sys)")
@pytest.mark.parametrize(
    "target,words",
    [
        ("/sys/childspace-out", "cannot create the output folder: /sys is not writable"),
        ("/sys/childspace-out/deeper/out", "cannot create the output folder: /sys is not writable"),
        ("/sys/kernel", "the output folder is not writable"),
    ],
)
def test_unwritable_output_folder_is_one_line(target, words):
    r = run_cli("report", "--config", str(SAMPLE_TOML), "--outputs", target)
    assert r.returncode == 2
    line = _one_error_line(r.stderr)
    assert words in line and "Traceback" not in r.stderr and "Walk network" not in r.stdout


def test_output_folder_with_other_files_is_refused(tmp_path, capsys):
    (tmp_path / "notes.docx").write_text("my notes", encoding="utf-8")
    (tmp_path / "report.html").write_text("old", encoding="utf-8")
    assert main(["report", "--config", str(SAMPLE_TOML), "--outputs", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "holds files that a childspace run did not write (notes.docx)" in err
    assert (tmp_path / "notes.docx").exists()


def test_disk_nearly_full_is_one_line(tmp_path, monkeypatch):
    class Usage:
        free = 5 * outdir.MB

    monkeypatch.setattr(outdir.shutil, "disk_usage", lambda p: Usage())
    with pytest.raises(
        ChildspaceError,
        match=r"only 5 MB free on the disk of the output folder; this run needs "
        r"about \d+ MB",
    ):
        pipeline.preflight(pipeline.sample_config(outputs=tmp_path / "out"))


def test_unreadable_input_is_named(tmp_path):
    cfg = pipeline.sample_config(outputs=tmp_path / "out")
    cfg.pilots.path = tmp_path / "gone.xlsx"
    with pytest.raises(ChildspaceError, match=r"gone.xlsx: \[pilots\]: file not found"):
        pipeline.preflight(cfg)
    cfg.pilots.path = tmp_path  # a folder that is not a dataset still reads; a file that cannot be opened:
    if os.name != "nt" and os.geteuid() != 0:
        f = tmp_path / "locked.xlsx"
        f.write_bytes(b"x")
        f.chmod(0)
        cfg.pilots.path = f
        with pytest.raises(ChildspaceError, match="cannot read the file"):
            pipeline.preflight(cfg)


def test_check_reports_the_output_folder(tmp_path):
    cfg = pipeline.sample_config(outputs=tmp_path / "new")
    text = checking.check_inputs(cfg)
    assert f"outputs: {tmp_path / 'new'} (will be created, writable," in text


# ---------------------------------------------------------------------------------------------------------------
# the lock, recovery, staging
# ---------------------------------------------------------------------------------------------------------------
HOLD = """
import sys, time
from pathlib import Path
from childspace.run import outdir
with outdir.locked(Path(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.read()          # held until the test closes stdin
"""


def test_a_second_run_stops_or_waits(tmp_path):
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with (
            pytest.raises(
                ChildspaceError,
                match=r"another childspace run is writing to this output folder "
                r"\(pid \d+, started .*--wait",
            ),
            outdir.locked(out),
        ):
            pass
        r = run_cli("report", "--config", str(SAMPLE_TOML), "--outputs", str(out))
        assert r.returncode == 2 and "another childspace run is writing" in _one_error_line(r.stderr)
        threading.Timer(1.5, holder.stdin.close).start()  # the other run finishes in 1.5 s
        t = time.perf_counter()
        with outdir.locked(out, wait=True):
            waited = time.perf_counter() - t
        assert waited > 1.0  # it waited for the holder to finish
    finally:
        holder.wait(timeout=30)
    assert not outdir.lock_path(out).exists()


def test_leftovers_of_killed_runs_are_tidied_at_the_next_start(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    _fake_old_run(out)
    stage = outdir.staging_path(out)
    (stage / "maps").mkdir(parents=True)
    (stage / "maps" / "half.html").write_text("<ht", encoding="utf-8")  # incomplete: no manifest
    (out / ".childspace.k2j4x9_a.xlsx").write_bytes(b"PK\x03")  # an older version's temp files
    (out / ".childspace.abcd1234.gpkg-journal").write_bytes(b"")
    (out / "figures").mkdir()
    (out / "figures" / ".overview.q1w2e3r4.png").write_bytes(b"")
    with outdir.locked(out):
        pass
    assert not stage.exists()
    assert _state(out) == "old" and not list(out.rglob(".*"))


def test_a_swap_cut_between_its_renames_is_finished_or_undone(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    _fake_old_run(out)
    prev = outdir.previous_path(out)
    os.replace(out, prev)  # killed after the first rename, staging complete
    stage = outdir.staging_path(out)
    stage.mkdir()
    (stage / "a.csv").write_text("new", encoding="utf-8")
    (stage / "run.json").write_text(json.dumps({"files": [{"path": "a.csv", "bytes": 3}]}), encoding="utf-8")
    outdir.recover(out)
    assert _state(out) == "new" and not prev.exists() and not stage.exists()
    # killed after the first rename while the staging folder was not complete: the old folder comes back
    shutil_copy = out.parent / "keep"
    os.replace(out, shutil_copy)
    out.mkdir()
    _fake_old_run(out)
    os.replace(out, prev)
    stage.mkdir()
    (stage / "a.csv").write_text("half", encoding="utf-8")
    outdir.recover(out)
    assert _state(out) == "old" and not prev.exists() and not stage.exists()


# ---------------------------------------------------------------------------------------------------------------
# a real run replaces an older one whole; killed at random moments the folder is as it was or complete
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def results_pickle(tmp_path_factory) -> Path:
    """The sample's analyses, computed once (without the network, which the tables and GeoPackage do not need)."""
    cfg = pipeline.sample_config()
    res = pipeline.run_analyses(cfg)
    res.network = res.stress = None
    p = tmp_path_factory.mktemp("res") / "res.pkl"
    p.write_bytes(pickle.dumps((cfg, res)))
    return p


WRITE = """
import pickle, signal, sys
from pathlib import Path
from childspace.run import cli, pipeline
signal.signal(signal.SIGTERM, cli._on_sigterm)
cfg, res = pickle.loads(Path(sys.argv[1]).read_bytes())
cfg.outputs = Path(sys.argv[2])
try:
    pipeline.write_outputs(res, cfg, maps=False, progress=lambda m: print(m, flush=True))
except KeyboardInterrupt:
    sys.exit(143)
print("done", flush=True)
"""


def _write(results_pickle: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITE, str(results_pickle), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=ENV,
    )


def test_a_no_maps_run_replaces_an_older_run_whole(tmp_path, results_pickle):
    out = tmp_path / "out"
    out.mkdir()
    _fake_old_run(out)
    p = _write(results_pickle, out)
    assert p.wait(timeout=300) == 0
    assert _state(out) == "new"
    assert not (out / "maps").exists() and not (out / "report.html").exists()  # the older run's maps are gone
    man = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert man["maps"] is False and len(man["config_sha256"]) == 64 and man["childspace_version"]
    assert {"childspace.gpkg", "childspace.xlsx", "tables/schools.csv"} <= {f["path"] for f in man["files"]}
    assert sorted(q.name for q in tmp_path.iterdir()) == ["out"]  # no staging, previous or lock left


@pytest.mark.parametrize(
    "sig",
    [signal.SIGKILL, signal.SIGKILL, signal.SIGKILL, signal.SIGTERM, signal.SIGTERM]
    if hasattr(signal, "SIGKILL")
    else [],
)
def test_a_run_killed_while_writing_leaves_the_old_or_the_complete_folder(tmp_path, results_pickle, sig):
    out = tmp_path / "out"
    out.mkdir()
    _fake_old_run(out)
    p = _write(results_pickle, out)
    line = ""
    while "写出 Writing" not in line:
        line = p.stdout.readline()
        assert line, "the writer ended before writing"
    time.sleep(random.uniform(0.0, 4.0))  # writing the sample's outputs takes ~2-5 s here
    p.send_signal(sig)
    code = p.wait(timeout=60)
    before = _state(out)
    assert before in ("old", "new"), before
    if sig == signal.SIGTERM:
        # 0 or -15: the signal came after the swap was done (-15: during interpreter exit, after the handler
        # was restored); 143: handled like Ctrl+C
        assert code in (0, 143) or (code == -signal.SIGTERM and before == "new"), (code, before)
        leftovers = {q.name for q in tmp_path.iterdir()} - {"out"}
        assert leftovers == set(), leftovers  # SIGTERM like Ctrl+C: staging and lock removed
    with outdir.locked(out):  # what the next run does first
        pass
    assert _state(out) == before
    assert sorted(q.name for q in tmp_path.iterdir()) == ["out"]


# ---------------------------------------------------------------------------------------------------------------
# console encodings
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "env",
    [
        {"PYTHONIOENCODING": "gbk"},
        {"PYTHONIOENCODING": "cp1252"},
        {"PYTHONIOENCODING": "ascii"},
        {"LC_ALL": "C", "LANG": "C"},
    ],
    ids=["gbk", "cp1252", "ascii", "LC_ALL=C"],
)
def test_console_encodings_never_crash(env, tmp_path):
    e = {**ENV, **env}
    for k in ("PYTHONUTF8",):
        e.pop(k, None)
    r = run_cli("demo", "--help", env=e)
    assert r.returncode == 0 and "Traceback" not in r.stderr and "childspace demo" in r.stdout
    r = run_cli("check", "--config", str(SAMPLE_TOML), env=e)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "pilots: 48 features" in r.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[project]\nname = "乐清"\n[network]\nosm = "x.osm"\n', encoding="utf-8")
    r = run_cli("check", "--config", str(bad), env=e)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "[osm] file not found" in r.stderr


def test_a_small_run_prints_on_a_gbk_console(tmp_path):
    r = run_cli(
        "coverage",
        "--config",
        str(SAMPLE_TOML),
        "--category",
        "kindergarten",
        "--outputs",
        str(tmp_path / "out"),
        env={**ENV, "PYTHONIOENCODING": "gbk"},
    )
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "幼儿园 Kindergarten" in r.stdout or "Kindergarten" in r.stdout
    assert (tmp_path / "out" / "run.json").exists()


def test_the_source_uses_no_posix_only_calls():
    """Paths are built with pathlib/os.path; locks and signals have a Windows branch (not runnable here)."""
    src = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "childspace" / "run").glob("*.py"))
    src += (ROOT / "childspace" / "_atomic.py").read_text(encoding="utf-8")
    for call in (
        "os.getuid",
        "os.geteuid",
        "os.fork",
        "os.chown",
        "signal.SIGKILL",
        "signal.alarm",
        "fcntl.",
        "os.symlink",
        '+ "/"',
        'f"{out}/',
    ):
        if call == "fcntl.":
            assert src.count("import fcntl") == 1 and "msvcrt" in src
            continue
        assert call not in src, call


def test_an_output_folder_inside_the_package_is_refused(tmp_path):
    from childspace.run.config import PACKAGE_DIR

    with pytest.raises(ChildspaceError, match="inside the childspace package"):
        outdir.check_output_folder(PACKAGE_DIR / "outputs")
    with pytest.raises(ChildspaceError, match="inside the childspace package"):
        outdir.check_output_folder(PACKAGE_DIR / "data" / "outputs")


def test_old_outputs_that_cannot_be_moved_are_left_as_they_were(tmp_path, monkeypatch):
    """As on Windows when childspace.xlsx is open in Excel: the rename of the old folder fails."""
    out = tmp_path / "out"
    out.mkdir()
    _fake_old_run(out)
    real = os.replace

    def busy(src, dst):
        if Path(src) == out:
            raise PermissionError(
                13, "The process cannot access the file because it is being used by another process"
            )
        return real(src, dst)

    monkeypatch.setattr(outdir.os, "replace", busy)
    with (
        pytest.raises(ChildspaceError, match="could not be replaced .* close the files of this folder"),
        outdir.staged(out) as stage,
    ):
        (stage / "report.html").write_text("new", encoding="utf-8")
    assert _state(out) == "old" and sorted(q.name for q in tmp_path.iterdir()) == ["out"]


# ---------------------------------------------------------------------------------------------------------------
# scenarios (childspace scenario: OUTPUTS/scenario/NAME/) survive a new run into the same folder
# ---------------------------------------------------------------------------------------------------------------
def _fake_scenario(out: Path, name: str) -> Path:
    d = out / "scenario" / name
    (d / "tables").mkdir(parents=True)
    (d / "summary.txt").write_text(f"情景 {name}", encoding="utf-8")
    (d / "tables" / "before_after.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (d / "run.json").write_text(json.dumps({"kind": "scenario", "files": []}), encoding="utf-8")
    return d


def test_a_new_run_keeps_the_scenarios_of_earlier_runs(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    _fake_old_run(out)
    _fake_scenario(out, "add_幼儿园_120.98_28.12")
    _fake_scenario(out, "without_KG03")
    with outdir.staged(out, info={"marker": "new"}) as stage:
        (stage / "report.html").write_text("<html>new</html>", encoding="utf-8")
    assert (out / "report.html").read_text(encoding="utf-8") == "<html>new</html>"
    assert not (out / "maps").exists()  # the old run's own files are replaced
    for name in ("add_幼儿园_120.98_28.12", "without_KG03"):
        assert (out / "scenario" / name / "summary.txt").read_text(encoding="utf-8") == f"情景 {name}"
        assert (out / "scenario" / name / "tables" / "before_after.csv").is_file()
    man = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert man["kept"] == ["scenario/add_幼儿园_120.98_28.12", "scenario/without_KG03"]
    assert not any(f["path"].startswith("scenario/") for f in man["files"])  # not this run's files
    assert sorted(q.name for q in tmp_path.iterdir()) == ["out"]
    # the folder is still one a run may replace (the scenarios are known outputs), and a second run keeps them too
    with outdir.staged(out, info={"marker": "newer"}) as stage:
        (stage / "report.html").write_text("<html>newer</html>", encoding="utf-8")
    assert (out / "scenario" / "without_KG03" / "summary.txt").is_file()


def test_a_run_stopped_between_the_swap_and_moving_the_scenarios_loses_none(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    _fake_old_run(out)
    _fake_scenario(out, "s1")
    prev = outdir.previous_path(out)
    os.replace(out, prev)  # both renames done, killed before the scenarios were moved over
    out.mkdir()
    (out / "report.html").write_text("<html>new</html>", encoding="utf-8")
    (out / "run.json").write_text(
        json.dumps({"files": [{"path": "report.html", "bytes": 16}]}), encoding="utf-8"
    )
    done = outdir.recover(out)
    assert (out / "scenario" / "s1" / "summary.txt").read_text(encoding="utf-8") == "情景 s1"
    assert not prev.exists()
    assert any("kept scenario" in d for d in done)


def test_placeholder_files_do_not_stop_a_run_and_are_kept(tmp_path):
    # a fresh clone's outputs/.gitkeep, or the file managers' own files, are not a planner's files
    out = tmp_path / "out"
    out.mkdir()
    for name in (".gitkeep", ".DS_Store", "Thumbs.db"):
        (out / name).write_bytes(b"")
    assert "exists, writable" in outdir.check_output_folder(out)
    with outdir.staged(out, info={"marker": "new"}) as stage:
        (stage / "report.html").write_text("<html>new</html>", encoding="utf-8")
    assert sorted(p.name for p in out.iterdir()) == [
        ".DS_Store",
        ".gitkeep",
        "Thumbs.db",
        "report.html",
        "run.json",
    ]
    (out / "notes.docx").write_text("my notes", encoding="utf-8")  # a planner's file still stops it
    with pytest.raises(ChildspaceError, match=r"did not write \(notes\.docx\)"):
        outdir.check_output_folder(out)
