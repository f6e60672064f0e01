// Concern: talking to the server. POST with its back-pressure honoured (a 503 says when to
// come back), its error messages and Server-Timing made readable, and the preview size to ask for.

import { $, setState } from "./state.js";

export function describeTimings(response) {
  const header = response.headers.get("Server-Timing") || "";
  const parts = header.split(",").map((part) => {
    const [name, ...params] = part.trim().split(";");
    const duration = params.find((p) => p.startsWith("dur="));
    return duration ? `${name} ${Math.round(parseFloat(duration.slice(4)))} ms` : null;
  });
  return parts.filter(Boolean).join(", ");
}

export async function errorMessage(response) {
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
export function previewSide() {
  const stage = $("#stage");
  const side = Math.max(stage.clientWidth, stage.clientHeight) * (window.devicePixelRatio || 1);
  return Math.min(2048, Math.max(512, Math.ceil(side)));
}

// POST with the server's back-pressure honoured: a 503 says when to come back.
export async function post(url, body, headers) {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(url, { method: "POST", body, headers });
    if (response.status !== 503 || attempt >= 20) return response;
    const wait = parseInt(response.headers.get("Retry-After") || "1", 10);
    setState("busy", `The server is busy; trying again in ${wait} s…`);
    await sleep(wait * 1000);
  }
}
