"""Remote side of a snapshot sync, run by the target's own Python (stdlib only, Python 3.8+).

The client starts it once per submit as ``PYTHON -S -E -c <this source> session`` and writes to
its stdin: one line with the header's length, the header (JSON), then, when the header says
``"sending"``, one tar stream of the objects the client believes the store lacks. It then

1. extracts that tar with the system ``tar`` into a private staging folder and moves each object
   into ``BASE/objects/<sha[:2]>/<sha>`` only when it arrived whole (a cut upload never lands);
2. if the store still lacks objects, prints ``{"missing": [...]}`` and stops (the client sends
   them and asks again, so a stale client cache costs one round trip, never a wrong run);
3. assembles ``RUN_DIR/work``: it takes a *spare* pristine tree of the same project (built in the
   background after the previous submit) by renaming it and patches the few files that differ,
   or copies every file out of the store. Files are real copies, never hard links: a script that
   rewrites a file in place must not change the store;
4. writes the agent files and, when the header has a launch spec, starts the supervisor with
   the spec on its stdin (the spec may hold secret values: it is never written to disk);
5. prints one JSON line: ``{"run_dir": ..., "pid": ..., "state": ..., "how": ...}``.

Then it forks a detached, niced child that builds the next spare tree from the store.
Exit codes: 0 answered on stdout; 2 bad input; 3 the upload was incomplete; 4 assembly failed.
"""
import json
import os
import shutil
import subprocess
import sys
import time

_COPY = 1 << 20
SPARES_PER_PROJECT = 1
STAGING_MAX_AGE = 24 * 3600


def _fail(code, message):
    sys.stderr.write("aml_magic assemble: " + message + "\n")
    sys.stderr.flush()
    sys.exit(code)


def _read_exact(fd, size):
    chunks, left = [], size
    while left > 0:
        data = os.read(fd, min(left, _COPY))
        if not data:
            _fail(2, "stdin ended inside the header")
        chunks.append(data)
        left -= len(data)
    return b"".join(chunks)


def _read_header():
    line = b""
    while not line.endswith(b"\n"):
        ch = os.read(0, 1)
        if not ch or len(line) > 20:
            _fail(2, "no header length on stdin")
        line += ch
    try:
        return json.loads(_read_exact(0, int(line)).decode("utf-8"))
    except ValueError as exc:
        _fail(2, "bad header: %s" % exc)


def _object_path(objects, sha):
    return os.path.join(objects, sha[:2], sha)


def _safe_rel(rel):
    parts = rel.split("/")
    if not rel or rel.startswith("/") or "\\" in rel or any(p in ("", ".", "..") for p in parts):
        _fail(2, "unsafe path in manifest: %r" % rel)
    return rel


