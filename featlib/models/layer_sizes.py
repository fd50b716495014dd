"""The parameters a Keras model config declares, layer by layer, worked out without Keras.

:func:`config_layers` reads a ``.keras`` file's ``config.json`` or a legacy ``.h5``'s
``model_config`` and gives each top-level layer's parameters as they follow from its config and
input shape (``Dense``: inputs × units + units; ``Embedding``: input_dim × output_dim;
convolutions: kernel × channels × filters; recurrent layers, attention, normalisation, wrappers
and nested models likewise; see :data:`ESTIMATED_LAYERS`), times the size of its variables'
dtype. The input shape a layer is built with is read from what Keras itself reads
(``build_config``, the shapes recorded in ``inbound_nodes``, the model's input layer), and
propagated through the layers when the config does not record it (Keras 2 files); a dimension
nowhere known counts as 1, so the sum is a lower bound of what Keras would allocate.

:mod:`featlib.models.budget` adds these sizes up against the limit.

Example:
    >>> dense = {"class_name": "Dense", "name": "dense", "config": {"units": 10},
    ...          "build_config": {"input_shape": [None, 64]}}
    >>> [(size.name, size.params) for size in config_layers({"class_name": "Sequential",
    ...                                                     "config": {"layers": [dense]}})]
    [('dense', 650)]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from featlib.errors import ModelError
from featlib.models.config import first_line as _first_line

MAX_CONFIG_DEPTH = 64
"""The most levels of nested models and wrappers followed."""

Shape = tuple  # of int (>= 0) or None (unknown), batch axis first


@dataclass(frozen=True)
class LayerSize:
    """What one layer (or one weights group) declares.

    Attributes:
        name: the layer's name (config) or the weights group's path (weights file).
        kind: the layer's class name, or ``"weights"``.
        params: parameters (values) declared.
        bytes: ``params`` × the size of their dtype.
        detail: how the count follows: ``"input_dim 256,000,000 × output_dim 6, float32"``.
    """

    name: str
    kind: str
    params: int
    bytes: int
    detail: str


def config_layers(config: object) -> list[LayerSize]:
    """One :class:`LayerSize` per top-level layer of a Keras model config whose size follows from it.

    Reads Keras 3 configs (``Sequential`` / ``Functional`` with ``build_config`` and shapes in
    ``inbound_nodes``) and Keras 2 ones (``batch_input_shape``, ``inbound_nodes`` as name lists).
    Layers whose kind is not in :data:`ESTIMATED_LAYERS` are left out (their weights file counts them).
    Never raises on odd values: a value that is not a usable number counts as unknown.
    """
    if not isinstance(config, dict):
        return []
    try:
        sizes, _ = _model(config, None, 0)
    except RecursionError:
        raise ModelError("The model config is nested too deeply to size; refused.") from None
    except (AttributeError, TypeError, ValueError, KeyError, IndexError, OverflowError) as error:
        # Never let an odd config pass unsized (Keras might build what was not counted): refuse it.
        raise ModelError(
            f"The model config cannot be sized (expected a Keras model config; {type(error).__name__}: "
            f"{_first_line(error)}); refused before Keras built anything."
        ) from None
    return sizes


def _layers_of(model_config: dict) -> list[dict]:
    inner = model_config.get("config")
    layers = inner.get("layers") if isinstance(inner, dict) else inner
    return [layer for layer in layers if isinstance(layer, dict)] if isinstance(layers, list) else []


def _model(model_config: dict, input_shape: Shape | None, depth: int) -> tuple[list[LayerSize], Shape | None]:
    """Sizes of a Sequential or Functional model's layers, and its (first) output shape."""
    if depth > MAX_CONFIG_DEPTH:
        raise ModelError(
            f"The model config nests models or wrappers more than {MAX_CONFIG_DEPTH} levels deep; refused."
        )
    inner = model_config.get("config") if isinstance(model_config.get("config"), dict) else {}
    layers = _layers_of(model_config)
    functional = any(layer.get("inbound_nodes") for layer in layers)
    sizes: list[LayerSize] = []
    outputs: dict[str, Shape | None] = {}
    previous = input_shape or _shape(inner.get("build_input_shape"))
    for layer in layers:
        config = layer.get("config") if isinstance(layer.get("config"), dict) else {}
        name = str(layer.get("name") or config.get("name") or layer.get("class_name"))[:200]
        if functional:
            candidates = _node_inputs(layer, outputs)
        else:
            candidates = [[previous]] if previous is not None else []
        candidates += _build_inputs(layer)
        size, out = _layer(layer, name, candidates, depth)
        if size is not None and size.params > 0:
            sizes.append(size)
        outputs[name] = out
        previous = out
    if functional:
        ends = inner.get("output_layers")
        first = ends[0] if isinstance(ends, list) and ends else None
        end_name = first[0] if isinstance(first, list) and first else None
        return sizes, outputs.get(end_name) if isinstance(end_name, str) else previous
    return sizes, previous


