// The broadcast panel: the webcam with its preview, and the viewers watching now, each with
// the path their images take (through the server, or peer to peer), their fps and kbps, and
// a button to throw them out; and a form to invite someone to watch.

import { T } from "./framecast.js";
import { redraw } from "./lists.js";
import { Camera } from "./camera.js";
import { clear, note, problem, refused } from "./notify.js";

const $ = (id) => document.getElementById(id);
const VIEWERS_EVERY = 2000; // ms

function cell(className, text) {
  return Object.assign(document.createElement("span"), { className, textContent: text });
}

export class BroadcastPanel {
  // `link` is the page's MasterLink.
  constructor(link) {
    this.link = link;
    this.camera = null;
    this.timer = setInterval(() => this.refreshViewers().catch(() => {}), VIEWERS_EVERY);
  }

  async start() {
    const settings = (await this.link.request(T.PREFS_REQUEST, {}, [T.PREFS])).body.settings;
    this.camera = new Camera($("preview"), (text, viewers) => this.cameraEvent(text, viewers));
    this.showRunning(true);
    try {
      await this.camera.start(() => this.link.connection(), this.link.token, settings);
      clear("camera");
    } catch (error) {
      this.stop();
      problem("camera", `the webcam broadcast did not start: ${error.message}`);
    }
  }

  stop() {
    this.camera?.stop();
    this.camera = null;
    this.showRunning(false);
    $("broadcast-state").textContent = "not broadcasting";
    $("viewers").replaceChildren();
    $("viewer-count").textContent = "0";
  }

  showRunning(running) {
    $("camera-start").disabled = running;
    $("camera-stop").disabled = !running;
    $("broadcast-section").classList.toggle("on-air", running);
  }

  cameraEvent(text, viewers) {
    const where = this.camera?.slaveId ? `broadcasting on ${this.camera.slaveId}` : "";
    $("broadcast-state").textContent = text.startsWith("broadcasting on") ? where : `${where} · ${text}`;
    if (viewers !== null) this.refreshViewers().catch(() => {});
  }

  async refreshViewers() {
    if (!this.camera) return;
    const viewers = (await this.link.request(T.VIEWERS_REQUEST, {}, [T.VIEWER_LIST])).body.viewers ?? [];
    $("viewer-count").textContent = String(viewers.length);
    redraw($("viewers"), viewers.map((row) => this.viewerItem(row)));
  }

  viewerItem(row) {
    const item = document.createElement("li");
    item.dataset.viewer = row.user;
    const path = cell(`path ${row.path}`, row.path === "p2p" ? "peer to peer" : "server");
    item.append(
      cell("name", row.user),
      path,
      cell("rate", `${row.fps.toFixed(1)} fps · ${row.kbps.toFixed(0)} kbps`),
    );
    const throwOut = Object.assign(document.createElement("button"), { type: "button", textContent: "throw out" });
    throwOut.dataset.action = "throw";
    throwOut.setAttribute("aria-label", `throw ${row.user} out`);
    throwOut.onclick = () => this.throwOut(row.user).catch((error) => refused("throw", error));
    item.append(throwOut);
    return item;
  }

  async throwOut(user) {
    const answer = await this.link.request(T.THROW, { user }, [T.OK]);
    note(answer.body.detail ?? `threw ${user} out`);
    document.querySelector(`#viewers li[data-viewer="${CSS.escape(user)}"]`)?.remove();
  }

  async invite(user) {
    const answer = await this.link.request(T.INVITE, { user }, [T.OK]);
    note(answer.body.detail ?? `invited ${user}`);
  }
}
