// FacegateCapture: a facegate liveness session in the browser. The page's backend creates the
// session (with its API key, which never reaches the browser) and hands the page the session id
// and its single-use client token; this opens the camera, streams frames to the server, shows
// the server's prompts and guidance, and reports the outcome. The server decides; nothing here
// is trusted by it.
//
//   const capture = new FacegateCapture(element, { lang: "en" });
//   capture.addEventListener("result", (e) => console.log(e.detail.status));
//   await capture.start(sessionId, clientToken);   // call from a click: it opens the camera
//
// Events (CustomEvent detail): "state" {state}, "prompt" {action, index, deadlineMs, text},
// "guidance" {code, text}, "result" {status, reason}, "error" {code, message}.
// The root element carries data-facegate-state = idle | capturing | done | error.

import { type ErrorCode, type Strings, stringsFor } from "./strings";

export type State = "idle" | "starting" | "capturing" | "processing" | "done" | "error";

export interface CaptureOptions {
  /** facegate's base URL; the page's own origin when omitted. */
  server?: string;
  /** "en" or "fr" (a language without strings falls back to English). */
  lang?: string;
  /** Frames per second sent (the server's cap applies): 10 by default. */
  fps?: number;
  /** Width of the frames sent, in pixels: 480 by default. */
  width?: number;
  /** JPEG quality, 0 to 1: 0.8 by default. */
  quality?: number;
}

export interface CaptureResult {
  status: "passed" | "failed";
  reason: string;
}

export class CaptureError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

interface Ready {
  type: "ready";
  duration_ms: number;
  max_fps: number;
  max_frame_bytes: number;
}

type ServerMessage =
  | Ready
  | { type: "prompt"; action: string; index: number; deadline_ms: number }
  | { type: "guidance"; code: string }
  | { type: "processing" }
  | { type: "result"; status: "passed" | "failed"; reason: string }
  | { type: "error"; reason: string };

const PUBLIC_STATE: Record<State, string> = {
  idle: "idle",
  starting: "capturing",
  capturing: "capturing",
  processing: "capturing",
  done: "done",
  error: "error",
};

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  attrs: Record<string, string> = {},
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

export class FacegateCapture extends EventTarget {
  readonly strings: Strings;
  private readonly root: HTMLElement;
  private readonly options: Required<Omit<CaptureOptions, "server" | "lang">> & { server: string };
  private readonly video: HTMLVideoElement;
  private readonly promptLine: HTMLElement;
  private readonly statusLine: HTMLElement;
  private readonly bar: HTMLElement;
  private current: State = "idle";
  private stream: MediaStream | null = null;
  private socket: WebSocket | null = null;
  private timer: number | undefined;
  private firstFrameAt = 0;
  private lastStamp = -1;
  private durationMs = 0;
  private encoding = false;
  private lastError = "";

  constructor(root: HTMLElement, options: CaptureOptions = {}) {
    super();
    this.root = root;
    this.strings = stringsFor(options.lang ?? document.documentElement.lang);
    this.options = {
      server: options.server ?? window.location.origin,
      fps: options.fps ?? 10,
      width: options.width ?? 480,
      quality: options.quality ?? 0.8,
    };
    root.classList.add("fg-capture");
    root.setAttribute("role", "region");
    root.setAttribute("aria-label", this.strings.title);
    const stage = el("div", "fg-stage");
    this.video = el("video", "fg-video", { "aria-hidden": "true" });
    // iOS Safari plays inline only with these; muted is needed for autoplay everywhere.
    this.video.playsInline = true;
    this.video.muted = true;
    this.video.autoplay = true;
    this.video.setAttribute("playsinline", "");
    stage.append(this.video, el("div", "fg-oval", { "aria-hidden": "true" }));
    this.promptLine = el("p", "fg-prompt", { "aria-live": "assertive" });
    this.statusLine = el("p", "fg-status", { role: "status", "aria-live": "polite" });
    const progress = el("div", "fg-progress", {
      role: "progressbar",
      "aria-valuemin": "0",
      "aria-valuemax": "100",
      "aria-valuenow": "0",
    });
    this.bar = el("div", "fg-bar");
    progress.append(this.bar);
    root.append(stage, this.promptLine, progress, this.statusLine);
    this.setState("idle");
  }

  get state(): State {
    return this.current;
  }

  /** Open the camera and run the session; resolves with the server's decision. */
  async start(sessionId: string, clientToken: string): Promise<CaptureResult> {
    if (this.current !== "idle" && this.current !== "error") {
      throw new Error("a capture is already running");
    }
    this.lastError = "";
    this.setState("starting");
    this.say(this.strings.starting);
    try {
      if (!sessionId || !clientToken) throw this.failure("missing_session");
      await this.openCamera();
      return await this.run(sessionId, clientToken);
    } catch (err) {
      const failure =
        err instanceof CaptureError ? err : new CaptureError("camera_error", String(err));
      this.cleanUp();
      this.setState("error");
      this.promptLine.textContent = "";
      this.say(failure.message);
      this.emit("error", { code: failure.code, message: failure.message });
      throw failure;
    }
  }

  /** Stop the camera and the stream (the session then fails on the server). */
  stop(): void {
    this.cleanUp();
    if (this.current !== "done") this.setState("idle");
  }

  private failure(code: ErrorCode, detail = ""): CaptureError {
    const base = this.strings.errors[code];
    return new CaptureError(code, detail ? `${base} ${detail}` : base);
  }

