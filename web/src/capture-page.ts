// The hosted page, /facegate/v1/capture/#session_id=…&client_token=…: runs the session named in
// its fragment (a fragment never reaches a server or its logs) and shows the outcome.

import { CaptureError, FacegateCapture, STRINGS } from "./facegate-capture";

const CAMERA_ERRORS = new Set(["insecure_origin", "no_camera", "camera_denied", "camera_error"]);

function main(): void {
  const root = document.getElementById("facegate");
  if (!root) return;
  const params = new URLSearchParams(window.location.hash.slice(1));
  const sessionId = params.get("session_id") ?? "";
  const token = params.get("client_token") ?? "";
  const lang = params.get("lang") ?? navigator.language;
  // Out of the address bar and the history once read: the token is single use anyway.
  if (window.location.hash) {
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  const capture = new FacegateCapture(root, { lang });
  const base = lang.toLowerCase().split("-")[0];
  document.documentElement.lang = base in STRINGS ? base : "en";
  document.title = capture.strings.title;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "fg-start";
  button.textContent = capture.strings.start;
  root.append(button);
  button.addEventListener("click", () => {
    button.hidden = true;
    capture.start(sessionId, token).catch((err: unknown) => {
      // The camera can be fixed and tried again: the token was not spent yet.
      if (err instanceof CaptureError && CAMERA_ERRORS.has(err.code)) {
        button.textContent = capture.strings.retry;
        button.hidden = false;
      }
    });
  });
  button.focus();
}

main();