def _node_inputs(layer: dict, outputs: dict[str, Shape | None]) -> list[list[Shape | None]]:
    """Candidate input shape lists of a functional layer's first call: recorded shapes, and its inputs' outputs."""
    nodes = layer.get("inbound_nodes")
    if not isinstance(nodes, list) or not nodes:
        return []
    node = nodes[0]
    recorded: list[Shape | None] = []
    propagated: list[Shape | None] = []
    if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}} holding __keras_tensor__ dicts
        kwargs = node.get("kwargs") if isinstance(node.get("kwargs"), dict) else {}
        for tensor in _keras_tensors([node.get("args"), list(kwargs.values())], 0):
            config = tensor.get("config") if isinstance(tensor.get("config"), dict) else {}
            recorded.append(_shape(config.get("shape")))
            history = config.get("keras_history")
            if isinstance(history, list) and history and isinstance(history[0], str):
                propagated.append(outputs.get(history[0]))
    elif isinstance(node, list):  # Keras 2: [[name, node, tensor, kwargs], ...]
        for entry in node:
            if isinstance(entry, list) and entry and isinstance(entry[0], str):
                propagated.append(outputs.get(entry[0]))
    return [shapes for shapes in (recorded, propagated) if shapes and any(s is not None for s in shapes)]


def _keras_tensors(value: object, depth: int) -> Iterator[dict]:
    if depth > 8:
        return
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            yield value
        return
    if isinstance(value, list):
        for item in value[:64]:
            yield from _keras_tensors(item, depth + 1)


def _build_inputs(layer: dict) -> list[list[Shape | None]]:
    """The input shape(s) Keras builds the layer with (``build_config``), as a candidate."""
    build = layer.get("build_config")
    raw = build.get("input_shape") if isinstance(build, dict) else None
    config = layer.get("config") if isinstance(layer.get("config"), dict) else {}
    raw = raw if raw is not None else config.get("batch_input_shape", config.get("batch_shape"))
    if raw is None and isinstance(config.get("input_shape"), list):
        raw = [None] + list(config["input_shape"])
    if isinstance(raw, dict):
        raw = list(raw.values())
    if isinstance(raw, list) and raw and all(isinstance(item, (list, type(None))) for item in raw):
        shapes = [_shape(item) for item in raw[:64]]
        return [shapes] if any(s is not None for s in shapes) else []
    one = _shape(raw)
    return [[one]] if one is not None else []


def _shape(value: object) -> Shape | None:
    """A shape from a config: a list of sizes, each a non-negative int or unknown (``None``)."""
    if not isinstance(value, (list, tuple)) or len(value) > 64:
        return None
    if any(isinstance(d, (list, tuple, dict)) for d in value):
        return None
    return tuple(d if isinstance(d, int) and not isinstance(d, bool) and d >= 0 else None for d in value)


