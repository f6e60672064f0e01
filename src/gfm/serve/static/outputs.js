// Concern: the server's outputs of a session. Asking for one with the current hints
// (POST /api/sessions/{id}/matte, re-uploading when the server forgot the session), keeping
// them as blob URLs, and corrections after a stroke, one request at a time.

import { describeTimings, errorMessage, post, previewSide } from "./api.js";
import { hintPng } from "./hints.js";
import { upload } from "./photos.js";
import { setState, state } from "./state.js";
import { currentView, showPhoto } from "./view.js";

export async function storeOutput(photo, output, blob) {
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

// Ask the session for an output with the current hints; re-upload if the server forgot it.
export async function requestOutput(photo, output, extra) {
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

export async function fetchOutput(photo, output) {
  const response = await requestOutput(photo, output, { params: { max_side: previewSide() } });
  if (response) await storeOutput(photo, output, await response.blob());
  return response;
}

export async function correct(photo) {
  if (state.correcting) {
    state.correctionPending = true;  // one request at a time; the latest strokes go next
    return;
  }
  state.correcting = true;
  try {
    do {
      state.correctionPending = false;
      setState("busy", `Correcting ${photo.name}…`);
      const started = performance.now();
      const view = currentView() === "original" ? "cutout" : currentView();
      const response = await requestOutput(photo, view, { params: { max_side: previewSide() } });
      if (!response) return;
      forgetOutputs(photo, null);
      await storeOutput(photo, view, await response.blob());
      photo.version += 1;
      const elapsed = Math.round(performance.now() - started);
      if (photo === state.selected) {
        await showPhoto(photo);
        setState("ready", `${photo.name}: corrected in ${elapsed} ms in the browser (server: ${describeTimings(response)})`);
      }
    } while (state.correctionPending);
  } finally {
    state.correcting = false;
  }
}
