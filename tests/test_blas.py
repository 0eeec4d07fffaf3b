"""One BLAS thread in the batch processes (extreme3d.blas): every loaded BLAS library limited,
the caller's settings restored after a batch run inside its process."""

from __future__ import annotations

import subprocess
import sys

import pytest

threadpoolctl = pytest.importorskip("threadpoolctl")


def _blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]


def test_blas_threads_limited_restores_the_callers_setting() -> None:
    import cv2  # noqa: F401  (the BLAS copies loaded before the settings are read)
    import scipy.linalg  # noqa: F401

    from extreme3d.blas import blas_threads_limited

    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        with blas_threads_limited():
            inside = _blas_threads()
        after = _blas_threads()
    assert before and all(n == 2 for n in before)
    assert inside and all(n == 1 for n in inside)
    assert after == before


def test_single_blas_thread_limits_numpy_scipy_and_opencv_for_good() -> None:
    code = (
        "import threadpoolctl\n"
        "from extreme3d.blas import single_blas_thread\n"
        "assert single_blas_thread()\n"
        "libs = [i for i in threadpoolctl.threadpool_info() if i['user_api'] == 'blas']\n"
        "print(len(libs), sorted({i['num_threads'] for i in libs}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"OPENBLAS_NUM_THREADS": "2", "PATH": "/usr/bin:/bin"}, check=True)
    count, threads = out.stdout.split(maxsplit=1)
    assert int(count) >= 2  # numpy's and SciPy's copies at least (OpenCV's where bundled)
    assert threads.strip() == "[1]"


def test_nested_and_concurrent_runs_restore_only_at_the_last_exit() -> None:
    import cv2  # noqa: F401
    import scipy.linalg  # noqa: F401

    from extreme3d.blas import blas_threads_limited

    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        with blas_threads_limited():
            with blas_threads_limited():
                assert all(n == 1 for n in _blas_threads())
            assert all(n == 1 for n in _blas_threads())  # the outer run still limited
        assert _blas_threads() == before


def test_a_failing_limit_is_no_error(monkeypatch) -> None:
    import extreme3d.blas as blas

    def broken() -> None:
        raise OSError("odd library")

    monkeypatch.setattr(blas, "_load_blas_users", broken)
    assert blas.single_blas_thread() is False
    with blas.blas_threads_limited():
        pass
