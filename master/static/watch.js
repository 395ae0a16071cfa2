// Watching one broadcast in the page: ask a master (waiting while the broadcaster decides),
// then take the frames from the broadcaster's slave over its WebSocket. Each frame is
// acknowledged once it is drawn, so a slow browser gets the newest frame, never a backlog
// (the same one-frame-in-flight flow control as the CLI viewer). The slave sends each
// stream's cap (the user's budget split among their streams, within the chosen link's cap).

import { Connection, JPEG, T, ackMessage, json, parseFrame } from "./framecast.js";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const RATE_WINDOW = 4000; // ms of frames the status line's fps and kbps average: a capped stream's come seconds apart

export function slaveUrl(web) {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${web}/ws`;
}

export function clock(seconds) {
  return seconds ? new Date(seconds * 1000).toTimeString().slice(0, 8) : "--:--:--";
}

// How a watcher tells its tile what happens: `state(kind, text)` with kind "waiting",
// "playing", "ended" (the broadcast stopped: watching again may work later) or "refused"
// (it will not work again by itself); `status(line)` once a second and on every frame.
export class Watcher {
  constructor(canvas, { state, status }, link = "") {
    this.canvas = canvas;
    this.state = state;
    this.status = status;
    this.link = link; // "" (none stated), "lan", "dsl" or "dialup"
    this.stopped = false;
    this.paused = false;
    this.playing = false;
    this.cap = null; // kbps, null: none
    this.lastTime = 0;
    this.samples = []; // [arrival ms, bytes] over the last RATE_WINDOW
    this.timer = setInterval(() => this.showStatus(), 1000);
  }

  // `master` gives the current connection to a master (a new one after a master went away).
  async start(master, token, target) {
    this.target = target;
    const request = { token, target, ...(this.link ? { link: this.link } : {}) };
    const expect = [T.REDIRECT, T.VIEW_PENDING];
    this.state("waiting", `asking to watch ${target}…`);
    let answer = await master().request(T.VIEW_REQUEST, request, expect);
    while (answer.type === T.VIEW_PENDING && !this.stopped) {
      this.state("waiting", `waiting for ${target} to accept`);
      await sleep(1000);
      if (!this.stopped) answer = await master().request(T.VIEW_REQUEST, request, expect);
    }
    if (this.stopped) return;
    if (!answer.body.web) throw new Error(`${target}'s slave has no web port`);
    this.cap = answer.body.cap_kbps ?? null;
    this.connection = new Connection(slaveUrl(answer.body.web), (type, body) => this.event(type, body));
    this.connection.onClose = () => this.lost(master, token);
    const accepted = await this.connection.request(T.VIEW_START, { ticket: answer.body.ticket }, [T.ACCEPTED]);
    this.cap = accepted.body.cap_kbps ?? this.cap;
    if (this.paused) this.connection.send(T.VIEWER_PAUSE, {});
    this.state("waiting", accepted.body.paused ? `${target} paused the broadcast` : `${target} is starting…`);
  }

  async event(type, body) {
    if (type === T.FRAME) {
      await this.draw(parseFrame(body));
    } else if (type === T.VIEWER_CAP) {
      this.cap = json(body).cap_kbps ?? null;
      this.showStatus();
    } else if (type === T.BROADCAST_PAUSED) {
      const paused = json(body).paused;
      this.playing = !paused;
      this.state(paused ? "waiting" : "playing", paused ? `${this.target} paused the broadcast` : "");
    } else if (type === T.BROADCAST_ENDED) {
      this.end("ended", `${this.target} stopped broadcasting`);
    } else if (type === T.REMOVED) {
      this.end("refused", `${this.target} removed you`);
    } else if (type === T.ERROR) {
      this.end("refused", json(body).message);
    } else if (type === T.RECONNECT || type === T.MOVE || type === T.MIGRATE) {
      this.moving = true; // the slave closes next; ask a master again then
    }
  }

  async draw(frame) {
    if (frame.codec !== JPEG) {
      this.state("refused", `${this.target} broadcasts JPEG 2000, which browsers cannot show; use the CLI`);
      this.connection.sendBytes(ackMessage(frame.seq));
      return;
    }
    const bitmap = await createImageBitmap(new Blob([frame.image], { type: "image/jpeg" }));
    if (this.canvas.width !== bitmap.width || this.canvas.height !== bitmap.height) {
      this.canvas.width = bitmap.width;
      this.canvas.height = bitmap.height;
    }
    this.canvas.getContext("2d").drawImage(bitmap, 0, 0);
    bitmap.close();
    this.connection.sendBytes(ackMessage(frame.seq));
    this.canvas.dataset.seq = String(frame.seq);
    this.canvas.dataset.frames = String(Number(this.canvas.dataset.frames ?? 0) + 1); // drawn here
    this.lastTime = Date.now() / 1000;
    this.samples.push([performance.now(), frame.image.length]);
    if (!this.playing) {
      this.playing = true;
      this.state("playing", "");
    }
    this.showStatus();
  }

  showStatus() {
    const now = performance.now();
    this.samples = this.samples.filter(([at]) => now - at <= RATE_WINDOW);
    const seconds = RATE_WINDOW / 1000;
    const bytesPerSecond = this.samples.reduce((sum, [, size]) => sum + size, 0) / seconds;
    const cap = this.cap === null ? "no cap" : `cap ${this.cap.toFixed(0)} kbps`;
    const paused = this.paused ? " · paused" : "";
    this.status(
      `${(this.samples.length / seconds).toFixed(1)} fps · ${((bytesPerSecond * 8) / 1000).toFixed(0)} kbps · ${cap} · ` +
        `last ${clock(this.lastTime)}${paused}`,
    );
  }

  setPaused(paused) {
    this.paused = paused;
    this.connection?.send(paused ? T.VIEWER_PAUSE : T.VIEWER_RESUME, {});
    this.showStatus();
  }

  async lost(master, token) {
    if (this.stopped) return;
    this.playing = false;
    this.state("waiting", this.moving ? `${this.target} moved; following` : "lost the slave; asking again");
    this.moving = false;
    await sleep(500);
    if (!this.stopped) this.start(master, token, this.target).catch((error) => this.failed(error));
  }

  // A refusal from a master: a broadcast that is not there (any more) may come back.
  failed(error) {
    const gone = ["not_broadcasting", "unknown_user", "unavailable", "no_slave", "dead_slave"];
    this.end(gone.includes(error.code) ? "ended" : "refused", error.message);
  }

  end(kind, text) {
    this.stop();
    this.state(kind, text);
  }

  stop() {
    this.stopped = true;
    clearInterval(this.timer);
    this.connection?.close();
  }
}
