// The demo page (development, or FACEGATE_CAPTURE_DEMO=true): a key typed in creates a session,
// the capture runs below, and the session as the backend reads it is shown. A real deployment
// creates sessions in its backend: a key must never be typed into, or shipped with, a page.

import { FacegateCapture } from "./facegate-capture";

const SESSIONS = "/facegate/v1/liveness/sessions";

function main(): void {
  const form = document.getElementById("demo-form") as HTMLFormElement | null;
  const root = document.getElementById("facegate");
  const output = document.getElementById("demo-output");
  if (!form || !root || !output) return;
  const capture = new FacegateCapture(root, { lang: navigator.language });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const auth = "Basic " + btoa(`${data.get("api_id")}:${data.get("api_secret")}`);
    const mode = String(data.get("mode") ?? "silent");
    const body = mode === "interactive" ? { mode, actions: 2 } : { mode };
    output.textContent = "";
    void (async () => {
      const created = await fetch(SESSIONS, {
        method: "POST",
        headers: { authorization: auth, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      const session = await created.json();
      if (!created.ok) {
        output.textContent = JSON.stringify(session, null, 2);
        return;
      }
      try {
        await capture.start(session.session_id, session.client_token);
      } catch {
        // The capture shows its own message; the session's state is read below anyway.
      }
      const read = await fetch(`${SESSIONS}/${session.session_id}`, {
        headers: { authorization: auth },
      });
      const view = await read.json();
      for (const key of ["reference_image", "audit_images"]) {
        if (view[key]) view[key] = "(base64 JPEG, left out here)";
      }
      output.textContent = JSON.stringify(view, null, 2);
    })();
  });
}

main();
