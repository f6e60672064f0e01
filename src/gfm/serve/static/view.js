// Concern: the display. The selected photo in the chosen view (original, alpha, cutout),
// the stage fitted to it, the backdrop behind the cutout and the glance trimap overlay.

import { drawHints } from "./hints.js";
import { fetchOutput } from "./outputs.js";
import { $, state } from "./state.js";

// Overlay of the glance map: background tinted blue, transition yellow, foreground clear.
const TRIMAP_RGBA = { 0: [20, 40, 140, 120], 128: [255, 205, 0, 150], 255: [0, 0, 0, 0] };

export function currentView() {
  return document.querySelector('input[name="view"]:checked').value;
}

export async function showPhoto(photo) {
  const wrap = $("#canvas-wrap");
  $("#placeholder").hidden = true;
  wrap.hidden = false;
  const view = currentView();
  const img = $("#view");
  let source = photo.url;
  if (photo.state === "ready" && view !== "original") {
    if (!photo.urls[view]) await fetchOutput(photo, view);
    if (photo !== state.selected || currentView() !== view) return;  // the user moved on meanwhile
    source = photo.urls[view] || photo.url;
  }
  applyBackdrop(view);
  if (img.getAttribute("src") !== source) {
    await new Promise((resolve) => {
      img.onload = resolve;
      img.onerror = resolve;
      img.src = source;
    });
  }
  fitStage(photo);
  drawHints(photo);
  await drawTrimap(photo);
  img.dataset.output = source === photo.url ? "original" : view;
  img.dataset.version = String(photo.version);
}

export function fitStage(photo) {
  const wrap = $("#canvas-wrap");
  const stage = $("#stage");
  const img = $("#view");
  const width = photo.width || img.naturalWidth || 1;
  const height = photo.height || img.naturalHeight || 1;
  const scale = Math.min((stage.clientWidth - 24) / width, (stage.clientHeight - 24) / height, 1);
  wrap.style.width = `${Math.max(1, Math.floor(width * scale))}px`;
  wrap.style.height = `${Math.max(1, Math.floor(height * scale))}px`;
}

function applyBackdrop(view) {
  const wrap = $("#canvas-wrap");
  const backdrop = document.querySelector('input[name="backdrop"]:checked').value;
  wrap.classList.remove("checker", "cover");
  wrap.style.backgroundColor = "";
  wrap.style.backgroundImage = "";
  if (view !== "cutout") return;
  if (backdrop === "checker") wrap.classList.add("checker");
  else if (backdrop === "colour") wrap.style.backgroundColor = $("#backdrop-colour").value;
  else if (backdrop === "image" && state.backdropImageUrl) {
    wrap.classList.add("cover");
    wrap.style.backgroundImage = `url("${state.backdropImageUrl}")`;
  } else wrap.classList.add("checker");
}

async function drawTrimap(photo) {
  const canvas = $("#trimap-layer");
  const show = $("#trimap-toggle").checked && photo.state === "ready";
  canvas.hidden = !show;
  if (!show) return;
  if (!photo.urls.trimap) await fetchOutput(photo, "trimap");
  if (!photo.urls.trimap) return;
  const bitmap = await createImageBitmap(photo.blobs.trimap);
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const context = canvas.getContext("2d");
  context.drawImage(bitmap, 0, 0);
  const data = context.getImageData(0, 0, canvas.width, canvas.height);
  const pixels = data.data;
  for (let j = 0; j < pixels.length; j += 4) {
    const rgba = TRIMAP_RGBA[pixels[j]] || TRIMAP_RGBA[128];
    pixels[j] = rgba[0];
    pixels[j + 1] = rgba[1];
    pixels[j + 2] = rgba[2];
    pixels[j + 3] = rgba[3];
  }
  context.putImageData(data, 0, 0);
}
