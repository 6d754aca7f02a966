"""The python grader's worker process (see fttui/train/sandbox.py for the whole design).

Run as a plain script (`python -I -S _sandbox_worker.py`): it imports nothing of
fttui. It reads one request from stdin, locks itself down (read-only filesystems
outside its scratch directory when it has its own mount namespace, resource limits,
audit hooks), then runs the user's `grade(sample, item)` on each pair and writes one
JSON line per pair to the results pipe (fd RESULTS_FD).
"""

import ctypes  # before the lockdown: mount(2); user code cannot import it afterwards
import io
import json
import math
import os
import resource
import signal
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC = 32, 4096, 16384
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
_FLAG_OPTIONS = {
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": MS_NOATIME,
    "nodiratime": MS_NODIRATIME,
    "relatime": MS_RELATIME,
}
_PRINT_CAP = 64 * 1024
_BLOCKED_EVENTS = (
    "socket.",
    "subprocess.Popen",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "pty.spawn",
    "ctypes.",
    "os.kill",
    "os.killpg",
    "signal.pthread_kill",
    "resource.setrlimit",
    "os.chdir",
    "os.chroot",
    "mmap.__new__",
)
_BLOCKED_IMPORTS = frozenset(
    {"_ctypes", "_socket", "socket", "_posixsubprocess", "subprocess", "multiprocessing"}
)
_PATH_EVENTS = {
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.rename": (0, 1),
    "os.truncate": (0,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.mkdir": (0,),
    "os.symlink": (0, 1),
    "os.link": (0, 1),
    "os.utime": (0,),
    "shutil.rmtree": (0,),
    "shutil.copyfile": (1,),
    "shutil.move": (1,),
}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _remount_read_only(scratch: str) -> None:
    """Every filesystem read-only except `scratch` (in this process's mount namespace)."""
    libc = ctypes.CDLL(None, use_errno=True)
    mount = libc.mount
    mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]
    raw = scratch.encode()
    if mount(raw, raw, None, MS_BIND | MS_REC, None) != 0:
        raise OSError(ctypes.get_errno(), "cannot bind the scratch directory")
    with open("/proc/self/mounts") as fh:
        entries = [line.split() for line in fh]
    for entry in entries:
        target = entry[1].replace("\\040", " ")
        if target == scratch or target.startswith(scratch + "/"):
            continue
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY
        for option in entry[3].split(","):
            flags |= _FLAG_OPTIONS.get(option, 0)
        mount(None, target.encode(), None, flags, None)  # best effort (proc, sys...)
    os.chdir(scratch)  # the cwd was the directory under the new bind mount
    root_ok = os.statvfs("/").f_flag & os.ST_RDONLY
    if not root_ok:
        raise OSError("the root filesystem could not be made read-only")


def _limits(request: dict) -> None:
    cpu = int(math.ceil(request["per_sample_s"] * len(request["pairs"]))) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (request["memory_bytes"],) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (request["file_bytes"],) * 2)
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _audit(scratch: str):  # type: ignore[no-untyped-def]
    inside = scratch.rstrip("/") + "/"

    def allowed_path(path: object) -> bool:
        if isinstance(path, int):
            return True
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, str):
            return False
        full = os.path.realpath(os.path.join(scratch, path))
        return full == scratch or full.startswith(inside) or full == "/dev/null"

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = (list(args) + [None, None])[:3]
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            if writes and not allowed_path(path):
                raise PermissionError(f"the grader may write only in its scratch directory: {path}")
        elif event == "import":
            if args and str(args[0]).split(".")[0] in _BLOCKED_IMPORTS:
                raise ImportError(f"the grader's sandbox does not allow {args[0]}")
        elif event in _PATH_EVENTS:
            for i in _PATH_EVENTS[event]:
                if i < len(args) and not allowed_path(args[i]):
                    raise PermissionError(f"{event} outside the scratch directory: {args[i]}")
        elif event.startswith(_BLOCKED_EVENTS):
            raise PermissionError(f"the grader's sandbox does not allow {event}")

    return hook


class _Timeout(BaseException):
    pass


def _alarm(signum, frame):  # type: ignore[no-untyped-def]
    raise _Timeout


def main() -> None:
    request = json.loads(sys.stdin.buffer.read())
    out_fd = int(os.environ["RESULTS_FD"])
    scratch = request["scratch"]
    os.close(0)
    if request.get("isolated"):
        _remount_read_only(scratch)
    # Gone from the module cache: importing them again raises the audited import.
    for name in ("ctypes", "_ctypes", "ctypes._endian"):
        sys.modules.pop(name, None)
    _limits(request)
    sink = io.StringIO()

    class Capped(io.TextIOBase):
        def write(self, text: str) -> int:
            if sink.tell() < _PRINT_CAP:
                sink.write(text[: _PRINT_CAP - sink.tell()])
            return len(text)

    sys.stdout = sys.stderr = Capped()
    signal.signal(signal.SIGALRM, _alarm)
    sys.addaudithook(_audit(scratch))

    def send(score, error) -> None:  # type: ignore[no-untyped-def]
        os.write(out_fd, (json.dumps({"score": score, "error": error}) + "\n").encode())

    namespace: dict = {"__name__": "grader"}
    try:
        signal.setitimer(signal.ITIMER_REAL, request["per_sample_s"])
        exec(compile(request["source"], "grader.py", "exec"), namespace)
        signal.setitimer(signal.ITIMER_REAL, 0)
        grade = namespace["grade"]
    except BaseException as exc:  # noqa: BLE001 - reported per sample
        signal.setitimer(signal.ITIMER_REAL, 0)
        why = _describe(exc, "loading the grader")
        for _ in request["pairs"]:
            send(None, why)
        return
    for sample, item in request["pairs"]:
        try:
            signal.setitimer(signal.ITIMER_REAL, request["per_sample_s"])
            value = grade(sample, item)
            signal.setitimer(signal.ITIMER_REAL, 0)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                send(None, f"grade() returned {type(value).__name__}, not a number")
            elif not math.isfinite(value):
                send(None, f"grade() returned {value}")
            else:
                send(float(value), None)
        except BaseException as exc:  # noqa: BLE001 - reported per sample
            signal.setitimer(signal.ITIMER_REAL, 0)
            send(None, _describe(exc, "grade()"))


def _describe(exc: BaseException, where: str) -> str:
    if isinstance(exc, _Timeout):
        return f"{where} took longer than its time limit"
    if isinstance(exc, MemoryError):
        return f"{where} ran out of memory (limit reached)"
    text = str(exc).splitlines()[0][:300] if str(exc) else ""
    return f"{where} raised {type(exc).__name__}" + (f": {text}" if text else "")


if __name__ == "__main__":
    main()