def _layer(
    layer: dict, name: str, candidates: list[list[Shape | None]], depth: int
) -> tuple[LayerSize | None, Shape | None]:
    """A layer's size (the largest over its candidate input shapes) and its output shape."""
    kind = layer.get("class_name")
    config = layer.get("config") if isinstance(layer.get("config"), dict) else {}
    if not isinstance(kind, str):
        return None, None
    if kind in _MODELS and _layers_of(layer):
        first = candidates[0][0] if candidates and candidates[0] else None
        inner, out = _model(layer, first, depth + 1)
        if not inner:
            return None, out
        biggest = max(inner, key=lambda s: s.bytes)
        params, size = sum(s.params for s in inner), sum(s.bytes for s in inner)
        return LayerSize(
            name,
            kind,
            params,
            size,
            f"a nested model; its largest layer {biggest.name!r} ({biggest.kind}, {biggest.detail})",
        ), out
    rule = ESTIMATED_LAYERS.get(kind) or (_identity if kind.startswith("Random") or kind in _IDENTITY else None)
    if rule is None:
        return None, None
    best: tuple[int, str] | None = None
    out: Shape | None = None
    for shapes in candidates or [[None]]:
        try:
            params, detail, shape = rule(config, [s for s in shapes], depth)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, KeyError, IndexError):
            continue  # odd values: Keras refuses the layer itself
        if out is None:
            out = shape
        if best is None or params > best[0]:
            best = (params, detail)
    if best is None:
        return None, out
    params, detail = best
    width = _dtype_bytes(config.get("dtype"))
    return LayerSize(name, kind, params, params * width, f"{detail}, {_dtype_name(config.get('dtype'))}"), out


def _dtype_name(dtype: object) -> str:
    if isinstance(dtype, dict):
        inner = dtype.get("config")
        dtype = inner.get("name") if isinstance(inner, dict) else None
    return dtype if isinstance(dtype, str) and dtype.isprintable() and len(dtype) < 40 else "float32"


def _dtype_bytes(dtype: object) -> int:
    """Bytes per value of a layer's variables: float32 unless its dtype policy says 16 or 64 bits."""
    name = _dtype_name(dtype)
    if name.startswith("mixed_"):
        return 4  # mixed precision keeps float32 variables
    if "64" in name:
        return 8
    if "16" in name:
        return 2
    if "int8" in name or "uint8" in name:
        return 1
    return 4


# Layer rules: (config, input shapes, depth) -> (parameters, how, output shape) ----------------------------


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} is not a size")
    return value


def _dim(shape: Shape | None, axis: int) -> int:
    """A known dimension, or 1 (the least it can be) when unknown."""
    if shape is None or not shape:
        return 1
    try:
        value = shape[axis]
    except IndexError:
        return 1
    return value if isinstance(value, int) and value > 0 else 1


def _first(shapes: list) -> Shape | None:
    return shapes[0] if shapes else None


def _tuple(value: object, rank: int, what: str) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        return (_int(value, what),) * rank
    if isinstance(value, (list, tuple)) and len(value) == rank:
        return tuple(_int(v, what) for v in value)
    raise ValueError(f"{what} is not a size")


def _bias(config: dict, units: int) -> int:
    return units if config.get("use_bias", True) is not False else 0


def _channels_axis(config: dict) -> int:
    return 1 if config.get("data_format") == "channels_first" else -1


def _identity(config: dict, shapes: list, depth: int):
    return 0, "no weights", _first(shapes)


def _dense(config: dict, shapes: list, depth: int):
    units = _int(config.get("units"), "units")
    shape = _first(shapes)
    inputs = _dim(shape, -1)
    out = None if shape is None else shape[:-1] + (units,)
    return inputs * units + _bias(config, units), f"{inputs:,} inputs × units {units:,}", out


def _embedding(config: dict, shapes: list, depth: int):
    rows, width = _int(config.get("input_dim"), "input_dim"), _int(config.get("output_dim"), "output_dim")
    shape = _first(shapes)
    return rows * width, f"input_dim {rows:,} × output_dim {width:,}", None if shape is None else shape + (width,)


