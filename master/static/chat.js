// Chat: a conversation per user and per room, each with its history from the server, a
// presence dot for friends, and a count of the lines not read yet. Lines that arrive for a
// conversation that is not open also show as notifications. Other users' text is set as
// textContent, printable (no markup, no control characters).

import { T } from "./framecast.js";
import { redraw } from "./lists.js";
import { clock } from "./watch.js";
import { printable } from "./printable.js";
import { ask, note, settle } from "./notify.js";

const $ = (id) => document.getElementById(id);
const HISTORY = 100;
const ROOM_PAGES = 20; // pages of ROOMS_REQUEST read at most

const isRoom = (name) => name.startsWith("#");

export class Chat {
  // `request` asks the master with the login token; `watch(user)` opens a tile.
  constructor(request, send, me, watch) {
    this.request = request;
    this.sendEvent = send;
    this.me = me;
    this.watch = watch;
    this.peers = new Map(); // name -> { lines: Map(id -> line), unread: Set(id), presence, joined }
    this.active = "";
  }

  peer(name) {
    if (!this.peers.has(name)) this.peers.set(name, { lines: new Map(), unread: new Set(), presence: "" });
    return this.peers.get(name);
  }

  async load() {
    const friends = (await this.request(T.FRIENDS_REQUEST, {}, [T.FRIEND_LIST])).body.friends ?? [];
    friends.forEach((row) => (this.peer(row.user).presence = row.presence));
    await this.loadRooms();
    const lines = (await this.request(T.MESSAGES_REQUEST, { limit: HISTORY }, [T.MESSAGE_LIST])).body.messages ?? [];
    lines.forEach((line) => this.peer(this.conversationOf(line)).lines.set(line.id, line));
    this.render();
  }

  async loadRooms() {
    let after = null;
    for (let page = 0; page < ROOM_PAGES; page++) {
      const answer = (await this.request(T.ROOMS_REQUEST, after ? { after } : {}, [T.ROOM_LIST])).body;
      for (const room of answer.rooms ?? []) this.room(room);
      if (!answer.next) return;
      after = answer.next;
    }
  }

  room(row) {
    if (row.joined) this.peer(row.name).joined = true;
    if (row.invited && !row.joined) {
      const join = () => this.join(row.name);
      ask("room-invite", row.name, `${row.owner} invites you to ${row.name}`, [["accept", join], ["not now", async () => {}]]);
    }
    for (const user of row.asking ?? []) this.roomAsk(user, row.name);
  }

  roomAsk(user, room) {
    const answer = (action) => () => this.request(T.ROOM_MEMBER, { room, user, action }, [T.OK]);
    const text = `${user} asks to join ${room}`;
    ask(`room-ask:${room}`, user, text, [["accept", answer("accept")], ["decline", answer("remove")]]);
  }

  async join(room) {
    const answer = await this.request(T.ROOM_CHANGE, { room, join: true }, [T.OK]);
    note(answer.body.detail ?? `joined ${room}`);
    await this.loadRooms();
    this.render();
  }

  conversationOf(line) {
    if (isRoom(line.to)) return line.to;
    return line.sender === this.me ? line.to : line.sender;
  }

  // A line pushed by the master (a new one, or one missed while away).
  received(line) {
    const name = this.conversationOf(line);
    const peer = this.peer(name);
    if (peer.lines.has(line.id)) return;
    peer.lines.set(line.id, line);
    const reading = name === this.active && document.visibilityState === "visible";
    if (line.sender !== this.me && !reading) {
      peer.unread.add(line.id);
      settle("message", name);
      const text = `${line.sender}${isRoom(name) ? ` in ${name}` : ""}: ${printable(line.text)}`;
      ask("message", name, text, [["open", async () => this.open(name)], ["dismiss", async () => {}]]);
    }
    this.render();
    this.markSeen();
  }

  presence(user, state) {
    this.peer(user).presence = state;
    this.render();
  }

  async open(name) {
    this.active = name;
    const peer = this.peer(name);
    peer.unread.clear();
    settle("message", name);
    this.render();
    document.getElementById("chat-section").scrollIntoView({ block: "nearest" });
    $("chat-text").focus({ preventScroll: true });
    const history = await this.request(T.MESSAGES_REQUEST, { peer: name, limit: HISTORY }, [T.MESSAGE_LIST]);
    (history.body.messages ?? []).forEach((line) => peer.lines.set(line.id, line));
    this.render();
    this.markSeen();
  }

  async openTyped(name) {
    if (isRoom(name) && !this.peer(name).joined) await this.join(name);
    await this.open(name);
  }

  async send(text) {
    if (!this.active) throw new Error("pick a conversation first");
    await this.request(T.MSG_SEND, { to: this.active, text, client_id: crypto.randomUUID() }, [T.MSG_ACCEPTED]);
  }

  // Tell the master what this user has read: every line up to the first still unread.
  markSeen() {
    const unread = [...this.peers.values()].flatMap((peer) => [...peer.unread]);
    const all = [...this.peers.values()].flatMap((peer) => [...peer.lines.keys()]);
    if (!all.length) return;
    const upTo = unread.length ? Math.min(...unread) - 1 : Math.max(...all);
    if (upTo > (this.seen ?? 0)) {
      this.seen = upTo;
      this.sendEvent(T.MSG_SEEN, { up_to: upTo });
    }
  }

  render() {
    const names = [...this.peers.keys()].sort((a, b) => Number(isRoom(a)) - Number(isRoom(b)) || a.localeCompare(b));
    redraw($("conversations"), names.map((name) => this.entry(name)));
    $("chat-title").textContent = this.active || "Pick a conversation";
    $("chat-form").hidden = $("chat-lines").hidden = !this.active;
    const lines = [...(this.peers.get(this.active)?.lines.values() ?? [])].sort((a, b) => a.id - b.id);
    $("chat-lines").replaceChildren(...lines.map((line) => this.lineItem(line)));
    $("chat-lines").scrollTop = $("chat-lines").scrollHeight; // the newest line, without moving the page
  }

  entry(name) {
    const peer = this.peers.get(name);
    const item = document.createElement("li");
    item.dataset.peer = name;
    const open = document.createElement("button");
    open.type = "button";
    open.className = "conversation";
    open.dataset.action = "open";
    if (name === this.active) open.setAttribute("aria-current", "true");
    const dot = Object.assign(document.createElement("span"), { className: `dot ${peer.presence || "none"}` });
    dot.title = peer.presence || (isRoom(name) ? "room" : "not a friend");
    const label = Object.assign(document.createElement("span"), { className: "name", textContent: name });
    const unread = Object.assign(document.createElement("span"), { className: "unread", textContent: String(peer.unread.size) });
    unread.hidden = peer.unread.size === 0;
    unread.setAttribute("aria-label", `${peer.unread.size} unread`);
    open.append(dot, label, unread);
    open.onclick = () => this.open(name).catch(() => {});
    item.append(open);
    if (peer.presence === "broadcasting") {
      const watch = Object.assign(document.createElement("button"), { type: "button", textContent: "watch" });
      watch.dataset.action = "watch";
      watch.onclick = () => this.watch(name);
      item.append(watch);
    }
    return item;
  }

  lineItem(line) {
    const item = document.createElement("li");
    item.className = line.sender === this.me ? "mine" : "theirs";
    const time = Object.assign(document.createElement("time"), { textContent: clock(line.sent_at).slice(0, 5) });
    const who = Object.assign(document.createElement("b"), { textContent: line.sender });
    const text = Object.assign(document.createElement("span"), { textContent: printable(line.text) });
    item.append(time, " ", who, " ", text);
    return item;
  }
}
