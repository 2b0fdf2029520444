"""Threads, the GIL, and fork()."""

import os
import sys
import threading

import pytest
import trove as ln


def test_many_threads_saving_at_once(instance, tmp_path):
    n_threads, per_thread = 8, 10
    errors = []

    def work(t):
        try:
            for i in range(per_thread):
                p = tmp_path / f"t{t}-{i}.txt"
                p.write_text(f"thread {t} file {i}")
                ln.Artifact(str(p), key=f"threads/{t}/{i}.txt").save()
            # and new versions of one shared key, from every thread
            p = tmp_path / f"shared-{t}.txt"
            p.write_text(f"version from thread {t}")
            ln.Artifact(str(p), key="threads/shared.txt").save()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # every version is on main: one per thread of the shared key
    assert ln.Artifact.filter(key__startswith="threads/").count() == n_threads * per_thread + n_threads
    shared = ln.Artifact.filter(key="threads/shared.txt", branch_id=None).list()
    assert len(shared) == n_threads and sum(a.is_latest for a in shared) == 1
    assert len({a.uid for a in shared}) == n_threads
    for a in ln.Artifact.filter(key__startswith="threads/").list():
        assert a.path.stat().st_size == a.size


def test_gil_is_released_during_a_large_save(instance, tmp_path):
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        chunk = os.urandom(1 << 20)
        for _ in range(96):
            f.write(chunk)
    started = threading.Event()
    result = {}

    def save():
        started.set()
        result["artifact"] = ln.Artifact(str(big), key="big.bin").save()

    t = threading.Thread(target=save)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.001)
    try:
        t.start()
        started.wait()
        ticks = 0
        while t.is_alive():
            ticks += 1
        t.join()
    finally:
        sys.setswitchinterval(interval)
    # Had the save held the GIL, this thread could not have run while it hashed and copied
    # 96 MiB: at most a switch or two.
    assert result["artifact"].size == 96 << 20
    assert ticks > 1000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() here")
def test_fork_after_use_is_a_clear_error(instance, tmp_path):
    (tmp_path / "f.txt").write_text("f")
    ln.Artifact(str(tmp_path / "f.txt"), key="f.txt").save()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            ln.Artifact.filter().count()
            msg = b"no error"
        except RuntimeError as e:
            msg = str(e).encode()
        except BaseException as e:  # noqa: BLE001
            msg = repr(e).encode()
        os.write(w, msg[:4000])
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        msg = f.read().decode()
    os.waitpid(pid, 0)
    assert "fork" in msg and "spawn" in msg
    assert ln.Artifact.filter().count() == 1  # the parent goes on
