"""The backend function in inference mode: ``keras.Function`` with every layer called with ``training=False``.

The seed's ``K.function`` ran in Keras 2's test phase by default; Keras 3's ``keras.Function`` calls each
layer of its graph without ``training``, so random augmentation, noise and dropout layers run as in
training. Every backend function featlib runs on a model is made here: the backend-function extraction
method (:mod:`featlib.read.extract`) and the upload check for non-finite values
(:mod:`featlib.models.nonfinite`), which would otherwise also move a BatchNormalization's moving
statistics of the model being checked.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from featlib.lazy import keras


def inference_function(inputs: list, outputs: list) -> keras.Function:
    """The backend function ``keras.Function(inputs, outputs)``, run with every layer in inference mode.

    A plain ``keras.Function`` calls each layer of its graph without ``training``, and Keras 3's
    random layers (``RandomRotation``, ``RandomZoom``, ...) then transform their inputs as in training,
    differently on every call; a layer the graph recorded with ``training=True`` (Monte Carlo dropout,
    a BatchNormalization that then also updates its moving statistics) runs as in training too. This
    one passes ``training=False`` to every layer whose call takes ``training``, over what the graph
    recorded, as ``Model.predict`` (``Functional.call(training=False)``) does; a nested model passes it
    on to its own layers. Keras 2's ``K.function`` ran in the test phase by default.

    Args:
        inputs: the model's symbolic inputs (``model.inputs``).
        outputs: symbolic tensors computable from ``inputs`` (layer outputs, ops on them).

    Returns:
        A ``keras.Function`` (a subclass of it): ``function([x])`` gives the outputs for the batch ``x``.
    """
    return _inference_function_class()(inputs=inputs, outputs=outputs)


def _in_inference_mode(operation: object) -> Callable:
    """``operation`` called with ``training=False`` when its call takes ``training``, as predict calls it."""
    if "training" not in getattr(operation, "call_signature_parameters", ()):
        return operation

    def call(*args, **kwargs):
        return operation(*args, **{**kwargs, "training": False})

    return call


@functools.cache
def _inference_function_class() -> type:
    """The ``keras.Function`` subclass of :func:`inference_function`, made once, when Keras is first needed."""

    class InferenceFunction(keras.Function):
        """A ``keras.Function`` that calls every layer of its graph with ``training=False``."""

        def call(self, inputs):
            self._assert_input_compatibility(inputs)
            return self._run_through_graph(inputs, operation_fn=_in_inference_mode)

    return InferenceFunction
