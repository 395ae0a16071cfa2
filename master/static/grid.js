// The live broadcasts this user may watch, as a grid of cards: friends first, then the most
// watched; each with a thumbnail (the broadcast's newest image from the master's
// /snapshot address with a player token, refreshed a few times a minute), its viewer count,
// and an "asks first" mark where watching needs the broadcaster's yes. Those get no
// thumbnail: taking one would ask them.

import { T } from "./framecast.js";
import { redraw } from "./lists.js";

const $ = (id) => document.getElementById(id);
const THUMBNAIL_EVERY = 15000; // ms
const PLAYER_TOKEN_TTL = 3600; // s
const RENEW_BEFORE = 300; // s

function order(a, b) {
  return Number(b.friend) - Number(a.friend) || b.viewers - a.viewers || a.user.localeCompare(b.user);
}

function span(className, text) {
  return Object.assign(document.createElement("span"), { className, textContent: text });
}

export class LiveGrid {
  // `request(type, body, expect)` asks the master with the login token; `watch(user)` opens a tile.
  constructor(request, watch) {
    this.request = request;
    this.watch = watch;
    this.cards = new Map();
    this.playerToken = null;
    this.thumbnails = setInterval(() => this.refreshThumbnails(), THUMBNAIL_EVERY);
  }

  // The rows of a LIVE_LIST, shown: new cards added, gone ones removed, counts updated.
  async show(rows) {
    const sorted = [...rows].sort(order);
    const users = new Set(sorted.map((row) => row.user));
    for (const user of [...this.cards.keys()].filter((name) => !users.has(name))) this.cards.delete(user);
    await this.ensurePlayerToken().catch(() => {}); // without one, cards wait for their thumbnails
    const cards = sorted.map((row) => this.card(row));
    redraw($("live"), cards);
    $("live-empty").hidden = cards.length > 0;
  }

  card(row) {
    let card = this.cards.get(row.user);
    if (!card) {
      card = this.build(row);
      this.cards.set(row.user, card);
    }
    const asks = row.access === "ask";
    card.dataset.access = row.access;
    card.classList.toggle("friend", row.friend);
    card.classList.toggle("asks", asks);
    card.querySelector(".viewers").textContent = `${row.viewers} watching`;
    card.querySelector(".friend-mark").hidden = !row.friend;
    card.querySelector(".ask-mark").hidden = !asks;
    if (!asks && !card.querySelector("img").src) this.thumbnail(card);
    return card;
  }

  build(row) {
    const card = document.createElement("li");
    card.className = "card";
    card.dataset.user = row.user;
    const open = document.createElement("button");
    open.type = "button";
    open.className = "thumb";
    open.dataset.action = "watch";
    open.setAttribute("aria-label", `watch ${row.user}`);
    const image = document.createElement("img");
    image.alt = "";
    image.onload = () => card.classList.add("has-image");
    image.onerror = () => card.classList.remove("has-image");
    open.append(image, span("placeholder", row.access === "ask" ? "asks first: watch to ask" : "no image yet"));
    open.append(span("viewers", ""));
    open.onclick = () => this.watch(row.user);
    const meta = document.createElement("p");
    meta.className = "meta";
    meta.append(span("name", row.user), span("friend-mark", "friend"), span("ask-mark", "asks first"));
    card.append(open, meta);
    return card;
  }

  thumbnail(card) {
    if (!this.playerToken || card.dataset.access === "ask") return;
    const user = encodeURIComponent(card.dataset.user);
    const token = encodeURIComponent(this.playerToken.token);
    card.querySelector("img").src = `/snapshot/${user}.jpg?token=${token}&at=${Date.now()}`;
  }

  refreshThumbnails() {
    this.ensurePlayerToken()
      .then(() => this.cards.forEach((card) => this.thumbnail(card)))
      .catch(() => {});
  }

  async ensurePlayerToken() {
    const now = Date.now() / 1000;
    if (this.playerToken && this.playerToken.expires_at - RENEW_BEFORE > now) return;
    this.playerToken = (await this.request(T.PLAYER_TOKEN_REQUEST, { ttl: PLAYER_TOKEN_TTL }, [T.TOKEN])).body;
  }

  stop() {
    clearInterval(this.thumbnails);
  }
}
