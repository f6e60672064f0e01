// Concern: painting hints. Brush strokes build a hint map of the image's size (0 unknown,
// 1 background, 2 foreground, 3 transition), drawn on the overlay canvas; at the end of each
// stroke the photo is corrected. hintPng encodes the map for the server.

import { correct } from "./outputs.js";
import { $, state } from "./state.js";

const HINT = { unknown: 0, background: 1, foreground: 2, transition: 3 };
const HINT_GRAY = { 1: 0, 2: 255, 3: 128 };
const HINT_COLOUR = { background: "#d32f2f", foreground: "#1f9d3a", transition: "#1e6ee8" };

// The hint map as a PNG: gray 0 / 128 / 255, transparent = unknown.
export function hintPng(photo) {
  const canvas = document.createElement("canvas");
  canvas.width = photo.width;
  canvas.height = photo.height;
  const context = canvas.getContext("2d");
  const data = context.createImageData(photo.width, photo.height);
  const pixels = data.data;
  const hints = photo.hints;
  for (let i = 0; i < hints.length; i++) {
    const code = hints[i];
    if (code === HINT.unknown) continue;  // transparent black
    const gray = HINT_GRAY[code];
    const j = 4 * i;
    pixels[j] = pixels[j + 1] = pixels[j + 2] = gray;
    pixels[j + 3] = 255;
  }
  context.putImageData(data, 0, 0);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
}

export function drawHints(photo) {
  const canvas = $("#hint-layer");
  if (canvas.width !== photo.width || canvas.height !== photo.height) {
    canvas.width = photo.width || 1;
    canvas.height = photo.height || 1;
  }
  const context = canvas.getContext("2d");
  context.clearRect(0, 0, canvas.width, canvas.height);
  if (!photo.hints || !photo.hintCount) return;
  const data = context.createImageData(canvas.width, canvas.height);
  const colours = { 1: [211, 47, 47], 2: [31, 157, 58], 3: [30, 110, 232] };
  for (let i = 0; i < photo.hints.length; i++) {
    const rgb = colours[photo.hints[i]];
    if (!rgb) continue;
    const j = 4 * i;
    data.data[j] = rgb[0];
    data.data[j + 1] = rgb[1];
    data.data[j + 2] = rgb[2];
    data.data[j + 3] = 255;
  }
  context.putImageData(data, 0, 0);
}

function brush() {
  return document.querySelector('input[name="brush"]:checked').value;
}

// Stamp a disc into the exact hint map and onto the overlay canvas.
function stamp(photo, x, y, radius, kind) {
  const code = kind === "eraser" ? HINT.unknown : HINT[kind];
  const { width, height, hints } = photo;
  const r2 = radius * radius;
  const y0 = Math.max(0, Math.floor(y - radius)), y1 = Math.min(height - 1, Math.ceil(y + radius));
  const x0 = Math.max(0, Math.floor(x - radius)), x1 = Math.min(width - 1, Math.ceil(x + radius));
  for (let py = y0; py <= y1; py++) {
    const dy = py + 0.5 - y;
    for (let px = x0; px <= x1; px++) {
      const dx = px + 0.5 - x;
      if (dx * dx + dy * dy > r2) continue;
      hints[py * width + px] = code;
    }
  }
  const context = $("#hint-layer").getContext("2d");
  context.save();
  context.globalCompositeOperation = kind === "eraser" ? "destination-out" : "source-over";
  context.fillStyle = kind === "eraser" ? "#000" : HINT_COLOUR[kind];
  context.beginPath();
  context.arc(x, y, radius, 0, 2 * Math.PI);
  context.fill();
  context.restore();
}

function recount(photo) {
  let count = 0;
  for (let i = 0; i < photo.hints.length; i++) count += photo.hints[i] !== HINT.unknown;
  photo.hintCount = count;
}

let stroke = null;  // the stroke being painted: { kind, last point }

function imagePoint(event) {
  const canvas = $("#hint-layer");
  const rect = canvas.getBoundingClientRect();
  return {
    x: ((event.clientX - rect.left) * canvas.width) / rect.width,
    y: ((event.clientY - rect.top) * canvas.height) / rect.height,
    scale: canvas.width / rect.width,
  };
}

function paintTo(event) {
  const photo = state.selected;
  const point = imagePoint(event);
  const radius = (parseInt($("#brush-size").value, 10) / 2) * point.scale;
  const last = stroke.last || point;
  const distance = Math.hypot(point.x - last.x, point.y - last.y);
  const steps = Math.max(1, Math.ceil(distance / Math.max(1, radius / 3)));
  for (let s = 1; s <= steps; s++) {
    const t = s / steps;
    stamp(photo, last.x + (point.x - last.x) * t, last.y + (point.y - last.y) * t, radius, stroke.kind);
  }
  stroke.last = point;
}

export function setUpPainting() {
  const canvas = $("#hint-layer");
  canvas.addEventListener("pointerdown", (event) => {
    if (!state.selected || state.selected.state !== "ready" || event.button !== 0) return;
    canvas.setPointerCapture(event.pointerId);
    stroke = { kind: brush(), last: null };
    paintTo(event);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (stroke) paintTo(event);
  });
  const finish = () => {
    if (!stroke) return;
    stroke = null;
    recount(state.selected);
    state.selected.painted += 1;
    correct(state.selected);
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  $("#clear-hints").addEventListener("click", () => {
    const selected = state.selected;
    if (!selected || !selected.hints) return;
    selected.hints.fill(HINT.unknown);
    selected.hintCount = 0;
    drawHints(selected);
    if (selected.state === "ready") correct(selected);
  });
}
