// Concern: the photos. Adding them, the list in the sidebar, uploading them one at a time
// (POST /api/matte, which keeps a session on the server), and choosing the one shown.

import { describeTimings, errorMessage, post, previewSide } from "./api.js";
import { hintPng } from "./hints.js";
import { storeOutput } from "./outputs.js";
import { $, setState, state } from "./state.js";
import { showPhoto } from "./view.js";

export function addFiles(files) {
  for (const file of files) {
    if (!file.type.startsWith("image/") && file.type !== "") continue;
    const photo = {
      file, name: file.name, url: URL.createObjectURL(file), session: null, width: 0, height: 0,
      hints: null, hintCount: 0, urls: {}, blobs: {}, state: "waiting", message: "waiting", element: null,
      version: 0, painted: 0,
    };
    state.photos.push(photo);
    renderListItem(photo);
    if (!state.selected) select(photo);
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
  photo.element.classList.toggle("selected", photo === state.selected);
  photo.element.classList.toggle("error", photo.state === "error");
  photo.element.querySelector(".state").textContent = photo.message;
}

async function processQueue() {
  if (state.uploading) return;
  state.uploading = true;
  try {
    let photo;
    while ((photo = state.photos.find((p) => p.state === "waiting"))) {
      await upload(photo);
    }
  } finally {
    state.uploading = false;
  }
}

export async function upload(photo) {
  const limits = state.limits;
  if (limits && photo.file.size > limits.max_upload_bytes) {
    fail(photo, `${photo.name} is ${(photo.file.size / 1e6).toFixed(1)} MB; this server takes up to ${(limits.max_upload_bytes / 1e6).toFixed(0)} MB`);
    return;
  }
  photo.state = "working";
  photo.message = "matting…";
  renderListItem(photo);
  if (photo === state.selected) setState("busy", `Matting ${photo.name}…`);
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
  if (photo === state.selected) {
    showPhoto(photo);
    setState("ready", `${photo.name}: matted in ${response.headers.get("X-GFM-Time-Ms")} ms (${describeTimings(response)})`);
  }
}

function fail(photo, message) {
  photo.state = "error";
  photo.message = message;
  renderListItem(photo);
  if (photo === state.selected) setState("error", message);
}

function select(photo) {
  state.selected = photo;
  state.photos.forEach(renderListItem);
  showPhoto(photo);
  if (photo.state === "error") setState("error", photo.message);
  else if (photo.state !== "ready") setState("busy", `Matting ${photo.name}…`);
  else setState("ready", `${photo.name}: ${photo.width}×${photo.height}`);
}