  private async openCamera(): Promise<void> {
    if (!window.isSecureContext) throw this.failure("insecure_origin");
    if (!navigator.mediaDevices?.getUserMedia) throw this.failure("no_camera");
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } },
      });
    } catch (err) {
      const name = err instanceof DOMException ? err.name : "";
      if (name === "NotAllowedError" || name === "SecurityError") {
        throw this.failure("camera_denied");
      }
      if (name === "NotFoundError" || name === "OverconstrainedError") {
        throw this.failure("no_camera");
      }
      throw this.failure("camera_error", name);
    }
    this.video.srcObject = this.stream;
    await this.video.play().catch(() => undefined);
  }

  private run(sessionId: string, clientToken: string): Promise<CaptureResult> {
    const base = new URL(this.options.server);
    base.protocol = base.protocol === "https:" ? "wss:" : "ws:";
    const url = new URL(
      `/facegate/v1/liveness/sessions/${encodeURIComponent(sessionId)}/stream`,
      base,
    );
    return new Promise((resolve, reject) => {
      let settled = false;
      const socket = new WebSocket(url.toString());
      socket.binaryType = "arraybuffer";
      this.socket = socket;
      // The token goes in the first message, never in the URL (URLs end up in logs).
      socket.onopen = () => socket.send(JSON.stringify({ client_token: clientToken }));
      socket.onmessage = (event) => {
        if (typeof event.data !== "string") return;
        const message = JSON.parse(event.data) as ServerMessage;
        const result = this.handle(message);
        if (result && !settled) {
          settled = true;
          resolve(result);
        }
      };
      socket.onclose = (event) => {
        this.cleanUp();
        if (settled) return;
        settled = true;
        let failure: CaptureError;
        if (event.code === 4403 && /expired/.test(this.lastError)) {
          failure = this.failure("session_expired");
        } else if (event.code >= 4000 && event.code < 5000) {
          failure = this.failure("refused", this.lastError || event.reason);
        } else {
          failure = this.failure("connection_lost");
        }
        reject(failure);
      };
    });
  }

  private handle(message: ServerMessage): CaptureResult | null {
    switch (message.type) {
      case "ready":
        this.durationMs = message.duration_ms;
        this.setState("capturing");
        this.say(this.strings.capturing);
        this.startFrames(Math.min(this.options.fps, message.max_fps), message.max_frame_bytes);
        return null;
      case "prompt": {
        const text = this.strings.actions[message.action] ?? message.action;
        this.promptLine.textContent = text;
        this.emit("prompt", {
          action: message.action,
          index: message.index,
          deadlineMs: message.deadline_ms,
          text,
        });
        return null;
      }
      case "guidance": {
        const text = this.strings.guidance[message.code] ?? "";
        this.say(text || this.strings.capturing);
        this.emit("guidance", { code: message.code, text });
        return null;
      }
      case "processing":
        this.stopFrames();
        this.promptLine.textContent = "";
        this.setProgress(100);
        this.setState("processing");
        this.say(this.strings.processing);
        return null;
      case "result": {
        this.cleanUp();
        this.setState("done");
        this.root.dataset.facegateResult = message.status;
        this.say(message.status === "passed" ? this.strings.passed : this.strings.failed);
        const result = { status: message.status, reason: message.reason };
        this.emit("result", result);
        return result;
      }
      case "error":
        this.lastError = message.reason;
        return null;
    }
  }

  private startFrames(fps: number, maxBytes: number): void {
    const canvas = document.createElement("canvas");
    const context = canvas.getContext("2d");
    if (!context) throw this.failure("camera_error", "no 2-D canvas");
    this.firstFrameAt = 0;
    this.lastStamp = -1;
    this.timer = window.setInterval(() => {
      const socket = this.socket;
      const video = this.video;
      // Skip a tick rather than queue frames: late frames are worse than fewer frames.
      if (!socket || socket.readyState !== WebSocket.OPEN || this.encoding) return;
      if (video.readyState < 2 || !video.videoWidth || socket.bufferedAmount > 4 * maxBytes) {
        return;
      }
      const width = Math.min(this.options.width, video.videoWidth);
      canvas.width = width;
      canvas.height = Math.round((video.videoHeight * width) / video.videoWidth);
      const now = performance.now();
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      if (!this.firstFrameAt) this.firstFrameAt = now;
      const stamp = Math.max(Math.round(now - this.firstFrameAt), this.lastStamp + 1);
      this.lastStamp = stamp;
      this.setProgress(Math.min(99, (100 * stamp) / Math.max(this.durationMs, 1)));
      this.encoding = true;
      canvas.toBlob(
        (blob) => {
          this.encoding = false;
          if (!blob || blob.size > maxBytes || socket.readyState !== WebSocket.OPEN) return;
          void blob.arrayBuffer().then((jpeg) => {
            const frame = new Uint8Array(4 + jpeg.byteLength);
            new DataView(frame.buffer).setUint32(0, stamp);
            frame.set(new Uint8Array(jpeg), 4);
            if (socket.readyState === WebSocket.OPEN) socket.send(frame);
          });
        },
        "image/jpeg",
        this.options.quality,
      );
    }, 1000 / fps);
  }

  private stopFrames(): void {
    if (this.timer !== undefined) window.clearInterval(this.timer);
    this.timer = undefined;
  }

  private cleanUp(): void {
    this.stopFrames();
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    this.video.srcObject = null;
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.close(1000);
  }

  private setProgress(percent: number): void {
    this.bar.style.width = `${percent}%`;
    this.bar.parentElement?.setAttribute("aria-valuenow", String(Math.round(percent)));
  }

  private say(text: string): void {
    this.statusLine.textContent = text;
  }

  private setState(state: State): void {
    this.current = state;
    this.root.dataset.facegateState = PUBLIC_STATE[state];
    this.emit("state", { state });
  }

  private emit(type: string, detail: unknown): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

export { STRINGS, stringsFor } from "./strings";
