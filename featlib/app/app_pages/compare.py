"""Compare: two to four maps of the same points side by side, aligned, linked and scored."""

from dataclasses import replace

import numpy as np
import streamlit as st

from featlib import plots
from featlib.app import comparing, links, neighbour_moves, resources, state, text, theme, training_scrub, widgets
from featlib.maps import align, neighbours
from featlib.maps.embed import REDUCER_TITLES

text.title("Compare")
comparing.restore_from_link()
links.show_link_error(comparing.LINK_ERROR)
dataset = widgets.current_dataset()
records = resources.workspace().list_models()
if not records:
    text.info("No saved model yet: train one (with checkpoints, to compare epochs), upload one or pick one first.")
    st.page_link(widgets.MODEL_PAGE, label="Go to the Model page", icon=":material/model_training:")
    st.stop()

text.caption(
    text.md(
        "Each panel is a (model, layer, method, reducer) map of the same sample of "
        "{}; panels are turned and mirrored onto the first (Procrustes without scaling, on the shared points; "
        "**Align** switches it off), each zoomed to its own points, in the same colours. A box or lasso in any panel highlights those points in every panel. A layer with "
        "spatial axes is read by the reduction picked on the Representations page.",
        dataset.name,
    )
)
with st.expander("Panels", expanded=comparing.current_view() is None):
    comparing.presets(records, st.session_state.get(comparing.panel_key("reducer", 0), "umap"))
    comparing.editor(records, dataset)
with st.expander(
    "Scrub a training: one layer across its checkpoints", expanded=bool(st.session_state.get(training_scrub.SHOWN))
):
    training_scrub.show(
        records, dataset, st.session_state[comparing.SPLIT], state.get(state.METHOD), state.get(state.REDUCTION)
    )

view = comparing.current_view()
if view is None:
    text.info("Pick the panels and press Compare, or use a quick comparison.")
    st.stop()
if view.dataset != state.get(state.DATASET):  # the dataset was changed on the Model page since
    view = replace(view, dataset=state.get(state.DATASET))
if view.reduction != state.get(state.REDUCTION):  # the reduction was changed on the Representations page since
    view = replace(view, reduction=state.get(state.REDUCTION))
if view.split not in dataset.splits:
    text.caption(f"{dataset.name} has no {view.split} split; showing its {dataset.splits[0]} split.")
    view = replace(view, split=dataset.splits[0])
comparing.keep_for_data(view.dataset, view.split)
widgets.fit_warning(dataset, [p.model for p in view.panels])  # before the figures; stale panels

images, labels = dataset.split(view.split)
sample = None if view.sample is None or view.sample >= len(labels) else view.sample
if view.sample is not None and view.sample > len(labels):
    text.caption(
        f"The comparison asks for a sample of {view.sample:,}; the {view.split} split has "
        f"{len(labels):,} images, all of them are used."
    )
st.session_state.setdefault(comparing.DIMS, view.dims == 3)
three_d = st.toggle("3-D maps", key=comparing.DIMS, help=text.escape(comparing.THREE_D_HELP))
view = replace(view, dims=3 if three_d else 2)
results = [
    comparing.compute_panel(p, view.dataset, dataset, view.split, sample, view.reduction, view.dims)
    for p in view.panels
]
if any(r is None for r in results):
    st.stop()

# Follow one point; the selection shared by the panels.
if (st.session_state.get(comparing.FOLLOW) or 0) >= len(labels):
    text.warning(
        f"Point {st.session_state[comparing.FOLLOW]} is not among the {len(labels):,} images of "
        f"the {view.split} split (indices 0 to {len(labels) - 1:,}); no point is followed."
    )
    st.session_state[comparing.FOLLOW] = None
most_k = comparing.fit_neighbours(len(labels))
# One row that wraps on a narrow page, every label whole.
cols = st.container(horizontal=True, gap="small", vertical_alignment="bottom")
follow = cols.number_input(
    "Follow point index",
    0,
    len(labels) - 1,
    value=None,
    key=comparing.FOLLOW,
    placeholder="none",
    help="An index in the split (hover a point to see it).",
    width=170,
)
k = cols.number_input("Neighbours shown", 1, most_k, key=comparing.K, width=170)
cols.button("Clear selection", on_click=comparing.clear_selection)
alignment = cols.radio(
    "Align",
    list(comparing.ALIGNMENTS),
    format_func=comparing.ALIGNMENTS.get,
    key=comparing.ALIGN,
    horizontal=True,
    help="Turn and mirror each panel onto panel 1 on the points they share (no scaling: a layer of another "
    "spread is not shrunk), or show each map as its reducer made it. Every panel is zoomed to its own points.",
    width="content",
)
view = replace(view, follow=follow, k=int(k))
st.session_state[comparing.VIEW] = view
comparing.share(view, results, labels)
selected = comparing.linked_selection(len(results))

