// featlib's live map in a notebook (featlib/notebook/widget.py, MapWidget): the points on a <canvas>, a point's
// image on hover, colour by label / prediction / correctness / confidence, and box or lasso selection sent back
// to Python as `selected` (dataset indices). No network: everything it draws comes from the widget's model.
// Names and labels are set with textContent, never as HTML.

const HOVER_PX = 10; // a point under the pointer: the nearest within this many CSS pixels
const CLICK_PX = 4; // a drag shorter than this is a click, not a selection
const FADED = 0.25; // the other points' opacity while some are selected

function floats(view) {
  if (!view) return new Float32Array(0);
  const buffer = view.buffer ? view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength) : view;
  return new Float32Array(buffer);
}

function bytes(view) {
  if (!view) return new Uint8Array(0);
  return view.buffer ? new Uint8Array(view.buffer, view.byteOffset, view.byteLength) : new Uint8Array(view);
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function hexRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function scaleColour(stops, value) {
  if (!(value >= 0)) return "#999999"; // unknown confidence
  const t = Math.min(1, value) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(t));
  const a = hexRgb(stops[i]), b = hexRgb(stops[i + 1]), f = t - i;
  return `rgb(${a.map((c, k) => Math.round(c + (b[k] - c) * f)).join(",")})`;
}

