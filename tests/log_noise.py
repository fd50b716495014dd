"""The lines featlib's logs leave out (see featlib.quiet), as patterns, for the tests of the CLI, workers and server."""

from __future__ import annotations

import re

NOISE = (
    r"All log messages before absl::InitializeLog",  # TensorFlow's start-up, before its logging is set up
    r"oneDNN custom operations are on",
    r"Could not find cuda drivers",  # on a machine without an NVIDIA driver
    r"failed call to cuInit",
    r"This TensorFlow binary is optimized",
    r"triggered tf\.function retracing",  # Keras's predict step, traced once per model
    r"NumbaWarning: Cannot cache compiled function",  # pynndescent's functions with dynamic globals
    r"Graph is not fully connected",  # scikit-learn, in umap-learn's layout of a graph's components
)


def noise(text: str) -> list[str]:
    """The lines of ``text`` matching :data:`NOISE`."""
    return [line for line in text.splitlines() if any(re.search(p, line) for p in NOISE)]
