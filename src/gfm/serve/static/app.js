// Concern: starting the page of gfm serve: wiring the controls to the modules that do the
// work, and the model line at the top. Plain JavaScript modules, talking only to this server's /api:
//
//   state.js      what the modules share (the mutable state, $, setState)
//   api.js        talking to the server: POST with back-pressure, error messages, timings
//   photos.js     adding, listing and uploading photos, choosing the one shown
//   view.js       the display: the chosen view, backdrop and glance trimap overlay
//   outputs.js    the session's outputs and corrections
//   hints.js      painting hints with the brush
//   downloads.js  the PNG downloads
//
// Each photo is uploaded once (POST /api/matte): the server runs the network and
// keeps a session. Brush strokes build a hint map of the image's size (0 unknown,
// 1 background, 2 foreground, 3 transition); at the end of each stroke it is sent
// as a PNG (gray 0 / 128 / 255, transparent = unknown) to
// POST /api/sessions/{id}/matte, which re-runs only the fusion and the
// foreground colours.

import { download } from "./downloads.js";
import { setUpPainting } from "./hints.js";
import { addFiles } from "./photos.js";
import { $, state } from "./state.js";
import { fitStage, showPhoto } from "./view.js";

async function loadModelInfo() {
  try {
    const response = await fetch("/api/model");
    const info = await response.json();
    state.limits = info.limits;
    $("#model-info").textContent = `${info.summary} · ${info.strategy} · ${info.device}`;
    if (info.guide_tip) {  // no guide: say once, on the page, how to get the better cutouts
      const tip = document.createElement("span");
      tip.id = "guide-tip";
      tip.textContent = ` · ${info.guide_tip}`;
      $("#model-info").append(tip);
    }
  } catch (error) {
    $("#model-info").textContent = "model information unavailable";
  }
}

function setUp() {
  $("#files").addEventListener("change", (event) => {
    addFiles(event.target.files);
    event.target.value = "";
  });
  window.addEventListener("dragover", (event) => {
    event.preventDefault();
    document.body.classList.add("dragging");
  });
  window.addEventListener("dragleave", () => document.body.classList.remove("dragging"));
  window.addEventListener("drop", (event) => {
    event.preventDefault();
    document.body.classList.remove("dragging");
    addFiles(event.dataTransfer.files);
  });
  document.querySelectorAll('input[name="view"], input[name="backdrop"], #backdrop-colour, #trimap-toggle').forEach((input) =>
    input.addEventListener("change", () => state.selected && showPhoto(state.selected)));
  $("#backdrop-file").addEventListener("change", (event) => {
    if (state.backdropImageUrl) URL.revokeObjectURL(state.backdropImageUrl);
    const file = event.target.files[0];
    state.backdropImageUrl = file ? URL.createObjectURL(file) : null;
    document.querySelector('input[name="backdrop"][value="image"]').checked = Boolean(file);
    if (state.selected) showPhoto(state.selected);
  });
  $("#download-alpha").addEventListener("click", () => download("alpha"));
  $("#download-cutout").addEventListener("click", () => download("cutout"));
  $("#download-composite").addEventListener("click", () => download("composite"));
  window.addEventListener("resize", () => state.selected && fitStage(state.selected));
  setUpPainting();
  loadModelInfo();
}

setUp();
