// The page: log in, see who is live, watch, chat, broadcast from the webcam, answer requests
// to watch, throw viewers out, and change settings. Every action is a framecast message to a
// master over /ws (framecast.js); events the master pushes arrive on the same connection.

import { Connection, T, json } from "./framecast.js";
import { Camera } from "./camera.js";
import { Watcher, clock } from "./watch.js";
import { printable } from "./printable.js";

const $ = (id) => document.getElementById(id);
const page = { master: null, token: "", user: "", watcher: null, camera: null, shown: new Set() };
const LOGIN_KEY = "framecast-login";
const REFRESH_EVERY = 5000;

function notice(text, error = false) {
  $("notice").textContent = text;
  $("notice").className = error ? "error" : "";
}

function item(text, ...buttons) {
  const li = document.createElement("li");
  li.append(text);
  for (const [label, action] of buttons) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.dataset.action = label;
    button.onclick = () => action().catch((error) => notice(error.message, true));
    li.append(button);
  }
  return li;
}

// Run an action from a button or form; a refusal becomes the notice line.
function act(action) {
  return (event) => {
    event?.preventDefault();
    action().catch((error) => notice(error.message, true));
  };
}

const request = (type, body, expect) => master().request(type, { token: page.token, ...body }, expect);

// --- the master connection and login ------------------------------------------------------
// Opened when needed: a connection must show who it is within seconds (limits before login).
function master() {
  if (!page.master || page.master.closed) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    page.master = new Connection(`${scheme}//${location.host}/ws`, masterEvent);
    page.master.onClose = () => {
      if (page.token) setTimeout(reattach, 1000); // a master went away: carry on with another
    };
  }
  return page.master;
}

async function reattach() {
  if (!page.master.closed) return;
  master();
  await attach().catch((error) => notice(error.message, true));
}

async function login(register) {
  const user = $("user").value.trim();
  const password = $("password").value;
  if (register) await master().request(T.REGISTER, { user, password }, [T.OK]);
  const answer = await master().request(T.LOGIN, { user, password }, [T.TOKEN]);
  sessionStorage.setItem(LOGIN_KEY, JSON.stringify({ user, token: answer.body.token }));
  await enter(user, answer.body.token);
}

async function enter(user, token) {
  Object.assign(page, { user, token });
  await attach();
  $("login-panel").hidden = true;
  $("app").hidden = false;
  $("logout").hidden = false;
  $("whoami").textContent = `logged in as ${user}`;
  notice("");
  await Promise.all([refreshLists(), loadHistory(), loadPrefs()]);
}

async function attach() {
  await request(T.ATTACH, { presence: true }, [T.ATTACHED]);
}

function logout() {
  sessionStorage.removeItem(LOGIN_KEY);
  location.reload();
}

// --- pushed events ------------------------------------------------------------------------
function masterEvent(type, body) {
  const event = json(body);
  if (type === T.CHAT_MESSAGE) {
    showLine(event.message);
    page.master.send(T.MSG_SEEN, { up_to: event.message.id });
  } else if (type === T.VIEW_ASK) {
    showRequest(event.viewer);
  } else if (type === T.ASK_ANSWERED) {
    document.querySelector(`#requests li[data-viewer="${CSS.escape(event.viewer)}"]`)?.remove();
  } else if (type === T.VIEW_ANSWER && !event.accepted) {
    notice(`${event.broadcaster} declined`, true);
  } else if (type === T.REMOVED) {
    notice(`${event.broadcaster} removed you`, true);
  } else if (type === T.ROOM_ASK) {
    notice(`${event.user} asks to join ${event.room}: framecast room-accept ${event.user} '${event.room}'`);
  } else if (type === T.PRESENCE) {
    refreshLists().catch(() => {});
  } else if (type === T.PREFS_CHANGED) {
    showPrefs(event.settings);
  }
}

// --- friends and live broadcasts ------------------------------------------------------------
async function refreshLists() {
  if (!page.token) return;
  const live = (await request(T.LIVE_REQUEST, {}, [T.LIVE_LIST])).body.broadcasts ?? [];
  $("live").replaceChildren(
    ...live.map((row) => item(`${row.user} (${row.viewers} watching)`, ["watch", () => watch(row.user)])),
  );
  const friends = (await request(T.FRIENDS_REQUEST, {}, [T.FRIEND_LIST])).body.friends ?? [];
  $("friends").replaceChildren(
    ...friends.map((row) =>
      row.presence === "broadcasting"
        ? item(`${row.user}: ${row.presence}`, ["watch", () => watch(row.user)])
        : item(`${row.user}: ${row.presence}`),
    ),
  );
}

async function addFriend() {
  const answer = await request(T.FRIEND_CHANGE, { user: $("friend-name").value.trim(), add: true }, [T.OK]);
  notice(answer.body.detail ?? "");
  $("friend-name").value = "";
  await refreshLists();
}

// --- watching -------------------------------------------------------------------------------
async function watch(target) {
  page.watcher?.stop();
  $("watching").textContent = target;
  $("pause").disabled = $("stop-watching").disabled = false;
  page.watcher = new Watcher($("screen"), $("status-line"), (text, error) => notice(text, error));
  await page.watcher.start(master, page.token, target);
}

