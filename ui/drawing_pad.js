// The Draw page's canvas: a square that fills its column (at most SIZE CSS pixels) and is
// always drawn at SIZE x SIZE canvas pixels, whatever size it is shown at, so the preprocessing
// always receives the 280x280 image it expects. Mouse, pen and finger all arrive as pointer
// events; `touch-action: none` (in the CSS) keeps a finger drawing from scrolling the page.
// When a stroke ends the canvas is sent to Python as a PNG data URL.

const pads = new WeakMap();

function setUp(root, data, setStateValue) {
  const canvas = root.querySelector("canvas");
  const context = canvas.getContext("2d");
  canvas.width = canvas.height = data.size;
  context.fillStyle = data.background;
  context.fillRect(0, 0, data.size, data.size);
  context.strokeStyle = context.fillStyle = data.ink;
  context.lineWidth = data.stroke;
  context.lineCap = context.lineJoin = "round";

  let last = null;  // The previous point of the stroke being drawn, in canvas pixels.
  let strokes = 0;

  // Where a pointer is on the canvas in canvas pixels: the CSS size is the column's, the
  // drawing is SIZE x SIZE, so scale by the box actually on screen.
  const at = (event) => {
    const box = canvas.getBoundingClientRect();
    return [
      ((event.clientX - box.left) * data.size) / box.width,
      ((event.clientY - box.top) * data.size) / box.height,
    ];
  };
  const dot = ([x, y]) => {
    context.beginPath();
    context.arc(x, y, data.stroke / 2, 0, 2 * Math.PI);
    context.fill();
  };
  const line = (from, to) => {
    context.beginPath();
    context.moveTo(...from);
    context.lineTo(...to);
    context.stroke();
  };

  const down = (event) => {
    if (event.button !== 0 && event.pointerType === "mouse") return;
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    last = at(event);
    dot(last);
  };
  const move = (event) => {
    if (last === null) return;
    event.preventDefault();
    // Coalesced events: every point a fast finger or pen passed, not one per frame.
    const points = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const point of points.length ? points : [event]) {
      const next = at(point);
      line(last, next);
      last = next;
    }
  };
  const up = (event) => {
    if (last === null) return;
    move(event);
    last = null;
    strokes += 1;
    canvas.dataset.strokes = String(strokes);  // For tests: strokes drawn since the last clear.
    setStateValue("image", canvas.toDataURL("image/png"));
  };

  canvas.addEventListener("pointerdown", down);
  canvas.addEventListener("pointermove", move);
  canvas.addEventListener("pointerup", up);
  canvas.addEventListener("pointercancel", up);
  // The canvas is on the page before this module runs: a stroke before now would be lost.
  // Tests wait for this mark before drawing.
  canvas.dataset.ready = "true";
  return () => {
    canvas.removeEventListener("pointerdown", down);
    canvas.removeEventListener("pointermove", move);
    canvas.removeEventListener("pointerup", up);
    canvas.removeEventListener("pointercancel", up);
  };
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  const root = parentElement.querySelector(".drawing-pad");
  // Streamlit calls this on every rerun; the pad and its drawing are set up once per mount.
  if (!pads.has(root)) {
    pads.set(root, setUp(root, data, setStateValue));
  }
  return () => {
    const cleanup = pads.get(root);
    if (cleanup) cleanup();
    pads.delete(root);
  };
}
