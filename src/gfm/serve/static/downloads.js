// Concern: downloads. The selected photo's alpha, cutout or composite at full size, as a PNG
// named after the photo (the composite on the backdrop colour or image chosen on the page).

import { requestOutput } from "./outputs.js";
import { $, setState, state } from "./state.js";

function baseName(photo) {
  return photo.name.replace(/\.[^.]+$/, "");
}

export async function download(output) {
  const photo = state.selected;
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
