"""A quiet, clear log (featlib.quiet): TensorFlow's start-up lines and known false alarms left out, nothing else.

The server itself is tested in tests/e2e/test_quiet_server.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from log_noise import noise

REPO_ROOT = Path(__file__).resolve().parents[1]


def _user_env(**extra: str) -> dict:
    """This environment without ``TF_CPP_MIN_LOG_LEVEL`` (as a user's shell) and with featlib importable."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return dict(env, PYTHONPATH=os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p), **extra)


def test_make_run_takes_port_and_address_and_binds_to_loopback_by_default():
    def run_line(*args: str) -> str:
        proc = subprocess.run(["make", "-n", "run", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        [line] = [line for line in proc.stdout.splitlines() if "streamlit run" in line]
        return line

    assert run_line().endswith("streamlit run app.py --server.port 8501 --server.address 127.0.0.1")
    plan = subprocess.run(["make", "-n", "run"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60).stdout
    steps = [i for i, line in enumerate(plan.splitlines()) if "featlib prepare" in line or "streamlit run" in line]
    assert len(steps) == 2 and "featlib prepare" in plan.splitlines()[steps[0]], plan  # the first look, then the server
    assert run_line("PORT=9000", "ADDRESS=0.0.0.0").endswith(
        "streamlit run app.py --server.port 9000 --server.address 0.0.0.0"
    )


def test_filtered_stderr_drops_matching_lines_and_passes_the_rest(tmp_path):
    """Lines written to file descriptor 2 by any code (here os.write and print) are filtered line by line."""
    code = (
        "import os, sys\n"
        "from featlib import quiet\n"
        "with quiet.filtered_stderr([r'^noise \\d+$']):\n"
        "    os.write(2, b'noise 1\\nkept 1\\nnoise 2\\n')\n"
        "    print('kept 2', file=sys.stderr)\n"
        "    os.write(2, b'kept 3 without newline')\n"
        "print('after', file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=_user_env(), capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "kept 1\nkept 2\nkept 3 without newlineafter\n"


def test_a_worker_s_first_job_writes_no_noise():
    """What a job worker runs before and for its warm-up: a quiet log, then Keras imported and UMAP fitted.

    The warm-up's points lie in far-apart clusters (scikit-learn's "Graph is not fully connected"
    from umap-learn's layout of its components) and reach pynndescent's approximate neighbours,
    whose functions Numba cannot cache ("Cannot cache compiled function"); TensorFlow's
    start-up and CUDA lines come with the import of Keras. None of these may reach the log.
    """
    code = (
        "import logging\n"
        "from featlib.jobs import tasks, worker\n"
        "worker._prepare_process()\n"
        "tasks.warm_up()\n"
        "from featlib import models\n"  # predict with several models: TensorFlow's retracing warning
        "import numpy as np\n"
        "x = np.zeros((1500, 64), 'float32')\n"
        "for seed in range(6):\n"
        "    models.predict_labels(models.build_mlp((64,), (8,), seed=seed), x)\n"
        "print('done')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=_user_env(), capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "done", proc.stderr[-3000:]
    assert not noise(proc.stderr), proc.stderr[-3000:]


def test_tensorflow_s_own_lines_come_back_when_asked_for():
    """``TF_CPP_MIN_LOG_LEVEL=0`` shows everything TensorFlow writes: the filter is off."""
    code = "from featlib import quiet\nquiet.setup()\nimport tensorflow\nprint('ok')\n"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=_user_env(TF_CPP_MIN_LOG_LEVEL="0"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "oneDNN custom operations are on" in proc.stderr