# Maps turned onto panel 1 (or as made), each on its own axes.
aligned, fits = comparing.aligned_maps(results, alignment)
ranges = align.own_ranges(aligned)  # each panel its own zoom: a map of another spread stays readable
found = {}
if follow is not None:
    for i, r in enumerate(results):
        found[i] = neighbours.nearest(r.outputs, [follow], k=int(k), among=r.embedding.indices)[0]

if three_d:
    text.caption(
        "3-D maps: drag a panel to turn it, hover a point for its index and follow it by that index above. Box and "
        "lasso selection are 2-D only; a selection made on the 2-D maps stays highlighted."
    )
per_row = len(results) if len(results) <= 3 else 2
rows = [st.columns(per_row) for _ in range(-(-len(results) // per_row))]
table = []
for i, (r, coords, fit) in enumerate(zip(results, aligned, fits)):
    col = rows[i // per_row][i % per_row]
    idx = r.embedding.indices
    title = comparing.panel_title(r.record, r.panel, r.layer_title)
    figure = plots.compare_panel(
        coords,
        idx,
        labels[idx],
        r.predicted[idx],
        dataset.class_names,
        title,
        REDUCER_TITLES[r.panel.reducer],
        x_range=ranges[i][0],
        y_range=ranges[i][1],
        selected=selected,
        followed=follow,
        neighbours=found.get(i),
    )
    comparing.remember_traces(i, figure)
    if three_d:  # a 3-D chart sends no selection (featlib.app.inspector): none asked for
        col.plotly_chart(figure, key=comparing.panel_key("map3d", i))
    else:
        col.plotly_chart(figure, key=comparing.panel_key("map", i), on_select="rerun", selection_mode=("box", "lasso"))
    if r.note:
        text.caption(f"{r.note}: the sample is small.", on=col)
    m = comparing.scores(r, labels)
    if m is None:
        continue
    aligned_note = comparing.alignment_note(i, fit, alignment)
    shown, unscored = comparing.figures_text(m)
    text.caption(
        text.md(
            "10-NN acc. layer **{knn_acc}** · map **{knn_acc_2d}** · linear probe **{probe_acc}** · silhouette "
            "**{silhouette}** · trustworthiness **{trustworthiness}** · on {sample:,} of the map's {n:,} points · "
            "{note}",
            **shown,
            sample=m["sample"],
            n=m["n"],
            note=aligned_note,
        ),
        on=col,
    )
    for reason in unscored:
        text.caption(reason, on=col)
    table.append(
        {
            "panel": i + 1,
            "map": title,
            "model": r.record.name,
            "layer": r.layer_title,
            "method": r.panel.method,
            "reducer": REDUCER_TITLES[r.panel.reducer],
            "model acc.": r.record.test_accuracy,
            "model acc. measured on": r.record.measured_on,
            **{title: comparing.number(m.get(key)) for key, title in comparing.FIGURES.items()},
            "points scored": m["sample"],
        }
    )
    if follow is not None:
        shown = np.concatenate([[follow], found[i]]).astype(int)
        col.image(
            plots.montage(images[shown], columns=len(shown), dark=theme.dark()),
            width="stretch",
            caption=text.escape(
                f"point {follow} ({dataset.class_names[labels[follow]]}) and its "
                f"{len(found[i])} nearest in {r.panel.layer}: "
                + ", ".join(dataset.class_names[labels[j]] for j in found[i])
            ),
        )

text.subheader("Metrics")
if table:
    comparing.metrics_table(table)
    text.caption(
        f"Scored on a label-stratified sample of at most {comparing.METRICS_SAMPLE:,} of each map's points: "
        "10-NN accuracy (5-fold) in the layer's own space and on the map, a standardised logistic regression "
        "(5-fold), the classes' silhouette in the layer, the map's trustworthiness (10 neighbours); a blank: not "
        "computed, the panel's caption says why."
    )
else:
    text.caption("No panel could be scored (see above).")
if follow is not None and len(results) > 1:
    shared = [neighbours.overlap(found[0][None], found[i][None]) for i in range(1, len(results))]
    text.caption(
        f"Point {follow}'s neighbours shared with panel 1: "
        + ", ".join(f"panel {i + 2}: {s:.0%}" for i, s in enumerate(shared))
    )
    if follow not in set(results[0].embedding.indices.tolist()):
        text.caption(f"Point {follow} is not in the sample, so it is not drawn; its neighbours among the sample are.")

neighbour_moves.show(results, dataset, view.split, sample)  # each image's neighbours, panel 1 against another

if len(selected):
    text.subheader(f"{len(selected):,} selected points, highlighted in every panel")
    st.button(f"Follow point {selected[0]} (the first selected)", on_click=comparing.follow, args=(int(selected[0]),))
    left, right = st.columns([3, 2])
    with left:
        shown = selected[widgets.page_of(len(selected), comparing.MONTAGE_MAX, comparing.SELECTED_PAGE)]
        st.image(plots.montage(images[shown], columns=15, dark=theme.dark()), width="stretch")
    right.plotly_chart(plots.label_counts(labels[selected], dataset.class_names), key="cmp_counts")
