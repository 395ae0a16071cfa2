// Watching a broadcast in the page: ask a master (waiting while the broadcaster decides),
// then take the frames from the broadcaster's slave over its WebSocket. Each frame is
// acknowledged once it is drawn, so a slow browser gets the newest frame, never a backlog
// (the same one-frame-in-flight flow control as the CLI viewer).

import { Connection, JPEG, T, ackMessage, json, parseFrame } from "./framecast.js";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function slaveUrl(web) {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${web}/ws`;
}

export function clock(seconds) {
  return seconds ? new Date(seconds * 1000).toTimeString().slice(0, 8) : "--:--:--";
}

export class Watcher {
  constructor(canvas, status, onEnd) {
    this.canvas = canvas;
    this.status = status;
    this.onEnd = onEnd;
    this.stopped = false;
    this.paused = false;
    this.lastTime = 0;
    this.samples = []; // [arrival ms, bytes] over the last second
    this.timer = setInterval(() => this.showStatus(), 1000);
  }

  // `master` gives the current connection to a master (a new one after a master went away).
  async start(master, token, target) {
    this.target = target;
    this.say(`asking to watch ${target}...`);
    let answer = await master().request(T.VIEW_REQUEST, { token, target }, [T.REDIRECT, T.VIEW_PENDING]);
    while (answer.type === T.VIEW_PENDING) {
      this.say(`waiting for ${target} to accept`);
      await sleep(1000);
      if (this.stopped) return;
      answer = await master().request(T.VIEW_REQUEST, { token, target }, [T.REDIRECT, T.VIEW_PENDING]);
    }
    if (this.stopped) return;
    const redirect = answer.body;
    if (!redirect.web) throw new Error(`${target}'s slave has no web port`);
    this.connection = new Connection(slaveUrl(redirect.web), (type, body) => this.event(type, body));
    this.connection.onClose = () => this.lost(master, token);
    await this.connection.request(T.VIEW_START, { ticket: redirect.ticket }, [T.ACCEPTED]);
    this.say(`watching ${target}`);
  }

  async event(type, body) {
    if (type === T.FRAME) {
      await this.draw(parseFrame(body));
    } else if (type === T.BROADCAST_ENDED) {
      this.end(`${this.target} stopped broadcasting`);
    } else if (type === T.REMOVED) {
      this.end(`${this.target} removed you`);
    } else if (type === T.ERROR) {
      this.end(json(body).message);
    } else if (type === T.RECONNECT || type === T.MOVE || type === T.MIGRATE) {
      this.moving = true; // the slave closes next; ask a master again then
    }
  }

  async draw(frame) {
    if (frame.codec === JPEG) {
      const bitmap = await createImageBitmap(new Blob([frame.image], { type: "image/jpeg" }));
      if (this.canvas.width !== bitmap.width || this.canvas.height !== bitmap.height) {
        this.canvas.width = bitmap.width;
        this.canvas.height = bitmap.height;
      }
      this.canvas.getContext("2d").drawImage(bitmap, 0, 0);
      bitmap.close();
    } else {
      this.say(`${this.target} broadcasts JPEG 2000, which browsers cannot show; use the CLI`);
    }
    this.connection.sendBytes(ackMessage(frame.seq));
    this.canvas.dataset.seq = String(frame.seq);
    this.lastTime = Date.now() / 1000;
    this.samples.push([performance.now(), frame.image.length]);
    this.showStatus();
  }

  showStatus() {
    const now = performance.now();
    this.samples = this.samples.filter(([at]) => now - at <= 1000);
    const bytes = this.samples.reduce((sum, [, size]) => sum + size, 0);
    const paused = this.paused ? "   PAUSED" : "";
    this.status.textContent =
      `last image ${clock(this.lastTime)}   ${this.samples.length.toFixed(1)} fps   ` +
      `${((bytes * 8) / 1000).toFixed(0)} kbps${paused}`;
  }

  setPaused(paused) {
    this.paused = paused;
    this.connection?.send(paused ? T.VIEWER_PAUSE : T.VIEWER_RESUME, {});
    this.showStatus();
  }

  async lost(master, token) {
    if (this.stopped) return;
    this.say(this.moving ? `${this.target} moved; following` : "lost the slave; asking again");
    this.moving = false;
    await sleep(500);
    if (!this.stopped) this.start(master, token, this.target).catch((error) => this.end(error.message));
  }

  say(text) {
    this.canvas.title = text;
    this.onEnd?.(text, false);
  }

  end(text) {
    this.stop();
    this.onEnd?.(text, true);
  }

  stop() {
    this.stopped = true;
    clearInterval(this.timer);
    this.connection?.close();
  }
}
