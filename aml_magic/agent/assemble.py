"""Remote side of a snapshot sync, run by the target's own Python (stdlib only, Python 3.9+).

The client starts it once per submit as ``PYTHON -S -E -c <this source> session`` and writes to
its stdin: one line with the header's length, the header (JSON: manifest, base folder, run id,
the agent's files and, for a submit, the launch spec), then, when the header lists ``"sending"``
(``[sha, path]`` pairs), one tar stream of the objects the client believes the store lacks, each
once, named by the first path of the manifest holding it. It then

1. extracts that tar with the system ``tar`` and checks that every object arrived whole (a cut
   upload never reaches the store or a run). With no spare tree to take over (first submit of
   a project, cold store) it extracts straight into ``RUN_DIR/work``: one file creation per
   file, as ``rsync`` or ``tar x`` would do, instead of a staging folder and a rename each;
   otherwise into a private staging folder;
2. if objects it needs are still missing, answers ``{"missing": [...]}`` and stops (what was
   received goes into the store, a partial ``work/`` is removed): the client sends them and
   asks again, so a stale client cache costs one round trip, never a wrong run;
3. assembles ``RUN_DIR/work``: it takes over a *spare* pristine tree of the same project (built
   in the background after the previous submit) by renaming it and patches the files that
   differ, or else builds the tree file by file. Files are always the run's own (a fresh object
   was extracted in place or is *moved* into place, the rest copied in the kernel), never hard
   links into the store: a script that rewrites a file in place must not change the store;
4. writes the agent files and, for a submit, starts the supervisor with the launch spec on its
   stdin (the spec may hold secret values: it is never written to disk);
5. prints one JSON line: ``{"run_dir", "base", "how": "spare"|"copy", "copied", "pid", ...}``;
6. forks a detached, niced child that copies the moved objects into the store, verified by
   hash (a file the run changed meanwhile is simply not kept, and is re-sent and stored first
   next time: ``"keep"``), then builds the next spare tree from the store.

Exit codes: 0 answered on stdout; 2 bad input; 3 the upload was incomplete; 4 assembly failed.
"""
import hashlib
import json
import os
import shutil
import stat
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
    if not rel or rel.startswith("/") or "\0" in rel or any(p in ("", ".", "..") for p in parts):
        _fail(2, "unsafe path in manifest: %r" % rel)
    return rel


def _staging_dir(objects):
    _sweep_staging(objects)
    return os.path.join(objects, ".incoming-%d-%s" % (os.getpid(), os.urandom(4).hex()))


