// gfm serve: the page. Plain JavaScript, talks only to this server's /api.
//
// Each photo is uploaded once (POST /api/matte): the server runs the network and
// keeps a session. Brush strokes build a hint map of the image's size (0 unknown,
// 1 background, 2 foreground, 3 transition); at the end of each stroke it is sent
// as a PNG (gray 0 / 128 / 255, transparent = unknown) to
// POST /api/sessions/{id}/matte, which re-runs only the fusion and the
// foreground colours.
"use strict";

const HINT = { unknown: 0, background: 1, foreground: 2, transition: 3 };
const HINT_GRAY = { 1: 0, 2: 255, 3: 128 };
const HINT_COLOUR = { background: "#d32f2f", foreground: "#1f9d3a", transition: "#1e6ee8" };
// Overlay of the glance map: background tinted blue, transition yellow, foreground clear.
const TRIMAP_RGBA = { 0: [20, 40, 140, 120], 128: [255, 205, 0, 150], 255: [0, 0, 0, 0] };

const $ = (selector) => document.querySelector(selector);
const photos = [];
let selected = null;
let limits = null;
let uploading = false;

// ------------------------------------------------------------------ status

function setState(state, message) {
  document.body.dataset.state = state;
  if (message !== undefined) $("#status").textContent = message;
}

function describeTimings(response) {
  const header = response.headers.get("Server-Timing") || "";
  const parts = header.split(",").map((part) => {
    const [name, ...params] = part.trim().split(";");
    const duration = params.find((p) => p.startsWith("dur="));
    return duration ? `${name} ${Math.round(parseFloat(duration.slice(4)))} ms` : null;
  });
  return parts.filter(Boolean).join(", ");
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (typeof body.detail === "string") return body.detail;
    return JSON.stringify(body.detail);
  } catch (error) {
    return `${response.status} ${response.statusText}`;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// What the page shows is a preview no larger than the screen can show: the server then
// estimates the foreground colours at that size, so corrections of large photos stay
// quick. Downloads are always at full size.
function previewSide() {
  const stage = $("#stage");
  const side = Math.max(stage.clientWidth, stage.clientHeight) * (window.devicePixelRatio || 1);
  return Math.min(2048, Math.max(512, Math.ceil(side)));
}

// POST with the server's back-pressure honoured: a 503 says when to come back.
async function post(url, body, headers) {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(url, { method: "POST", body, headers });
    if (response.status !== 503 || attempt >= 20) return response;
    const wait = parseInt(response.headers.get("Retry-After") || "1", 10);
    setState("busy", `The server is busy; trying again in ${wait} s…`);
    await sleep(wait * 1000);
  }
}

// ------------------------------------------------------------------ model information