def _receive(objects, sending, sizes):
    """Extract the tar on stdin into staging; move complete objects into the store."""
    _sweep_staging(objects)
    staging = os.path.join(objects, ".incoming-%d-%s" % (os.getpid(), os.urandom(4).hex()))
    os.makedirs(staging)
    try:
        proc = subprocess.run(["tar", "-x", "-f", "-", "-C", staging], stdin=0,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if proc.returncode != 0:
            _fail(3, "the upload was cut or corrupt (tar exited with %d: %s)"
                  % (proc.returncode, proc.stderr.decode("utf-8", "replace").strip()[-300:]))
        made = set()
        for sha in sending:
            src = os.path.join(staging, sha)
            try:
                size = os.lstat(src).st_size
            except OSError:
                _fail(3, "the upload was cut: object %s did not arrive" % sha)
            if sizes.get(sha) is not None and size != sizes[sha]:
                _fail(3, "the upload was cut: object %s has %d of %d bytes" % (sha, size, sizes[sha]))
            fan = os.path.join(objects, sha[:2])
            if fan not in made:
                os.makedirs(fan, exist_ok=True)
                made.add(fan)
            os.chmod(src, 0o444)
            os.replace(src, _object_path(objects, sha))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _sweep_staging(objects):
    """Remove staging folders of uploads that died long ago."""
    now = time.time()
    try:
        names = os.listdir(objects)
    except OSError:
        return
    for name in names:
        if name.startswith(".incoming-"):
            path = os.path.join(objects, name)
            try:
                if now - os.lstat(path).st_mtime > STAGING_MAX_AGE:
                    shutil.rmtree(path, ignore_errors=True)
            except OSError:
                pass


def _copy_object(objects, sha, dest, mode):
    shutil.copyfile(_object_path(objects, sha), dest)  # sendfile/copy_file_range: in the kernel
    os.chmod(dest, mode)


def _full_copy(objects, files, work):
    made = set()
    for rel, sha, mode in files:
        parent = os.path.dirname(os.path.join(work, rel))
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        _copy_object(objects, sha, os.path.join(work, rel), mode)


def _take_spare(spares, work):
    """Rename a spare tree to ``work``; return its file map, or None when there is none."""
    try:
        names = sorted(n for n in os.listdir(spares) if not n.startswith(".")
                       and not n.endswith(".json"))
    except OSError:
        return None
    for name in names:
        tree, listing = os.path.join(spares, name), os.path.join(spares, name + ".json")
        try:
            with open(listing, "rb") as fh:
                have = json.loads(fh.read().decode("utf-8"))
            os.rename(tree, work)
        except (OSError, ValueError):
            continue                  # taken by a concurrent submit, or half-written
        try:
            os.unlink(listing)
        except OSError:
            pass
        return have
    return None


def _patch(objects, files, work, have):
    """Make a pristine tree listing ``have`` ({rel: [sha, mode]}) match ``files``."""
    wanted = {}
    for rel, sha, mode in files:
        wanted[rel] = (sha, mode)
        old = have.get(rel)
        if old is not None and old[0] == sha and old[1] == mode:
            continue
        dest = os.path.join(work, rel)
        if os.path.isdir(dest) and not os.path.islink(dest):
            shutil.rmtree(dest)
        elif os.path.lexists(dest):
            os.unlink(dest)
        else:
            _clear_file_parents(work, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        _copy_object(objects, sha, dest, mode)
    gone = [rel for rel in have if rel not in wanted]
    for rel in gone:
        try:
            os.unlink(os.path.join(work, rel))
        except OSError:
            pass
    for rel in sorted(gone, key=lambda r: -r.count("/")):
        parent = os.path.dirname(rel)
        while parent:
            try:
                os.rmdir(os.path.join(work, parent))
            except OSError:
                break
            parent = os.path.dirname(parent)
    return len(files) - sum(1 for rel, sha, mode in files if have.get(rel) == [sha, mode])


def _clear_file_parents(work, rel):
    """A file of the old tree may stand where the new tree needs a folder."""
    parts = rel.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        path = os.path.join(work, *parts[:i])
        if os.path.lexists(path) and not os.path.isdir(path):
            os.unlink(path)
            return


def _start_spare_builder(base, key, files):
    """Leave a pristine copy of this tree for the next submit: a forked, detached, niced child
    (its stdio is /dev/null, so the SSH channel closes as soon as this process exits)."""
    spares = os.path.join(base, "spares", key)
    try:
        os.makedirs(spares, exist_ok=True)
        for name in os.listdir(spares):    # a builder that died long ago
            path = os.path.join(spares, name)
            if name.startswith(".building-") and time.time() - os.lstat(path).st_mtime > 3600:
                shutil.rmtree(path, ignore_errors=True)
        names = [n for n in os.listdir(spares) if not n.endswith(".json")]
        if len(names) >= SPARES_PER_PROJECT:   # ready ones and ".building-" ones count
            return
        pid = os.fork()
    except OSError:
        return                         # only the next submit's speed depends on it
    if pid:
        return
    code = 0
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        build_spare(base, key, files)
    except BaseException:
        code = 1
    os._exit(code)


def build_spare(base, key, files):
    try:
        os.nice(10)
    except OSError:
        pass
    spares = os.path.join(base, "spares", key)
    name = os.urandom(8).hex()
    tmp = os.path.join(spares, ".building-" + name)
    try:
        _full_copy(os.path.join(base, "objects"), files, tmp)
        os.makedirs(tmp, exist_ok=True)
        with open(os.path.join(spares, name + ".json"), "w") as fh:
            json.dump({rel: [sha, mode] for rel, sha, mode in files}, fh)
        os.rename(tmp, os.path.join(spares, name))
    except (OSError, ValueError):
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            os.unlink(os.path.join(spares, name + ".json"))
        except OSError:
            pass


def _launch(run_dir, spec):
    spec = dict(spec)
    spec["python"] = sys.executable
    if spec.get("argv") and spec["argv"][0] == "python":
        spec["argv"] = [sys.executable] + list(spec["argv"][1:])
    supervisor = os.path.join(run_dir, ".agent", "supervisor.py")
    proc = subprocess.run([sys.executable, "-S", "-E", supervisor, "launch", run_dir],
                          input=json.dumps(spec).encode("utf-8"), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).decode("utf-8", "replace").strip()[-400:]
        _fail(4, "the run agent did not start (exit %d): %s" % (proc.returncode, detail))
    try:
        return json.loads(proc.stdout.decode("utf-8").strip().splitlines()[-1])
    except (ValueError, IndexError):
        _fail(4, "unexpected answer from the run agent: %r" % proc.stdout[-200:])


def session():
    started = time.time()
    header = _read_header()
    base = os.path.abspath(os.path.expanduser(header["base"]))
    objects = os.path.join(base, "objects")
    os.makedirs(objects, exist_ok=True)
    files = [[_safe_rel(rel), sha, int(mode)] for rel, sha, mode, size in header["files"]]
    sizes = dict((sha, int(size)) for rel, sha, mode, size in header["files"])
    sending = header.get("sending") or []
    if sending:
        _receive(objects, sending, sizes)
    missing = sorted(set(sha for rel, sha, mode in files
                         if not os.path.exists(_object_path(objects, sha))))
    if missing:
        print(json.dumps({"missing": missing, "base": base}))
        return
    run_dir = os.path.join(base, "runs", header["run_id"])
    work = os.path.join(run_dir, "work")
    if os.path.lexists(work):
        _fail(4, "%s already exists: run ids are never reused" % work)
    os.makedirs(run_dir, exist_ok=True)
    key = header.get("project_key") or "default"
    spares = os.path.join(base, "spares", key)
    have = _take_spare(spares, work) if header.get("use_spare", True) else None
    if have is not None:
        how, changed = "spare", _patch(objects, files, work, have)
    else:
        how, changed = "copy", len(files)
        _full_copy(objects, files, work)
        os.makedirs(work, exist_ok=True)
    for rel, text in (header.get("agent") or {}).items():
        path = os.path.join(run_dir, ".agent", _safe_rel(rel))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    result = {"run_dir": run_dir, "base": base, "how": how, "copied": changed,
              "seconds": round(time.time() - started, 4)}
    if header.get("spec") is not None:
        result.update(_launch(run_dir, header["spec"]))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    if header.get("make_spare", True):
        _start_spare_builder(base, key, files)


def main(argv):
    if argv[:1] == ["session"]:
        session()
    else:
        _fail(2, "usage: python -S -E -c <assemble.py> session  (header and tar on stdin)")


if __name__ == "__main__":
    main(sys.argv[1:])
