"""Training presets of the seed MLP: the default that trains it well, and the seed script's SGD.

The figures behind the default (test accuracy and seconds on this project's
two-core CI machine; ``python -m featlib train --dataset NAME --name m``
prints both):

=================  ===========================  ============  ===========
dataset            preset                       test acc.     seconds
=================  ===========================  ============  ===========
digits (8×8)       adam, lr 1e-3, 30 ep., b 32  0.969         4
digits (8×8)       sgd, lr 0.01, 20 ep., b 32   0.889         3
Fashion-MNIST      adam, lr 1e-3, 10 ep., b 128 0.876         11
Fashion-MNIST      adam, lr 1e-3, 5 ep., b 128  0.872         6
Fashion-MNIST      sgd, lr 0.01, 5 ep., b 128   0.812         5
=================  ===========================  ============  ===========

SGD with the seed's learning rate is kept exactly as the seed trained (the
``seed`` preset), for a faithful replay; it needs many more epochs than Adam to
reach the same accuracy, and stopped early its maps show a half-trained model.
"""

from __future__ import annotations

import dataclasses

from featlib.errors import TrainingError

LARGE_TRAIN_SET = 10_000
"""From this many train images on, a preset's epochs and batch size are the ones for MNIST-sized data."""


@dataclasses.dataclass(frozen=True)
class TrainingPreset:
    """Optimiser settings for :func:`featlib.models.train`.

    Attributes:
        name: the key (``"default"``, ``"seed"``).
        label: what the page and ``--help`` call it.
        optimizer: ``"adam"`` or ``"sgd"``.
        learning_rate: the optimiser's learning rate.
        epochs: epochs on a small train set (below :data:`LARGE_TRAIN_SET` images).
        epochs_large: epochs on a large one.
        batch_size: batch size on a small train set.
        batch_size_large: batch size on a large one.
    """

    name: str
    label: str
    optimizer: str
    learning_rate: float
    epochs: int
    epochs_large: int
    batch_size: int
    batch_size_large: int

    def for_size(self, n_train: int) -> tuple[int, int]:
        """``(epochs, batch_size)`` for a train split of ``n_train`` images."""
        if n_train >= LARGE_TRAIN_SET:
            return self.epochs_large, self.batch_size_large
        return self.epochs, self.batch_size


PRESETS: dict[str, TrainingPreset] = {
    "default": TrainingPreset("default", "Adam (well trained; the default)", "adam", 1e-3, 30, 10, 32, 128),
    "seed": TrainingPreset("seed", "SGD as in the seed script", "sgd", 0.01, 20, 5, 32, 128),
}
DEFAULT_PRESET = "default"


def preset(name: str) -> TrainingPreset:
    """The preset called ``name``.

    Raises:
        ValueError: ``name`` is not a preset; the message lists them.
    """
    try:
        return PRESETS[name]
    except KeyError:
        raise TrainingError(f"Unknown training preset {name!r}; expected one of {list(PRESETS)}.") from None