async function loadModelInfo() {
  try {
    const response = await fetch("/api/model");
    const info = await response.json();
    limits = info.limits;
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

// ------------------------------------------------------------------ photos

function addFiles(files) {
  for (const file of files) {
    if (!file.type.startsWith("image/") && file.type !== "") continue;
    const photo = {
      file, name: file.name, url: URL.createObjectURL(file), session: null, width: 0, height: 0,
      hints: null, hintCount: 0, urls: {}, blobs: {}, state: "waiting", message: "waiting", element: null,
      version: 0, painted: 0,
    };
    photos.push(photo);
    renderListItem(photo);
    if (!selected) select(photo);
  }
  processQueue();
}

function renderListItem(photo) {
  if (!photo.element) {
    photo.element = document.createElement("li");
    photo.element.innerHTML = '<img alt=""><div><div class="name"></div><div class="state"></div></div>';
    photo.element.querySelector("img").src = photo.url;
    photo.element.querySelector(".name").textContent = photo.name;
    photo.element.addEventListener("click", () => select(photo));
    $("#photos").appendChild(photo.element);
  }
  photo.element.classList.toggle("selected", photo === selected);
  photo.element.classList.toggle("error", photo.state === "error");
  photo.element.querySelector(".state").textContent = photo.message;
}

async function processQueue() {
  if (uploading) return;
  uploading = true;
  try {
    let photo;
    while ((photo = photos.find((p) => p.state === "waiting"))) {
      await upload(photo);
    }
  } finally {
    uploading = false;
  }
}

async function upload(photo) {
  if (limits && photo.file.size > limits.max_upload_bytes) {
    fail(photo, `${photo.name} is ${(photo.file.size / 1e6).toFixed(1)} MB; this server takes up to ${(limits.max_upload_bytes / 1e6).toFixed(0)} MB`);
    return;
  }
  photo.state = "working";
  photo.message = "matting…";
  renderListItem(photo);
  if (photo === selected) setState("busy", `Matting ${photo.name}…`);
  const form = new FormData();
  form.append("image", photo.file, photo.name);
  if (photo.hints && photo.hintCount) form.append("hint", await hintPng(photo), "hint.png");
  let response;
  try {
    response = await post(`/api/matte?output=cutout&max_side=${previewSide()}`, form);
  } catch (error) {
    fail(photo, `${photo.name}: the server did not answer (${error.message})`);
    return;
  }
  if (!response.ok) {
    fail(photo, `${photo.name}: ${await errorMessage(response)}`);
    return;
  }
  photo.session = response.headers.get("X-GFM-Session");
  const [width, height] = response.headers.get("X-GFM-Image-Size").split("x").map(Number);
  if (!photo.hints || photo.width !== width || photo.height !== height) {
    photo.width = width;
    photo.height = height;
    photo.hints = new Uint8Array(width * height);
    photo.hintCount = 0;
  }
  await storeOutput(photo, "cutout", await response.blob());
  photo.state = "ready";
  photo.message = `${width}×${height} · ${response.headers.get("X-GFM-Time-Ms")} ms`;
  renderListItem(photo);
  if (photo === selected) {
    showPhoto(photo);
    setState("ready", `${photo.name}: matted in ${response.headers.get("X-GFM-Time-Ms")} ms (${describeTimings(response)})`);
  }
}

function fail(photo, message) {
  photo.state = "error";
  photo.message = message;
  renderListItem(photo);
  if (photo === selected) setState("error", message);
}

async function storeOutput(photo, output, blob) {
  if (photo.urls[output]) URL.revokeObjectURL(photo.urls[output]);
  photo.blobs[output] = blob;
  photo.urls[output] = URL.createObjectURL(blob);
}

function forgetOutputs(photo, except) {
  for (const output of Object.keys(photo.urls)) {
    if (output === except) continue;
    URL.revokeObjectURL(photo.urls[output]);
    delete photo.urls[output];
    delete photo.blobs[output];
  }
}

function select(photo) {
  selected = photo;
  photos.forEach(renderListItem);
  showPhoto(photo);
  if (photo.state === "error") setState("error", photo.message);
  else if (photo.state !== "ready") setState("busy", `Matting ${photo.name}…`);
  else setState("ready", `${photo.name}: ${photo.width}×${photo.height}`);
}

// ------------------------------------------------------------------ display

function currentView() {
  return document.querySelector('input[name="view"]:checked').value;
}

async function showPhoto(photo) {
  const wrap = $("#canvas-wrap");
  $("#placeholder").hidden = true;
  wrap.hidden = false;
  const view = currentView();
  const img = $("#view");
  let source = photo.url;
  if (photo.state === "ready" && view !== "original") {
    if (!photo.urls[view]) await fetchOutput(photo, view);
    if (photo !== selected || currentView() !== view) return;  // the user moved on meanwhile
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

function fitStage(photo) {
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
  else if (backdrop === "image" && backdropImageUrl) {
    wrap.classList.add("cover");
    wrap.style.backgroundImage = `url("${backdropImageUrl}")`;
  } else wrap.classList.add("checker");
}

let backdropImageUrl = null;

// ------------------------------------------------------------------ server outputs

function hintPng(photo) {
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

// Ask the session for an output with the current hints; re-upload if the server forgot it.
async function requestOutput(photo, output, extra) {
  const params = new URLSearchParams({ output, ...(extra && extra.params) });
  const hint = photo.hintCount ? await hintPng(photo) : null;
  let body = hint;
  let headers = hint ? { "Content-Type": "image/png" } : undefined;
  if (extra && extra.background) {
    body = new FormData();
    if (hint) body.append("hint", hint, "hint.png");
    body.append("background", extra.background, extra.background.name || "background");
    headers = undefined;
  }
  let response = await post(`/api/sessions/${photo.session}/matte?${params}`, body, headers);
  if (response.status === 404) {
    // The server dropped the session (memory bound or restart): upload the photo again.
    photo.state = "waiting";
    await upload(photo);
    if (photo.state !== "ready") return null;
    response = await post(`/api/sessions/${photo.session}/matte?${params}`, body, headers);
  }
  if (!response.ok) {
    setState("error", `${photo.name}: ${await errorMessage(response)}`);
    return null;
  }
  return response;
}

async function fetchOutput(photo, output) {
  const response = await requestOutput(photo, output, { params: { max_side: previewSide() } });
  if (response) await storeOutput(photo, output, await response.blob());
  return response;
}

let correcting = false;
let correctionPending = false;

async function correct(photo) {
  if (correcting) {
    correctionPending = true;  // one request at a time; the latest strokes go next
    return;
  }
  correcting = true;
  try {
    do {
      correctionPending = false;
      setState("busy", `Correcting ${photo.name}…`);
      const started = performance.now();
      const view = currentView() === "original" ? "cutout" : currentView();
      const response = await requestOutput(photo, view, { params: { max_side: previewSide() } });
      if (!response) return;
      forgetOutputs(photo, null);
      await storeOutput(photo, view, await response.blob());
      photo.version += 1;
      const elapsed = Math.round(performance.now() - started);
      if (photo === selected) {
        await showPhoto(photo);
        setState("ready", `${photo.name}: corrected in ${elapsed} ms in the browser (server: ${describeTimings(response)})`);
      }
    } while (correctionPending);
  } finally {
    correcting = false;
  }
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

// ------------------------------------------------------------------ painting hints

function drawHints(photo) {
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

let stroke = null;

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
  const photo = selected;
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

function setUpPainting() {
  const canvas = $("#hint-layer");
  canvas.addEventListener("pointerdown", (event) => {
    if (!selected || selected.state !== "ready" || event.button !== 0) return;
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
    recount(selected);
    selected.painted += 1;
    correct(selected);
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  $("#clear-hints").addEventListener("click", () => {
    if (!selected || !selected.hints) return;
    selected.hints.fill(HINT.unknown);
    selected.hintCount = 0;
    drawHints(selected);
    if (selected.state === "ready") correct(selected);
  });
}

// ------------------------------------------------------------------ downloads

function baseName(photo) {
  return photo.name.replace(/\.[^.]+$/, "");
}

async function download(output) {
  const photo = selected;
  if (!photo || photo.state !== "ready") {
    setState("error", "Nothing to download yet: choose a photo and wait for its matte.");
    return;
  }
  const extra = { params: {} };
  if (output === "composite") {
    const backdrop = document.querySelector('input[name="backdrop"]:checked').value;
    const file = $("#backdrop-file").files[0];
    if (backdrop === "colour") extra.params.background = $("#backdrop-colour").value;
    else if (backdrop === "image" && file) extra.background = file;
  }
  setState("busy", `Preparing ${baseName(photo)}_${output}.png…`);
  const response = await requestOutput(photo, output, extra);
  if (!response) return;
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = `${baseName(photo)}_${output}.png`;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  setState("ready", `Downloaded ${link.download}`);
}

// ------------------------------------------------------------------ wiring

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
    input.addEventListener("change", () => selected && showPhoto(selected)));
  $("#backdrop-file").addEventListener("change", (event) => {
    if (backdropImageUrl) URL.revokeObjectURL(backdropImageUrl);
    const file = event.target.files[0];
    backdropImageUrl = file ? URL.createObjectURL(file) : null;
    document.querySelector('input[name="backdrop"][value="image"]').checked = Boolean(file);
    if (selected) showPhoto(selected);
  });
  $("#download-alpha").addEventListener("click", () => download("alpha"));
  $("#download-cutout").addEventListener("click", () => download("cutout"));
  $("#download-composite").addEventListener("click", () => download("composite"));
  window.addEventListener("resize", () => selected && fitStage(selected));
  setUpPainting();
  loadModelInfo();
}

setUp();