function insidePolygon(x, y, polygon) {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i], [xj, yj] = polygon[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function render({ model, el }) {
  const layout = model.get("layout");
  const W = layout.width, H = layout.height, M = layout.margin;
  const coords = floats(model.get("points"));
  const n = coords.length / 2;
  const indices = model.get("indices"), labels = model.get("labels"), predicted = model.get("predicted");
  const confidence = model.get("confidence"), names = model.get("class_names"), palette = model.get("palette");
  const pixels = bytes(model.get("images"));
  const [ih, iw] = model.get("image_shape");

  // Where each point is drawn (CSS pixels): each axis scaled on its own, y up (widget.py's LAYOUT).
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    minX = Math.min(minX, coords[2 * i]); maxX = Math.max(maxX, coords[2 * i]);
    minY = Math.min(minY, coords[2 * i + 1]); maxY = Math.max(maxY, coords[2 * i + 1]);
  }
  const spanX = maxX - minX || 1, spanY = maxY - minY || 1;
  const px = new Float32Array(n), py = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    px[i] = M + ((coords[2 * i] - minX) / spanX) * (W - 2 * M);
    py[i] = H - M - ((coords[2 * i + 1] - minY) / spanY) * (H - 2 * M);
  }

  // The widget: title, toolbar, the map beside a side panel (hover card, legend, figures).
  el.classList.add("featlib-map");
  const root = element("div", "featlib-map-root");
  root.append(element("div", "featlib-map-title", model.get("title")));
  const toolbar = element("div", "featlib-map-toolbar");
  const colourLabel = element("label", "featlib-map-colour", "Colour by ");
  const colourMenu = element("select");
  for (const [value, title] of Object.entries(model.get("colourings"))) {
    const option = element("option", "", title);
    option.value = value;
    colourMenu.append(option);
  }
  colourLabel.append(colourMenu);
  const tools = {};
  for (const [name, title] of [["box", "Box select"], ["lasso", "Lasso select"]]) {
    tools[name] = element("button", "featlib-map-tool", title);
    tools[name].type = "button";
    tools[name].addEventListener("click", () => setTool(name));
  }
  const clear = element("button", "featlib-map-tool", "Clear selection");
  clear.type = "button";
  const count = element("span", "featlib-map-count");
  toolbar.append(colourLabel, tools.box, tools.lasso, clear, count);
  const hint = element(
    "div",
    "featlib-map-hint",
    `${model.get("reducer")} map · hover a point for its image · drag a box or a lasso to select; the selection is widget.selected in Python`,
  );

  const body = element("div", "featlib-map-body");
  const stage = element("div", "featlib-map-stage");
  stage.style.width = `${W}px`;
  stage.style.height = `${H}px`;
  const dpr = window.devicePixelRatio || 1;
  const layers = [0, 1].map(() => {
    const canvas = element("canvas");
    canvas.width = W * dpr;
    canvas.height = H * dpr;
    canvas.style.width = `${W}px`;
    canvas.style.height = `${H}px`;
    const context = canvas.getContext("2d");
    context.scale(dpr, dpr);
    stage.append(canvas);
    return { canvas, context };
  });
  const [base, overlay] = layers;
  overlay.canvas.className = "featlib-map-overlay";
  overlay.canvas.setAttribute("aria-label", `${model.get("reducer")} map of ${n} points: drag to select`);

  const side = element("div", "featlib-map-side");
  const card = element("div", "featlib-map-card");
  const thumb = element("canvas", "featlib-map-thumb");
  thumb.width = Math.max(iw, 1);
  thumb.height = Math.max(ih, 1);
  const cardText = element("div", "featlib-map-card-text", "Hover over a point to see its image.");
  card.append(thumb, cardText);
  const legend = element("div", "featlib-map-legend");
  const table = element("table", "featlib-map-figures");
  for (const [name, value, help] of model.get("figures")) {
    const row = element("tr");
    row.append(element("th", "", name), element("td", "", value));
    if (help) row.title = help;
    table.append(row);
  }
  side.append(card, legend, element("div", "featlib-map-figures-title", "Figures (as on the Explore page)"), table);
  body.append(stage, side);
  root.append(toolbar, body, hint);
  el.replaceChildren(root);

  // Colours and drawing ---------------------------------------------------------------------------------------
  function colourOf(i, mode) {
    if (mode === "predicted") return palette.classes[predicted[i] % palette.classes.length];
    if (mode === "correct") return predicted[i] === labels[i] ? palette.correct : palette.wrong;
    if (mode === "confidence") return scaleColour(palette.confidence, confidence[i]);
    return palette.classes[labels[i] % palette.classes.length];
  }

  function drawLegend(mode) {
    const items = [];
    if (mode === "label" || mode === "predicted") {
      names.forEach((name, k) => items.push([palette.classes[k % palette.classes.length], name]));
    } else if (mode === "correct") {
      items.push([palette.correct, "correct"], [palette.wrong, "misclassified"]);
    }
    legend.replaceChildren();
    if (mode === "confidence") {
      const bar = element("div", "featlib-map-scale");
      bar.style.background = `linear-gradient(to right, ${palette.confidence.join(", ")})`;
      legend.append(element("span", "", "confidence 0"), bar, element("span", "", "1"));
      return;
    }
    for (const [colour, name] of items) {
      const item = element("span", "featlib-map-legend-item");
      const swatch = element("span", "featlib-map-swatch");
      swatch.style.background = colour;
      item.append(swatch, document.createTextNode(name));
      legend.append(item);
    }
  }

  function draw() {
    const mode = model.get("color_by");
    const chosen = new Set(model.get("selected"));
    const ctx = base.context;
    const radius = n > 5000 ? 1.8 : n > 1000 ? 2.6 : 3.5;
    ctx.clearRect(0, 0, W, H);
    const order = [];
    for (let i = 0; i < n; i++) order.push(i);
    if (mode === "correct") order.sort((a, b) => (predicted[a] !== labels[a]) - (predicted[b] !== labels[b]));
    for (const pass of chosen.size ? [false, true] : [null]) {
      for (const i of order) {
        if (pass !== null && chosen.has(indices[i]) !== pass) continue;
        ctx.globalAlpha = pass === false ? FADED : 0.9;
        ctx.fillStyle = colourOf(i, mode);
        ctx.beginPath();
        ctx.arc(px[i], py[i], radius, 0, 2 * Math.PI);
        ctx.fill();
        if (pass === true) {
          ctx.strokeStyle = "rgba(40, 40, 40, 0.55)";
          ctx.lineWidth = 0.8;
          ctx.stroke();
        }
      }
    }
    ctx.globalAlpha = 1;
    colourMenu.value = mode;
    count.textContent = chosen.size ? `${chosen.size} of ${n} points selected` : `${n} points`;
    clear.disabled = !chosen.size;
    drawLegend(mode);
  }

  // Hover: the nearest point's image and what the model made of it ------------------------------------------
  function nearest(x, y) {
    let best = -1, bestDistance = HOVER_PX * HOVER_PX;
    for (let i = 0; i < n; i++) {
      const d = (px[i] - x) ** 2 + (py[i] - y) ** 2;
      if (d <= bestDistance) { best = i; bestDistance = d; }
    }
    return best;
  }

  let hovered = -1;
  function showPoint(i) {
    if (i < 0) return;
    hovered = i;
    drawPath();
    if (iw && ih && pixels.length >= (i + 1) * iw * ih) {
      const image = thumb.getContext("2d").createImageData(iw, ih);
      for (let k = 0; k < iw * ih; k++) {
        const ink = 255 - pixels[i * iw * ih + k];
        image.data.set([ink, ink, ink, 255], 4 * k);
      }
      thumb.getContext("2d").putImageData(image, 0, 0);
    }
    const conf = confidence[i] >= 0 ? ` · confidence ${confidence[i].toFixed(2)}` : "";
    cardText.textContent = `#${indices[i]} · true ${names[labels[i]] ?? labels[i]} · predicted ${names[predicted[i]] ?? predicted[i]}${conf}`;
    card.classList.toggle("featlib-map-wrong", predicted[i] !== labels[i]);
  }

  // Selection: a box or a lasso dragged on the map --------------------------------------------------------------
  let tool = "box", path = null;
  function setTool(name) {
    tool = name;
    for (const [key, button] of Object.entries(tools)) button.classList.toggle("featlib-map-active", key === name);
  }
  setTool("box");

  function local(event) {
    const box = overlay.canvas.getBoundingClientRect();
    return [event.clientX - box.left, event.clientY - box.top];
  }

  function drawPath() {
    const ctx = overlay.context;
    ctx.clearRect(0, 0, W, H);
    if (hovered >= 0) { // the point whose image the card shows
      ctx.strokeStyle = "#222";
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.arc(px[hovered], py[hovered], 7, 0, 2 * Math.PI);
      ctx.stroke();
    }
    if (!path || path.length < 2) return;
    ctx.strokeStyle = "#333";
    ctx.fillStyle = "rgba(100, 100, 100, 0.12)";
    ctx.setLineDash([4, 3]);
    ctx.lineWidth = 1;
    ctx.beginPath();
    if (tool === "box") {
      const [a, b] = [path[0], path[path.length - 1]];
      ctx.rect(Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.abs(b[0] - a[0]), Math.abs(b[1] - a[1]));
    } else {
      path.forEach(([x, y], k) => (k ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.closePath();
    }
    ctx.fill();
    ctx.stroke();
    ctx.setLineDash([]);
  }

  function inside() {
    const chosen = [];
    if (tool === "box") {
      const [a, b] = [path[0], path[path.length - 1]];
      const [x0, x1, y0, y1] = [Math.min(a[0], b[0]), Math.max(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[1], b[1])];
      for (let i = 0; i < n; i++) if (px[i] >= x0 && px[i] <= x1 && py[i] >= y0 && py[i] <= y1) chosen.push(indices[i]);
    } else {
      for (let i = 0; i < n; i++) if (insidePolygon(px[i], py[i], path)) chosen.push(indices[i]);
    }
    return chosen.sort((a, b) => a - b);
  }

  function select(chosen) {
    model.set("selected", chosen);
    model.save_changes();
    draw();
  }

  overlay.canvas.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    overlay.canvas.setPointerCapture(event.pointerId);
    path = [local(event)];
  });
  overlay.canvas.addEventListener("pointermove", (event) => {
    const [x, y] = local(event);
    if (path) {
      path.push([x, y]);
      drawPath();
    } else {
      showPoint(nearest(x, y));
    }
  });
  const finish = (event) => {
    if (!path) return;
    path.push(local(event));
    const [a, b] = [path[0], path[path.length - 1]];
    const dragged = path.some(([x, y]) => Math.hypot(x - a[0], y - a[1]) >= CLICK_PX) || Math.hypot(b[0] - a[0], b[1] - a[1]) >= CLICK_PX;
    if (dragged) select(inside());
    else showPoint(nearest(...a));
    path = null;
    drawPath();
  };
  overlay.canvas.addEventListener("pointerup", finish);
  overlay.canvas.addEventListener("pointercancel", () => { path = null; drawPath(); });
  clear.addEventListener("click", () => select([]));
  colourMenu.addEventListener("change", () => {
    model.set("color_by", colourMenu.value);
    model.save_changes();
  });

  model.on("change:color_by", draw);
  model.on("change:selected", draw);
  draw();
  if (n) showPoint(0); // the card shows what hovering shows
  return () => {
    model.off("change:color_by", draw);
    model.off("change:selected", draw);
  };
}

export default { render };
