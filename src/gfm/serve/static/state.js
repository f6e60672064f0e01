// Concern: what every module of the page shares. The mutable state lives in one object,
// `state`, since a module's bindings cannot be reassigned by the modules that import them;
// `$` finds an element; setState shows where the page is (body data-state, the status line).

export const $ = (selector) => document.querySelector(selector);

export const state = {
  photos: [],              // every photo added, in order (see photos.js for the fields)
  selected: null,          // the photo shown
  limits: null,            // the server's limits, from /api/model
  uploading: false,        // the upload queue is running
  correcting: false,       // a correction request is in flight
  correctionPending: false,  // strokes arrived meanwhile: correct again when it returns
  backdropImageUrl: null,  // the chosen backdrop image, as a blob URL
};

export function setState(value, message) {
  document.body.dataset.state = value;
  if (message !== undefined) $("#status").textContent = message;
}