function zoom() {
  const canvas = $("screen");
  const value = $("zoom").value;
  canvas.style.width = value === "full" ? "100%" : `${(canvas.width * Number(value)) / 100}px`;
}

function togglePause() {
  if (!page.watcher) return;
  page.watcher.setPaused(!page.watcher.paused);
  $("pause").textContent = page.watcher.paused ? "resume" : "pause";
}

function stopWatching() {
  page.watcher?.stop();
  page.watcher = null;
  $("watching").textContent = "";
  $("pause").disabled = $("stop-watching").disabled = true;
}

// --- broadcasting, requests and viewers -------------------------------------------------------
async function startCamera() {
  const settings = (await request(T.PREFS_REQUEST, {}, [T.PREFS])).body.settings;
  page.camera = new Camera($("preview"), (text, viewers) => {
    $("broadcast-state").textContent = text;
    if (viewers !== null) refreshViewers().catch(() => {});
  });
  $("camera-start").disabled = true;
  $("camera-stop").disabled = false;
  try {
    await page.camera.start(master, page.token, settings);
  } catch (error) {
    stopCamera();
    throw error;
  }
}

function stopCamera() {
  page.camera?.stop();
  page.camera = null;
  $("camera-start").disabled = false;
  $("camera-stop").disabled = true;
  $("broadcast-state").textContent = "";
}

function showRequest(viewer) {
  if (document.querySelector(`#requests li[data-viewer="${CSS.escape(viewer)}"]`)) return;
  const answer = (choice) => async () => {
    const reply = await request(T.ACCESS_ANSWER, { viewer, answer: choice }, [T.OK]);
    notice(reply.body.detail ?? "");
    li.remove();
  };
  const li = item(
    `${viewer} asks to watch you`,
    ["accept", answer("accept")],
    ["deny", answer("deny")],
    ["always", answer("always")],
    ["ignore", answer("ignore")],
  );
  li.dataset.viewer = viewer;
  $("requests").append(li);
}

async function refreshViewers() {
  if (!page.camera) return;
  const viewers = (await request(T.VIEWERS_REQUEST, {}, [T.VIEWER_LIST])).body.viewers ?? [];
  $("viewer-count").textContent = String(viewers.length);
  $("viewers").replaceChildren(
    ...viewers.map((row) => {
      const li = item(`${row.user}: ${row.fps.toFixed(1)} fps, ${row.kbps.toFixed(0)} kbps, ${row.path}`, [
        "throw",
        async () => notice((await request(T.THROW, { user: row.user }, [T.OK])).body.detail ?? ""),
      ]);
      li.dataset.viewer = row.user;
      return li;
    }),
  );
}

// --- messages -------------------------------------------------------------------------------
function showLine(line) {
  if (page.shown.has(line.id)) return;
  page.shown.add(line.id);
  const li = document.createElement("li");
  li.textContent = `${clock(line.sent_at).slice(0, 5)} ${line.sender} → ${line.to}: ${printable(line.text)}`;
  $("chat").append(li);
  li.scrollIntoView({ block: "nearest" });
}

async function loadHistory() {
  const lines = (await request(T.MESSAGES_REQUEST, { limit: 50 }, [T.MESSAGE_LIST])).body.messages ?? [];
  lines.forEach(showLine);
}

async function sendMessage() {
  const message = { to: $("chat-to").value.trim(), text: $("chat-text").value, client_id: crypto.randomUUID() };
  await request(T.MSG_SEND, message, [T.MSG_ACCEPTED]);
  $("chat-text").value = "";
}

// --- settings -------------------------------------------------------------------------------
function showPrefs(settings) {
  for (const [key, value] of Object.entries(settings)) {
    const field = $(`pref-${key}`);
    if (field) field.value = String(value);
  }
}

async function loadPrefs() {
  showPrefs((await request(T.PREFS_REQUEST, {}, [T.PREFS])).body.settings);
}

async function savePrefs() {
  const stored = (await request(T.PREFS_REQUEST, {}, [T.PREFS])).body.settings;
  for (const [key, value] of Object.entries(stored)) {
    const wanted = $(`pref-${key}`)?.value;
    if (wanted !== undefined && wanted !== String(value)) {
      showPrefs((await request(T.SET_PREF, { key, value: wanted }, [T.PREFS])).body.settings);
    }
  }
  notice("settings saved");
}

// --- start ------------------------------------------------------------------------------------
function start() {
  $("login-form").onsubmit = act(() => login(false));
  $("register").onclick = act(() => login(true));
  $("logout").onclick = logout;
  $("friend-form").onsubmit = act(addFriend);
  $("zoom").onchange = zoom;
  $("pause").onclick = togglePause;
  $("stop-watching").onclick = stopWatching;
  $("camera-start").onclick = act(startCamera);
  $("camera-stop").onclick = stopCamera;
  $("chat-form").onsubmit = act(sendMessage);
  $("prefs-form").onsubmit = act(savePrefs);
  setInterval(() => refreshLists().catch(() => {}), REFRESH_EVERY);
  setInterval(() => refreshViewers().catch(() => {}), 2000);
  const saved = JSON.parse(sessionStorage.getItem(LOGIN_KEY) ?? "null");
  if (saved) enter(saved.user, saved.token).catch(() => sessionStorage.removeItem(LOGIN_KEY));
}

start();