def _receive(root, sending, sizes):
    """Extract the tar on stdin (members named by their first path, see the module docstring)
    into the new folder ``root``; return ``{sha: path}`` once every object in ``sending``
    (``[sha, rel]`` pairs) arrived whole, else remove ``root`` and fail: a cut upload never
    reaches the store or a run. ``-m`` (no mtime) and ``-p`` (exact mode, checked against the
    umask only) leave tar one ``openat`` and the writes per file; ``-b 256`` reads 128 KB."""
    os.makedirs(root)
    proc = subprocess.run(["tar", "-x", "-m", "-p", "-b", "256", "-f", "-", "-C", root],
                          stdin=0, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    problem = None
    if proc.returncode != 0:
        problem = "tar exited with %d: %s" % (
            proc.returncode, proc.stderr.decode("utf-8", "replace").strip()[-300:])
    received = {}
    for sha, rel in sending if problem is None else ():
        path = received[sha] = os.path.join(root, _safe_rel(rel))
        try:
            st = os.lstat(path)
        except OSError:
            problem = "object %s (%s) did not arrive" % (sha, rel)
            break
        if not stat.S_ISREG(st.st_mode) or st.st_size != sizes.get(sha, st.st_size):
            problem = "object %s (%s) has %d of %s bytes" % (sha, rel, st.st_size,
                                                               sizes.get(sha))
            break
    if problem is not None:
        shutil.rmtree(root, ignore_errors=True)
        _fail(3, "the upload was cut or corrupt (%s); submit again" % problem)
    return received


def _sweep_staging(objects):
    """Remove staging folders of uploads that died long ago."""
    now = time.time()
    try:
        names = os.listdir(objects)
    except OSError:
        return
    for name in names:
        if name.startswith(".incoming-") or name.startswith(".fill-"):
            path = os.path.join(objects, name)
            try:
                if now - os.lstat(path).st_mtime > STAGING_MAX_AGE:
                    if os.path.isdir(path):
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        os.unlink(path)
            except OSError:
                pass


def _copy(src, dest, mode):
    """Copy a file in the kernel (``copy_file_range``); a new file, never through a link."""
    fi = os.open(src, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        fo = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                     0o600)
        try:
            left = os.fstat(fi).st_size
            fast = hasattr(os, "copy_file_range")
            while left > 0:
                if fast:
                    try:
                        n = os.copy_file_range(fi, fo, min(left, 1 << 30))
                    except OSError:
                        fast = False
                        continue
                else:
                    data = os.read(fi, _COPY)
                    n = os.write(fo, data) if data else 0
                if n == 0:
                    break
                left -= n
            os.fchmod(fo, mode)
        finally:
            os.close(fo)
    finally:
        os.close(fi)


def _store(objects, sha, src, *, check_hash):
    """Put ``src`` into the store as object ``sha``. With ``check_hash`` the bytes are copied and
    hashed on the way (``src`` may be changing: only matching content is kept)."""
    fan = os.path.join(objects, sha[:2])
    os.makedirs(fan, exist_ok=True)
    if not check_hash:
        os.chmod(src, 0o444)
        os.replace(src, _object_path(objects, sha))
        return True
    tmp = os.path.join(objects, ".fill-%s" % os.urandom(8).hex())
    digest = hashlib.sha256()
    try:   # the run may have swapped its file for a link or a FIFO: never follow, never block
        fi = os.open(src, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    if not stat.S_ISREG(os.fstat(fi).st_mode):
        os.close(fi)
        return False
    try:
        fo = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            while True:
                data = os.read(fi, _COPY)
                if not data:
                    break
                digest.update(data)
                view = memoryview(data)
                while view:
                    view = view[os.write(fo, view):]
        finally:
            os.close(fo)
    finally:
        os.close(fi)
    if digest.hexdigest() != sha:
        os.unlink(tmp)
        return False
    os.replace(tmp, _object_path(objects, sha))
    return True


class _Sources:
    """Gives each file of the working copy its bytes. A freshly received object is *moved* to
    its first place in the working copy, or was extracted right there (``staging`` None: the
    tar went into ``work/``): one write on the critical path; the store gets its own copy
    later, verified by hash, in the background. Everything else is copied from the store."""

    def __init__(self, objects, staging, received, keep=()):
        self.objects, self.staging = objects, staging
        self.fresh = dict(received)        # sha -> path of a received object not placed yet
        self.moved = {}
        # objects sent before whose background copy failed (the run rewrote its file before
        # the store kept it): store these first, then copy them like any other
        for sha in sorted(set(self.fresh) & set(keep)):
            _store(objects, sha, self.fresh.pop(sha), check_hash=False)

    def place(self, sha, dest, mode):
        src = self.fresh.get(sha)
        if src == dest:                      # extracted in place
            del self.fresh[sha]
            self.moved[sha] = dest
        elif src is not None and self.staging is not None:
            del self.fresh[sha]
            os.chmod(src, mode)
            os.rename(src, dest)
            self.moved[sha] = dest
        elif src is not None:                # in place elsewhere in work/, still pristine
            _copy(src, dest, mode)
        elif sha in self.moved:
            _copy(self.moved[sha], dest, mode)    # the run has not started: still pristine
        else:
            _copy(_object_path(self.objects, sha), dest, mode)

    def store_unused(self):
        """Objects received but not placed go straight into the store."""
        for sha, path in sorted(self.fresh.items()):
            _store(self.objects, sha, path, check_hash=False)
        self.fresh = {}

    def fill_store(self):
        """(background) Copy the moved objects into the store, keeping only unchanged ones."""
        for sha, path in sorted(self.moved.items()):
            if not os.path.exists(_object_path(self.objects, sha)):
                _store(self.objects, sha, path, check_hash=True)
        if self.staging:
            shutil.rmtree(self.staging, ignore_errors=True)


def _full_copy(files, work, place):
    made = set()
    for rel, sha, mode in files:
        parent = os.path.dirname(os.path.join(work, rel))
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        place(sha, os.path.join(work, rel), mode)


def _peek_spare(spares):
    """A ready spare tree of this project: ``(name, {rel: [sha, mode]})`` or ``(None, None)``."""
    try:
        names = sorted(n for n in os.listdir(spares) if not n.startswith(".")
                       and not n.endswith(".json"))
    except OSError:
        return None, None
    for name in names:
        try:
            with open(os.path.join(spares, name + ".json"), "rb") as fh:
                return name, json.loads(fh.read().decode("utf-8"))
        except (OSError, ValueError):
            continue
    return None, None


def _take_spare(spares, name, work):
    """Rename the spare tree to ``work``; False if a concurrent submit took it first."""
    try:
        os.rename(os.path.join(spares, name), work)
    except OSError:
        return False
    try:
        os.unlink(os.path.join(spares, name + ".json"))
    except OSError:
        pass
    return True


def _patch(files, work, have, place):
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
        place(sha, dest, mode)
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


def _start_background(base, key, files, sources):
    """Fill the store with the objects moved into the working copy, then leave a pristine tree
    for the next submit: a forked, detached, niced child whose stdio is /dev/null, so the SSH
    channel closes as soon as this process exits."""
    try:
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
        try:
            os.nice(10)
        except OSError:
            pass
        sources.fill_store()
        if key is not None:
            build_spare(base, key, files)
    except BaseException:
        code = 1
    os._exit(code)


def build_spare(base, key, files):
    """Copy the tree out of the store into ``spares/KEY/<id>`` (plus ``<id>.json``, its
    listing), unless the project has a spare already or one is being built."""
    spares = os.path.join(base, "spares", key)
    os.makedirs(spares, exist_ok=True)
    for name in os.listdir(spares):    # a builder that died long ago
        path = os.path.join(spares, name)
        if name.startswith(".building-") and time.time() - os.lstat(path).st_mtime > 3600:
            shutil.rmtree(path, ignore_errors=True)
    if len([n for n in os.listdir(spares) if not n.endswith(".json")]) >= SPARES_PER_PROJECT:
        return
    name = os.urandom(8).hex()
    tmp = os.path.join(spares, ".building-" + name)
    objects = os.path.join(base, "objects")
    listing = {}

    def place(sha, dest, mode):
        try:
            _copy(_object_path(objects, sha), dest, mode)
        except FileNotFoundError:      # not stored (changed by the run before it was kept):
            return                     # left out of the listing, so the next submit places it
        listing[os.path.relpath(dest, tmp).replace(os.sep, "/")] = [sha, mode]

    try:
        os.makedirs(tmp)
        _full_copy(files, tmp, place)
        with open(os.path.join(spares, name + ".json"), "w") as fh:
            json.dump(listing, fh)
        os.rename(tmp, os.path.join(spares, name))
    except (OSError, ValueError):
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            os.unlink(os.path.join(spares, name + ".json"))
        except OSError:
            pass


def _agent_cache(base, agent):
    """The agent's files kept once per version under ``BASE/helpers/agent-<sha>/``, where
    Python caches their bytecode: a run's own ``.agent/`` is new each time, so importing the
    supervisor from there would compile it on every submit. None when it cannot be written."""
    digest = hashlib.sha256(json.dumps(sorted(agent.items())).encode("utf-8")).hexdigest()
    folder = os.path.join(base, "helpers", "agent-" + digest[:32])
    if os.path.isfile(os.path.join(folder, "_supervisor.py")):
        return folder
    tmp = "%s.%d.tmp" % (folder, os.getpid())
    try:
        for rel, text in agent.items():
            path = os.path.join(tmp, _safe_rel(rel))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
        os.rename(tmp, folder)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder if os.path.isfile(os.path.join(folder, "_supervisor.py")) else None


def _launch(run_dir, spec, agent_cache=None):
    """Start the run's supervisor; its answer (``{"pid", ...}``). With ``agent_cache`` it is
    forked from this process, its code imported from the cache: no second interpreter start
    and no compilation per submit. The run sees the same: its compat path is its own
    ``.agent/compat`` and the supervisor detaches into its own session as before."""
    spec = dict(spec)
    spec["python"] = sys.executable
    if spec.get("argv") and spec["argv"][0] == "python":
        spec["argv"] = [sys.executable] + list(spec["argv"][1:])
    if agent_cache is not None:
        spec.setdefault("compat_path", os.path.join(run_dir, ".agent", "compat"))
        return _launch_forked(run_dir, spec, agent_cache)
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


_IMPORT_FAILED = 97


def _launch_forked(run_dir, spec, agent_cache):
    out_r, out_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            os.close(out_r)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(out_w, 1)
            os.dup2(out_w, 2)
            os.close(out_w)            # the supervisor must not hold our answer pipe open
            sys.path.insert(0, agent_cache)
            try:
                import _supervisor
            except Exception:          # a damaged cache: the parent starts it the old way
                os._exit(_IMPORT_FAILED)
            code = _supervisor.launch(run_dir, json.dumps(spec).encode("utf-8"))
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException as exc:
            os.write(2, ("aml_magic assemble: %r\n" % (exc,)).encode("utf-8", "replace"))
        os._exit(code)
    os.close(out_w)
    chunks = []
    while True:
        chunk = os.read(out_r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(out_r)
    _, status = os.waitpid(pid, 0)
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1
    output = b"".join(chunks)
    if code == _IMPORT_FAILED and not output:
        return _launch(run_dir, spec)
    if code != 0:
        _fail(4, "the run agent did not start (exit %d): %s"
              % (code, output.decode("utf-8", "replace").strip()[-400:]))
    try:
        return json.loads(output.decode("utf-8").strip().splitlines()[-1])
    except (ValueError, IndexError):
        _fail(4, "unexpected answer from the run agent: %r" % output[-200:])


def _ask_for_missing(files, sources, objects, base, partial_work=None):
    """When objects of ``files`` are neither just received nor in the store: keep what was
    received (removing ``partial_work``, the tree it was extracted into), print the missing
    list for the client (which sends them and asks again) and return True."""
    missing = sorted({sha for rel, sha, mode in files if sha not in sources.fresh
                      and not os.path.exists(_object_path(objects, sha))})
    if not missing:
        return False
    sources.store_unused()
    sources.fill_store()
    if partial_work is not None:
        shutil.rmtree(partial_work, ignore_errors=True)
    print(json.dumps({"missing": missing, "base": base}))
    return True


def session():
    started = time.time()
    # The base folder and everything under it are the SSH user's alone (runs, their logs and
    # the store may hold private data): new files 0600/0700, the base itself 0700.
    os.umask(0o077)
    header = _read_header()
    base = os.path.abspath(os.path.expanduser(header["base"]))
    objects = os.path.join(base, "objects")
    os.makedirs(objects, exist_ok=True)
    if stat.S_IMODE(os.lstat(base).st_mode) != 0o700 and os.path.isdir(base):
        os.chmod(base, 0o700)
    files = [[_safe_rel(rel), sha, int(mode)] for rel, sha, mode, size in header["files"]]
    sizes = {sha: int(size) for rel, sha, mode, size in header["files"]}
    sending = header.get("sending") or []
    keep = header.get("keep") or ()
    run_dir = os.path.join(base, "runs", header["run_id"])
    work = os.path.join(run_dir, "work")
    if os.path.lexists(work):
        _fail(4, "%s already exists: run ids are never reused" % work)
    key = header.get("project_key") or "default"
    spares = os.path.join(base, "spares", key)
    spare, have = _peek_spare(spares)
    # no spare tree to patch: the upload is extracted straight into work/ (no renames)
    in_place = bool(sending) and have is None and not keep
    os.makedirs(run_dir, exist_ok=True)
    staging = None if in_place or not sending else _staging_dir(objects)
    received = _receive(staging or work, sending, sizes) if sending else {}
    sources = _Sources(objects, staging, received, keep)
    received_at = time.time()
    # only the objects of files the spare tree lacks are needed from the store
    needed = files if have is None else [f for f in files if have.get(f[0]) != [f[1], f[2]]]
    if _ask_for_missing(needed, sources, objects, base, work if in_place else None):
        return
    if have is not None and _take_spare(spares, spare, work):
        how, changed = "spare", _patch(files, work, have, sources.place)
    else:
        how, changed = "copy", len(files)
        if _ask_for_missing(files, sources, objects, base, work if in_place else None):
            return
        os.makedirs(work, exist_ok=in_place)
        _full_copy(files, work, sources.place)
    sources.store_unused()
    for rel, text in (header.get("agent") or {}).items():
        path = os.path.join(run_dir, ".agent", _safe_rel(rel))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    # seconds: receiving (header, tar), assembling, and with a spec until the agent answered
    result = {"run_dir": run_dir, "base": base, "how": how, "copied": changed,
              "seconds": [round(received_at - started, 3), round(time.time() - received_at, 3)]}
    if header.get("spec") is not None:
        cache = _agent_cache(base, header["agent"]) if header.get("agent") else None
        result.update(_launch(run_dir, header["spec"], cache))
        result["seconds"].append(round(time.time() - received_at, 3))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    if sources.moved or header.get("make_spare", True):
        _start_background(base, key if header.get("make_spare", True) else None, files, sources)


def main(argv):
    if argv[:1] == ["session"]:
        session()
        # The answer is out; the client waits for this process's end. Freeing the header's
        # 10,000s of entries one by one would cost it milliseconds for nothing.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    else:
        _fail(2, "usage: python -S -E -c <assemble.py> session  (header and tar on stdin)")


if __name__ == "__main__":
    main(sys.argv[1:])
