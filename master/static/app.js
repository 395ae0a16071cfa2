// The page: log in, see who is live as a grid of thumbnails, watch several broadcasts at
// once, chat, broadcast from the webcam, answer requests to watch and invitations from
// notifications, throw viewers out, and change settings. Every action is a framecast message
// to a master over /ws (framecast.js, link.js); events the master pushes arrive on the same
// connection and are handed to the part of the page they concern.

import { T, json } from "./framecast.js";
import { MasterLink } from "./link.js";
import { LiveGrid } from "./grid.js";
import { Tiles } from "./tiles.js";
import { Chat } from "./chat.js";
import { BroadcastPanel } from "./broadcast.js";
import { SettingsDialog } from "./settings.js";
import { ask, clear, note, refused, settle } from "./notify.js";

const $ = (id) => document.getElementById(id);
const LOGIN_KEY = "framecast-login";
const REFRESH_EVERY = 5000; // ms between live lists

const link = new MasterLink(masterEvent, regained);
const request = (type, body, expect) => link.request(type, body, expect);
const page = { user: "", grid: null, tiles: null, chat: null, broadcast: null, settings: null };

// Run an action from a button or form; a refusal is shown as a problem for a while.
function act(name, action) {
  return (event) => {
    event?.preventDefault();
    Promise.resolve()
      .then(action)
      .then(() => clear(`action:${name}`))
      .catch((error) => refused(name, error));
  };
}

// --- logging in -----------------------------------------------------------------------------
async function login(register) {
  const user = $("user").value.trim();
  const password = $("password").value;
  if (register) await link.connection().request(T.REGISTER, { user, password }, [T.OK]);
  const answer = await link.connection().request(T.LOGIN, { user, password }, [T.TOKEN]);
  sessionStorage.setItem(LOGIN_KEY, JSON.stringify({ user, token: answer.body.token }));
  await enter(user, answer.body.token);
}

// The parts of the page are made before the session attaches: what the master sends at
// once (unread messages, open requests to watch) must find them there.
async function enter(user, token) {
  page.user = user;
  page.grid = new LiveGrid(request, watch);
  page.tiles = new Tiles(() => link.connection(), () => link.token);
  page.chat = new Chat(request, (type, body) => link.connection().send(type, body), user, watch);
  page.broadcast = new BroadcastPanel(link);
  page.settings = new SettingsDialog(request);
  await link.attach(token);
  $("login-panel").hidden = true;
  for (const id of ["app", "logout", "settings-open", "nav"]) $(id).hidden = false;
  $("whoami").textContent = user;
  clear("action:log in");
  await Promise.all([refresh(), page.chat.load(), page.settings.load()]);
  $("live-section").focus({ preventScroll: true });
}

function logout() {
  sessionStorage.removeItem(LOGIN_KEY);
  location.reload();
}

// --- what the master pushes -------------------------------------------------------------------
function masterEvent(type, body) {
  const event = json(body);
  if (type === T.CHAT_MESSAGE) page.chat?.received(event.message);
  else if (type === T.VIEW_ASK) askToWatch(event.viewer);
  else if (type === T.ASK_ANSWERED) settle("ask", event.viewer);
  else if (type === T.INVITATION) invitation(event.broadcaster);
  else if (type === T.INVITATION_DECLINED) note(`${event.viewer} declined your invitation`);
  else if (type === T.ROOM_ASK) page.chat?.roomAsk(event.user, event.room);
  else if (type === T.PRESENCE) presence(event.user, event.state);
  else if (type === T.PREFS_CHANGED) page.settings?.show(event.settings);
}

function askToWatch(viewer) {
  const answer = (choice) => async () => {
    note((await request(T.ACCESS_ANSWER, { viewer, answer: choice }, [T.OK])).body.detail ?? "");
  };
  const choices = ["accept", "deny", "always", "ignore"].map((choice) => [choice, answer(choice)]);
  ask("ask", viewer, `${viewer} asks to watch you`, choices);
}

function invitation(broadcaster) {
  const accept = async () => watch(broadcaster);
  const decline = async () => note((await request(T.DECLINE, { user: broadcaster }, [T.OK])).body.detail ?? "");
  ask("invitation", broadcaster, `${broadcaster} invites you to watch`, [["accept", accept], ["decline", decline]]);
}

function presence(user, state) {
  page.chat?.presence(user, state);
  refresh().catch(() => {});
}

// --- live broadcasts and tiles ------------------------------------------------------------------
async function refresh() {
  if (!link.token || !page.grid) return;
  const rows = (await request(T.LIVE_REQUEST, {}, [T.LIVE_LIST])).body.broadcasts ?? [];
  await page.grid.show(rows);
  page.tiles.liveNow(new Set(rows.map((row) => row.user)));
}

// Back after a lost connection: what changed meanwhile (the master re-sends unread messages).
function regained() {
  refresh().catch(() => {});
  page.chat?.load().catch(() => {});
}

function watch(user) {
  page.tiles.watch(user);
}

// --- start ------------------------------------------------------------------------------------------
function start() {
  $("login-form").onsubmit = act("log in", () => login(false));
  $("register").onclick = act("log in", () => login(true));
  $("logout").onclick = logout;
  $("settings-open").onclick = act("settings", () => page.settings.open());
  $("settings-form").onsubmit = (event) => {
    event.preventDefault();
    $("settings-error").textContent = "";
    page.settings.save().catch((error) => ($("settings-error").textContent = error.message));
  };
  $("settings-cancel").onclick = () => $("settings-dialog").close();
  $("pref-quality").oninput = () => ($("pref-quality-shown").textContent = $("pref-quality").value);
  $("camera-start").onclick = act("webcam", () => page.broadcast.start());
  $("camera-stop").onclick = () => page.broadcast.stop();
  $("invite-form").onsubmit = act("invite", async () => {
    await page.broadcast.invite($("invite-name").value.trim());
    $("invite-name").value = "";
  });
  $("friend-form").onsubmit = act("add friend", addFriend);
  $("open-chat").onsubmit = act("open chat", async () => {
    await page.chat.openTyped($("open-chat-name").value.trim());
    $("open-chat-name").value = "";
  });
  $("chat-form").onsubmit = act("send", async () => {
    await page.chat.send($("chat-text").value);
    $("chat-text").value = "";
  });
  setInterval(() => refresh().catch(() => {}), REFRESH_EVERY);
  const saved = JSON.parse(sessionStorage.getItem(LOGIN_KEY) ?? "null");
  if (saved) enter(saved.user, saved.token).catch(() => sessionStorage.removeItem(LOGIN_KEY));
}

async function addFriend() {
  const answer = await request(T.FRIEND_CHANGE, { user: $("friend-name").value.trim(), add: true }, [T.OK]);
  note(answer.body.detail ?? "");
  $("friend-name").value = "";
  await page.chat.load();
}

start();
