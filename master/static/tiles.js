// The broadcasts being watched, one tile each: its picture, its status line (fps, kbps and
// the stream's cap), and its controls (the link it watches at, zoom, pause, full screen,
// close). A tile whose broadcast stopped waits for it to come back (`liveNow`), and its
// problem goes away when the new broadcast plays.

import { Watcher } from "./watch.js";
import { clear, problem } from "./notify.js";

const $ = (id) => document.getElementById(id);
const LINKS = [["", "full rate"], ["lan", "LAN 280k"], ["dsl", "DSL 80k"], ["dialup", "dial-up 20k"]];
const ZOOMS = [["fit", "fit"], ["100", "100%"], ["200", "200%"], ["300", "300%"]];

function control(tag, label, props = {}) {
  const element = Object.assign(document.createElement(tag), props);
  if (tag === "button") element.type = "button";
  element.setAttribute("aria-label", label);
  element.title = label;
  return element;
}

function choice(label, options, className) {
  const select = control("select", label, { className });
  for (const [value, text] of options) select.append(new Option(text, value));
  return select;
}

class Tile {
  constructor(tiles, user) {
    this.tiles = tiles;
    this.user = user;
    this.ended = false;
    this.element = document.createElement("article");
    this.element.className = "tile";
    this.element.dataset.user = user;
    this.build();
  }

  build() {
    const title = document.createElement("h3");
    title.textContent = this.user;
    this.link = choice(`rate for ${this.user}`, LINKS, "link");
    this.link.onchange = () => this.restart();
    this.zoom = choice(`zoom for ${this.user}`, ZOOMS, "zoom");
    this.zoom.onchange = () => this.applyZoom();
    this.pause = control("button", `pause ${this.user}`, { className: "pause", textContent: "pause" });
    this.pause.onclick = () => this.togglePause();
    const full = control("button", `full screen ${this.user}`, { className: "full", textContent: "full" });
    full.onclick = () => this.element.requestFullscreen?.().catch(() => {});
    const close = control("button", `close ${this.user}`, { className: "close", textContent: "×" });
    close.onclick = () => this.tiles.close(this.user);
    const bar = document.createElement("header");
    const buttons = document.createElement("div");
    buttons.className = "tile-controls";
    buttons.append(this.link, this.zoom, this.pause, full, close);
    bar.append(title, buttons);
    this.canvas = Object.assign(document.createElement("canvas"), { width: 640, height: 480, className: "screen" });
    this.overlay = Object.assign(document.createElement("p"), { className: "overlay" });
    const screen = Object.assign(document.createElement("div"), { className: "picture" });
    screen.append(this.canvas, this.overlay);
    this.statusLine = Object.assign(document.createElement("p"), { className: "status" });
    this.statusLine.setAttribute("aria-live", "off");
    this.element.append(bar, screen, this.statusLine);
    this.applyZoom();
  }

  start() {
    this.ended = false;
    this.watcher?.stop();
    const view = { state: (kind, text) => this.state(kind, text), status: (line) => (this.statusLine.textContent = line) };
    this.watcher = new Watcher(this.canvas, view, this.link.value);
    this.pause.textContent = "pause";
    this.watcher.start(this.tiles.master, this.tiles.token(), this.user).catch((error) => this.watcher.failed(error));
  }

  restart() {
    if (!this.ended) this.start();
  }

  state(kind, text) {
    this.element.dataset.state = kind;
    this.overlay.textContent = text;
    this.overlay.hidden = !text;
    if (kind === "playing") {
      clear(`watch:${this.user}`);
      this.applyZoom(); // the first image may have another size
    }
    if (kind === "ended") {
      this.ended = true;
      problem(`watch:${this.user}`, `${text}; the tile plays again when ${this.user} is back`);
    } else if (kind === "refused") {
      problem(`watch:${this.user}`, text);
    }
  }

  applyZoom() {
    const value = this.zoom.value;
    this.canvas.style.width = value === "fit" ? "100%" : `${(this.canvas.width * Number(value)) / 100}px`;
    this.element.classList.toggle("zoomed", value !== "fit");
  }

  togglePause() {
    this.watcher?.setPaused(!this.watcher.paused);
    this.pause.textContent = this.watcher?.paused ? "resume" : "pause";
  }

  close() {
    this.watcher?.stop();
    this.element.remove();
    clear(`watch:${this.user}`);
  }
}

export class Tiles {
  // `master` gives the current master connection; `token` the login token.
  constructor(master, token) {
    this.master = master;
    this.token = token;
    this.open = new Map();
  }

  watch(user) {
    let tile = this.open.get(user);
    if (!tile) {
      tile = new Tile(this, user);
      this.open.set(user, tile);
      $("tiles").append(tile.element);
      tile.start();
    } else if (tile.ended) {
      tile.start();
    }
    this.showEmpty();
    tile.element.scrollIntoView({ block: "nearest" });
    tile.pause.focus({ preventScroll: true });
  }

  close(user) {
    this.open.get(user)?.close();
    this.open.delete(user);
    this.showEmpty();
  }

  // The users broadcasting now: a tile that ended plays again when its broadcaster is back.
  liveNow(users) {
    for (const [user, tile] of this.open) if (tile.ended && users.has(user)) tile.start();
  }

  closeAll() {
    for (const user of [...this.open.keys()]) this.close(user);
  }

  showEmpty() {
    $("tiles-empty").hidden = this.open.size > 0;
  }
}
