"""Prints ``featlib add``'s accuracy before (pixels / 255, the old default: ``--scale 0-1`` now) and now (the model's
own scaling, the default), against ``model.evaluate`` at the model's own scaling, for the two models of
tests/test_own_scaling.py (issue 23, item 3). From the repository root: ``.venv/bin/python bench/own_scaling_study.py``.
"""

import contextlib
import io
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, "tests")
import test_own_scaling as own  # noqa: E402

from featlib import datasets  # noqa: E402
from featlib.cli import main  # noqa: E402
from featlib.store import Workspace  # noqa: E402


def study() -> None:
    digits = datasets.load_digits()
    kinds = (
        ("rescaling", own.augmented_rescaling_model),
        ("normalization", lambda: own.nested_normalization_model(digits)),
    )
    with tempfile.TemporaryDirectory() as folder:
        for kind, make in kinds:
            model = make()
            evaluated = own._train_raw(model, digits)
            path = Path(folder) / f"{kind}.keras"
            model.save(path)
            workspace = Path(folder) / f"ws-{kind}"
            for name, options in (("before", ["--scale", "0-1"]), ("now", [])):
                out = io.StringIO()
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
                    main(
                        [
                            "--workspace",
                            str(workspace),
                            "add",
                            str(path),
                            "--name",
                            name,
                            "--dataset",
                            "digits",
                            *options,
                        ]
                    )
                record = Workspace(workspace).get_model(name)
                print(
                    f"{kind}: model.evaluate on raw pixels {evaluated:.4f}; featlib add ({name}): "
                    f"{record.test_accuracy:.4f} at {record.input_scale}"
                )
                said = [line for line in out.getvalue().splitlines() if line.startswith("input scaling")]
                print("   ", said[0] if said else "(no input scaling line)")


if __name__ == "__main__":
    study()
