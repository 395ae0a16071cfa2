// Broadcasting from the page's webcam: getUserMedia, a JPEG from a canvas at the chosen size
// and quality, uploaded over the slave's WebSocket with one frame in flight (the next is
// encoded only once the slave acknowledged the last), exactly as the CLI broadcaster does.

import { Connection, T, frameBody, json } from "./framecast.js";
import { slaveUrl } from "./watch.js";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const RATES = { faster: 15, better: 5 }; // frames a second for the `rate` setting

function sessionId() {
  const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (n) => letters[n % letters.length]).join("");
}

export class Camera {
  constructor(video, onEvent) {
    this.video = video;
    this.onEvent = onEvent; // (text, viewers) for joins, leaves and trouble
    this.session = sessionId();
    this.seq = 0;
    this.stopped = false;
  }

  // `master` gives the current connection to a master (a new one after a master went away).
  async start(master, token, settings) {
    const [width, height] = settings.size.split("x").map(Number);
    this.size = [width, height];
    this.interval = 1000 / (RATES[settings.rate] ?? 15);
    this.quality = Math.max(0.05, settings.quality / 10);
    this.stream = await navigator.mediaDevices.getUserMedia({ video: { width, height }, audio: false });
    this.video.srcObject = this.stream;
    await this.video.play();
    this.canvas = document.createElement("canvas");
    [this.canvas.width, this.canvas.height] = this.size;
    await this.place(master, token, {});
    this.upload();
  }

  async place(master, token, extra) {
    const request = { token, session: this.session, ...extra };
    const redirect = (await master().request(T.BROADCAST_REQUEST, request, [T.REDIRECT])).body;
    if (!redirect.web) throw new Error("the chosen slave has no web port");
    this.slaveId = redirect.slave_id;
    this.connection = new Connection(slaveUrl(redirect.web), (type, body) => this.event(type, body));
    this.connection.onClose = () => this.lost(master, token);
    const accepted = await this.connection.request(T.BROADCAST_START, { ticket: redirect.ticket }, [T.ACCEPTED]);
    this.onEvent(`broadcasting on ${redirect.slave_id}`, accepted.body.viewers ?? 0);
  }

  async upload() {
    const context = this.canvas.getContext("2d");
    while (!this.stopped) {
      const started = performance.now();
      const connection = this.connection;
      context.drawImage(this.video, 0, 0, ...this.size);
      const blob = await new Promise((resolve) => this.canvas.toBlob(resolve, "image/jpeg", this.quality));
      const jpeg = new Uint8Array(await blob.arrayBuffer());
      this.seq += 1;
      const body = frameBody(this.seq, Date.now() / 1000, ...this.size, jpeg);
      try {
        await connection.request(T.FRAME, body, [T.ACK]);
      } catch {
        await sleep(200); // the slave is gone: `lost` places the broadcast again
      }
      await sleep(Math.max(0, this.interval - (performance.now() - started)));
    }
  }

  event(type, body) {
    if (type === T.VIEWER_EVENT) {
      const change = json(body);
      this.onEvent(`${change.viewer} ${change.event === "join" ? "joined" : "left"}`, change.viewers);
    } else if (type === T.RECONNECT || type === T.MIGRATE) {
      this.moving = true;
    }
  }

  async lost(master, token) {
    if (this.stopped) return;
    const extra = this.moving ? { move_from: this.slaveId } : { lost: this.slaveId };
    this.moving = false;
    this.onEvent("the slave went away; moving the broadcast", null);
    for (let attempt = 0; attempt < 20 && !this.stopped; attempt++) {
      try {
        await this.place(master, token, extra);
        return;
      } catch (error) {
        this.onEvent(error.message, null);
        await sleep(1000);
      }
    }
  }

  stop() {
    this.stopped = true;
    this.connection?.send(T.BROADCAST_STOP, {});
    this.connection?.close();
    this.stream?.getTracks().forEach((track) => track.stop());
  }
}
