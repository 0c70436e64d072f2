"""The first program inside every sandbox jail: it stages the work folder, runs the action's command
under the resource limits, and hands the folder back.

Why a program of ours runs before the command: the jail's ``/work`` is a size-limited tmpfs that
starts empty, so someone inside must fill it from the host's copy (a tar archive on stdin) and, once
the command is over, send it back (a tar archive on the control pipe), for the host to check before it
keeps any of it. The limits are set here, in the jail's own user namespace, where RLIMIT_NPROC counts
this jail's processes only, not every process of the host user; and on this program itself, which is
the jail's pid 1 (bwrap's ``--as-pid-1``), so that nothing in the jail runs without them: a process
the command could ptrace and make fork or allocate for it would otherwise be a way around them.

When the command exits, whatever it left running is killed before the folder is archived, so no
background writer changes a file while it is read.

Protocol: ``argv`` is the control pipe's fd, the limits as JSON (resource names to values), then the
command. On the control pipe: ``started``, then after the command one JSON status line, then the
archive. The host treats all of it as untrusted: the command runs as the same user as this program.

It runs under the jail's interpreter (the system Python, not the project's virtual environment), so
it uses the standard library only.
"""

import json
import os
import resource
import signal
import sys
import tarfile


def unpack(source, folder):
    with tarfile.open(fileobj=source, mode="r|") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(folder, filter="data")
        else:  # the host wrote this archive from its own folder
            tar.extractall(folder)


def pack(sink, folder):
    with tarfile.open(fileobj=sink, mode="w|", format=tarfile.GNU_FORMAT) as tar:
        for root, dirs, files in os.walk(folder):
            for name in sorted(dirs + files):
                path = os.path.join(root, name)
                try:
                    tar.add(path, arcname=os.path.relpath(path, folder), recursive=False)
                except OSError:  # the command made it unreadable to itself: it is not handed back
                    pass


def limit_myself(limits):
    """Put this program under the limits, and out of the command's reach: everything in the jail
    descends from it (it is the jail's pid 1), so nothing there runs unlimited, and not dumpable, so
    the command cannot ptrace it or write its memory (it runs as the same user)."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (ImportError, OSError, AttributeError):  # the limits below still hold for a hijacker
        pass
    for name, value in limits.items():
        soft, hard = value if isinstance(value, list) else (value, value)
        resource.setrlimit(getattr(resource, name), (soft, hard))


def run(command):
    """Fork and exec the command; reap every orphan that comes to pid 1 until the command itself
    exits. Its wait status and CPU seconds."""
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            os.execvp(command[0], command)
        except Exception as e:  # report and leave: this is the forked child, it must not return
            os.write(2, ("sandbox: cannot run %s: %s\n" % (command[0], e)).encode())
        os._exit(127)
    while True:
        done, status, usage = os.wait4(-1, 0)
        if done == pid:
            return status, usage.ru_utime + usage.ru_stime


def kill_the_rest():
    """Kill every other process in the jail and reap them: once pid 1 has no child, none is left."""
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        while True:
            os.wait()
    except ChildProcessError:
        pass


def main():
    control, limits, command = int(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3:]
    os.set_inheritable(control, False)
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # as pid 1, no handler means the command cannot signal it
    folder = os.getcwd()
    unpack(sys.stdin.buffer, folder)  # before the limits: the host's folder may hold a file above file_size
    limit_myself(limits)
    sink = os.fdopen(control, "wb")
    sink.write(b"started\n")
    sink.flush()
    status, cpu_seconds = run(command)
    kill_the_rest()
    disk = os.statvfs(folder)
    report = {
        "returncode": os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status),
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "cpu_seconds": cpu_seconds,
        "disk_full": disk.f_bavail == 0,
    }
    sink.write(json.dumps(report).encode() + b"\n")
    pack(sink, folder)
    sink.close()


if __name__ == "__main__":
    main()
