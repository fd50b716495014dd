"""plotly figures: the maps, the figures over layers and trainings, image grids and small charts.

A façade over its modules by topic (:mod:`~featlib.plots.style`, :mod:`~featlib.plots.scatter`,
:mod:`~featlib.plots.layers`, :mod:`~featlib.plots.training`, :mod:`~featlib.plots.images`): callers write
``plots.scatter_map(...)``.
"""

from featlib.plots.images import (  # noqa: F401
    GRID_TILE,
    class_grid,
    label_counts,
    montage,
    upscale,
)
from featlib.plots.layers import (  # noqa: F401
    FLOW_NODE_PAD,
    FLOW_NODE_THICKNESS,
    _flow_positions,
    cka_heatmap,
    class_means,
    class_shift_heatmap,
    layer_flow,
    layer_scores,
    layers_grid,
    prediction_depth_heatmap,
    unit_auroc,
    unit_counts,
)
from featlib.plots.scatter import (  # noqa: F401
    _HOVER,
    COLOUR_MODES,
    CONTOUR_NAME,
    CORE_COLOUR,
    CORE_NAME,
    FOLLOWED_NAME,
    HIGHLIGHT_LINE,
    HIGHLIGHT_NAME,
    KEPT_TORN,
    NEIGHBOURS_NAME,
    PANEL_TITLE_LINES,
    PLACED_NAME,
    SHADED,
    TORN_COLOUR,
    TORN_NAME,
    UNIT_COLOUR,
    UNSELECTED_OPACITY,
    _map_traces,
    _point_colours,
    _unit_shade,
    add_placed_points,
    add_stable_core,
    class_contours,
    compare_panel,
    landing_heatmap,
    neighbours_kept_map,
    scatter_map,
    selected_indices,
)
from featlib.plots.style import (  # noqa: F401
    COLOURBAR,
    CORRECT_COLOUR,
    DIGIT_COLOURS,
    LEGEND_ROW,
    MARGIN,
    MODEBAR_HEIGHT,
    MODEBAR_REMOVE,
    SUBPLOT_TITLE,
    TITLE_LINE,
    WRONG_COLOUR,
    _rgba,
    colour_of,
    colourbar,
    frame,
    text,
    title_lines,
)
from featlib.plots.training import (  # noqa: F401
    FLOW_MOVED_NAME,
    FLOW_SMOOTH_POINTS,
    checkpoint_flow,
    method_times,
    training_curves,
)