def _conv_out(size: int | None, kernel: int, stride: int, padding: str, dilation: int, transpose: bool) -> int | None:
    if size is None or stride < 1:
        return None
    if transpose:
        return size * stride if padding == "same" else size * stride + max(kernel - stride, 0)
    if padding in ("same", "causal"):
        return -(-size // stride)
    return max(0, (size - dilation * (kernel - 1) - 1) // stride + 1)


def _conv(rank: int, transpose: bool = False, depthwise: bool = False, separable: bool = False) -> Callable:
    def rule(config: dict, shapes: list, depth: int):
        shape = _first(shapes)
        axis = _channels_axis(config)
        channels = _dim(shape, axis)
        kernel = _tuple(config.get("kernel_size"), rank, "kernel_size")
        strides = _tuple(config.get("strides", 1), rank, "strides")
        dilation = _tuple(config.get("dilation_rate", 1), rank, "dilation_rate")
        area = math.prod(kernel)
        if depthwise or separable:
            multiplier = _int(config.get("depth_multiplier", 1), "depth_multiplier")
            params = area * channels * multiplier
            out_channels = channels * multiplier
            how = f"kernel {kernel} × {channels:,} channels × depth_multiplier {multiplier:,}"
            if separable:
                filters = _int(config.get("filters"), "filters")
                params += channels * multiplier * filters
                out_channels = filters
                how += f" + pointwise × filters {filters:,}"
        else:
            filters = _int(config.get("filters"), "filters")
            groups = max(1, _int(config.get("groups", 1), "groups"))
            params = area * max(1, channels // groups) * filters
            out_channels = filters
            how = f"kernel {kernel} × {channels:,} channels × filters {filters:,}"
        params += _bias(config, out_channels)
        out = None
        if shape is not None and len(shape) == rank + 2:
            spatial = shape[2:] if axis == 1 else shape[1:-1]
            padding = str(config.get("padding", "valid")).lower()
            sizes = tuple(
                _conv_out(s, k, st, padding, d, transpose) for s, k, st, d in zip(spatial, kernel, strides, dilation)
            )
            out = (shape[0], out_channels) + sizes if axis == 1 else (shape[0],) + sizes + (out_channels,)
        return params, how, out

    return rule


def _pool(rank: int) -> Callable:
    def rule(config: dict, shapes: list, depth: int):
        shape = _first(shapes)
        size = _tuple(config.get("pool_size", 2), rank, "pool_size")
        strides = config.get("strides")
        strides = size if strides is None else _tuple(strides, rank, "strides")
        out = None
        if shape is not None and len(shape) == rank + 2:
            axis = _channels_axis(config)
            spatial = shape[2:] if axis == 1 else shape[1:-1]
            padding = str(config.get("padding", "valid")).lower()
            sizes = tuple(_conv_out(s, k, st, padding, 1, False) for s, k, st in zip(spatial, size, strides))
            out = shape[:2] + sizes if axis == 1 else (shape[0],) + sizes + (shape[-1],)
        return 0, "no weights", out

    return rule


def _global_pool(config: dict, shapes: list, depth: int):
    shape = _first(shapes)
    if shape is None or len(shape) < 3:
        return 0, "no weights", None
    channels = shape[_channels_axis(config)]
    if config.get("keepdims"):
        return 0, "no weights", tuple(d if i in (0, len(shape) - 1) else 1 for i, d in enumerate(shape))
    return 0, "no weights", (shape[0], channels)


def _flatten(config: dict, shapes: list, depth: int):
    shape = _first(shapes)
    if shape is None:
        return 0, "no weights", None
    rest = shape[1:]
    return 0, "no weights", (shape[0], math.prod(rest) if all(d is not None for d in rest) else None)


def _reshape(config: dict, shapes: list, depth: int):
    target = _shape(config.get("target_shape"))
    shape = _first(shapes)
    if target is None:
        return 0, "no weights", None
    if any(d is None for d in target) and shape is not None and all(d is not None for d in shape[1:]):
        known = math.prod(d for d in target if d is not None) or 1
        target = tuple(math.prod(shape[1:]) // known if d is None else d for d in target)
    return 0, "no weights", (None,) + target


def _repeat(config: dict, shapes: list, depth: int):
    n = _int(config.get("n"), "n")
    shape = _first(shapes)
    return 0, "no weights", None if shape is None else (shape[0], n) + shape[1:]


def _concatenate(config: dict, shapes: list, depth: int):
    known = [s for s in shapes if s is not None]
    if len(known) != len(shapes) or not known:
        return 0, "no weights", None
    axis = config.get("axis", -1)
    axis = axis if isinstance(axis, int) and not isinstance(axis, bool) else -1
    try:
        parts = [s[axis] for s in known]
        joined = None if any(p is None for p in parts) else sum(parts)
        out = list(known[0])
        out[axis] = joined
    except IndexError:
        return 0, "no weights", None
    return 0, "no weights", tuple(out)


def _batch_norm(config: dict, shapes: list, depth: int):
    axis = config.get("axis", -1)
    axis = axis[0] if isinstance(axis, list) and axis else axis
    channels = _dim(_first(shapes), axis if isinstance(axis, int) and not isinstance(axis, bool) else -1)
    per = 2 + (config.get("center", True) is not False) + (config.get("scale", True) is not False)
    return per * channels, f"{per} × {channels:,} channels", _first(shapes)


def _axes_size(shape, axis: object) -> int:
    """The number of values a layer keeps one weight for: the product of ``shape`` over ``axis`` (an int or a list)."""
    axes = axis if isinstance(axis, list) else [axis]
    return math.prod(_dim(shape, a) for a in axes if isinstance(a, int) and not isinstance(a, bool)) or 1


def _layer_norm(config: dict, shapes: list, depth: int):
    shape = _first(shapes)
    size = _axes_size(shape, config.get("axis", -1))
    per = (config.get("center", True) is not False) + (config.get("scale", True) is not False)
    return per * size, f"{per} × {size:,} values", shape


def _group_norm(config: dict, shapes: list, depth: int):
    channels = _dim(_first(shapes), config.get("axis", -1) if isinstance(config.get("axis", -1), int) else -1)
    per = (config.get("center", True) is not False) + (config.get("scale", True) is not False)
    return per * channels, f"{per} × {channels:,} channels", _first(shapes)


def _normalization(config: dict, shapes: list, depth: int):
    shape = _first(shapes)
    size = _axes_size(shape, config.get("axis", -1))
    return 2 * size + 1, f"mean and variance of {size:,} values", shape


def _prelu(config: dict, shapes: list, depth: int):
    shape = _first(shapes)
    if shape is None:
        return 1, "one alpha per input value", None
    shared = config.get("shared_axes") or []
    shared = shared if isinstance(shared, list) else [shared]
    dims = [1 if (i + 1) in shared else _dim(shape, i + 1) for i in range(len(shape) - 1)]
    return math.prod(dims), "one alpha per input value", shape


def _rnn(gates: int) -> Callable:
    def rule(config: dict, shapes: list, depth: int):
        units = _int(config.get("units"), "units")
        shape = _first(shapes)
        inputs = _dim(shape, -1)
        biases = gates * units * (2 if gates == 3 and config.get("reset_after", True) is not False else 1)
        params = gates * (inputs * units + units * units) + (biases if config.get("use_bias", True) is not False else 0)
        if shape is None:
            out = None
        elif config.get("return_sequences"):
            out = shape[:2] + (units,)
        else:
            out = (shape[0], units)
        return params, f"{gates} gate(s) × ({inputs:,} inputs + units {units:,}) × units {units:,}", out

    return rule


def _wrapped(config: dict, shapes: list, depth: int) -> tuple[LayerSize | None, Shape | None, dict]:
    inner = config.get("layer")
    if not isinstance(inner, dict):
        raise ValueError("no wrapped layer")
    name = str((inner.get("config") or {}).get("name") if isinstance(inner.get("config"), dict) else "") or "inner"
    size, out = _layer(inner, name, [shapes], depth + 1)
    return size, out, inner


def _bidirectional(config: dict, shapes: list, depth: int):
    if depth > MAX_CONFIG_DEPTH:
        raise ValueError("too deep")
    forward, out, _ = _wrapped(config, shapes, depth)
    backward = forward
    if isinstance(config.get("backward_layer"), dict):
        backward, _ = _layer(config["backward_layer"], "backward", [shapes], depth + 1)
    params = (forward.params if forward else 0) + (backward.params if backward else 0)
    if out is not None and config.get("merge_mode", "concat") == "concat" and out[-1] is not None:
        out = out[:-1] + (2 * out[-1],)
    return params, f"forward and backward {forward.detail if forward else 'layers'}", out


def _time_distributed(config: dict, shapes: list, depth: int):
    if depth > MAX_CONFIG_DEPTH:
        raise ValueError("too deep")
    shape = _first(shapes)
    step = None if shape is None or len(shape) < 2 else (shape[0],) + shape[2:]
    inner, out, _ = _wrapped(config, [step], depth)
    full = None if out is None or shape is None else (shape[0], shape[1]) + out[1:]
    return (inner.params if inner else 0), f"{inner.detail if inner else 'an inner layer'} per step", full


def _attention(config: dict, shapes: list, depth: int):
    heads, key_dim = _int(config.get("num_heads"), "num_heads"), _int(config.get("key_dim"), "key_dim")
    value_dim = config.get("value_dim")
    value_dim = key_dim if value_dim is None else _int(value_dim, "value_dim")
    query = _first(shapes)
    d_query = _dim(query, -1)
    d_value = _dim(shapes[1], -1) if len(shapes) > 1 else d_query
    d_key = _dim(shapes[2], -1) if len(shapes) > 2 else d_value
    out_dim = config.get("output_shape")
    out_dim = (
        d_query
        if out_dim is None
        else math.prod(
            _tuple(out_dim, len(out_dim), "output_shape")
            if isinstance(out_dim, list)
            else (_int(out_dim, "output_shape"),)
        )
    )
    params = heads * key_dim * (d_query + d_key) + heads * value_dim * d_value + heads * value_dim * out_dim
    if config.get("use_bias", True) is not False:
        params += 2 * heads * key_dim + heads * value_dim + out_dim
    out = None if query is None else query[:-1] + (out_dim,)
    return params, f"num_heads {heads:,} × key_dim {key_dim:,} over {d_query:,}-wide queries", out


def _upsampling(rank: int) -> Callable:
    def rule(config: dict, shapes: list, depth: int):
        shape = _first(shapes)
        size = _tuple(config.get("size", 2), rank, "size")
        if shape is None or len(shape) != rank + 2:
            return 0, "no weights", None
        axis = _channels_axis(config)
        spatial = shape[2:] if axis == 1 else shape[1:-1]
        grown = tuple(None if s is None else s * k for s, k in zip(spatial, size))
        return 0, "no weights", shape[:2] + grown if axis == 1 else (shape[0],) + grown + (shape[-1],)

    return rule


def _spatial_unknown(config: dict, shapes: list, depth: int):
    """Padding, cropping, resizing: no weights; the channels stay, the spatial sizes change."""
    shape = _first(shapes)
    if shape is None:
        return 0, "no weights", None
    axis = _channels_axis(config)
    return 0, "no weights", tuple(d if i in (0, axis % len(shape)) else None for i, d in enumerate(shape))


_IDENTITY = frozenset(
    {
        "InputLayer",
        "Activation",
        "ReLU",
        "LeakyReLU",
        "ELU",
        "Softmax",
        "ThresholdedReLU",
        "Dropout",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "SpatialDropout3D",
        "AlphaDropout",
        "GaussianDropout",
        "GaussianNoise",
        "Rescaling",
        "Masking",
        "ActivityRegularization",
        "Identity",
        "UnitNormalization",
        "Add",
        "Subtract",
        "Multiply",
        "Average",
        "Maximum",
        "Minimum",
        "Permute",
    }
)
"""Layer kinds without weights whose output has their (first) input's shape (``Permute`` as an upper bound)."""
_MODELS = frozenset({"Sequential", "Functional", "Model"})

ESTIMATED_LAYERS: dict[str, Callable] = {
    "Dense": _dense,
    "Embedding": _embedding,
    "Conv1D": _conv(1),
    "Conv2D": _conv(2),
    "Conv3D": _conv(3),
    "Convolution1D": _conv(1),
    "Convolution2D": _conv(2),
    "Convolution3D": _conv(3),
    "Conv1DTranspose": _conv(1, transpose=True),
    "Conv2DTranspose": _conv(2, transpose=True),
    "Conv3DTranspose": _conv(3, transpose=True),
    "DepthwiseConv1D": _conv(1, depthwise=True),
    "DepthwiseConv2D": _conv(2, depthwise=True),
    "SeparableConv1D": _conv(1, separable=True),
    "SeparableConv2D": _conv(2, separable=True),
    "MaxPooling1D": _pool(1),
    "MaxPooling2D": _pool(2),
    "MaxPooling3D": _pool(3),
    "AveragePooling1D": _pool(1),
    "AveragePooling2D": _pool(2),
    "AveragePooling3D": _pool(3),
    "MaxPool1D": _pool(1),
    "MaxPool2D": _pool(2),
    "MaxPool3D": _pool(3),
    "AvgPool1D": _pool(1),
    "AvgPool2D": _pool(2),
    "AvgPool3D": _pool(3),
    "GlobalAveragePooling1D": _global_pool,
    "GlobalAveragePooling2D": _global_pool,
    "GlobalAveragePooling3D": _global_pool,
    "GlobalMaxPooling1D": _global_pool,
    "GlobalMaxPooling2D": _global_pool,
    "GlobalMaxPooling3D": _global_pool,
    "GlobalAvgPool1D": _global_pool,
    "GlobalAvgPool2D": _global_pool,
    "GlobalMaxPool1D": _global_pool,
    "GlobalMaxPool2D": _global_pool,
    "Flatten": _flatten,
    "Reshape": _reshape,
    "RepeatVector": _repeat,
    "Concatenate": _concatenate,
    "BatchNormalization": _batch_norm,
    "LayerNormalization": _layer_norm,
    "GroupNormalization": _group_norm,
    "Normalization": _normalization,
    "PReLU": _prelu,
    "SimpleRNN": _rnn(1),
    "GRU": _rnn(3),
    "LSTM": _rnn(4),
    "CuDNNGRU": _rnn(3),
    "CuDNNLSTM": _rnn(4),
    "Bidirectional": _bidirectional,
    "TimeDistributed": _time_distributed,
    "MultiHeadAttention": _attention,
    "UpSampling1D": _upsampling(1),
    "UpSampling2D": _upsampling(2),
    "UpSampling3D": _upsampling(3),
    "ZeroPadding1D": _spatial_unknown,
    "ZeroPadding2D": _spatial_unknown,
    "ZeroPadding3D": _spatial_unknown,
    "Cropping1D": _spatial_unknown,
    "Cropping2D": _spatial_unknown,
    "Cropping3D": _spatial_unknown,
    "Resizing": _spatial_unknown,
    "CenterCrop": _spatial_unknown,
}
"""The layer kinds whose parameters (and output shape) :func:`config_layers` works out from their config;
shape-keeping kinds without weights (``Activation``, ``Dropout``, ``Random*``, merges, ...) pass shapes on."""
