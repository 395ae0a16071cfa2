// What the page tells its user, wherever they are in it: problems (errors that stay shown
// while they are true, each under a key, and go away when the page finds them no longer
// true), passing notes, and questions with their answers as buttons. All text is set as
// textContent: names and messages come from other users.

const $ = (id) => document.getElementById(id);
const NOTE_SHOWN = 6000; // ms a passing note stays
const ONE_OFF_SHOWN = 12000; // ms a refusal of one action stays (it cannot stop being true)

function button(label, action, kind = label) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = label;
  element.dataset.action = kind;
  element.onclick = action;
  return element;
}

// A problem that lasts: shown until `clear(key)` (or its dismiss button).
export function problem(key, text) {
  let item = document.querySelector(`#problems li[data-key="${CSS.escape(key)}"]`);
  if (!item) {
    item = document.createElement("li");
    item.dataset.key = key;
    item.append(document.createElement("span"), button("×", () => item.remove(), "dismiss"));
    item.lastChild.setAttribute("aria-label", "dismiss");
    $("problems").append(item);
  }
  item.firstChild.textContent = text;
}

export function clear(key) {
  document.querySelector(`#problems li[data-key="${CSS.escape(key)}"]`)?.remove();
}

// A refusal of one action: shown for a while, replaced by the next refusal of that action.
export function refused(action, error) {
  const key = `action:${action}`;
  problem(key, error.message);
  const item = document.querySelector(`#problems li[data-key="${CSS.escape(key)}"]`);
  clearTimeout(item.timer);
  item.timer = setTimeout(() => item.remove(), ONE_OFF_SHOWN);
}

export function note(text) {
  const element = $("notice");
  element.textContent = text;
  clearTimeout(element.timer);
  element.timer = setTimeout(() => (element.textContent = ""), NOTE_SHOWN);
}

// A question (or news) for the user: `answers` are [label, async action] pairs; the card
// goes once one of them succeeded, or when `settle(kind, user)` says it was answered elsewhere.
export function ask(kind, user, text, answers) {
  if (findAsk(kind, user)) return;
  const item = document.createElement("li");
  Object.assign(item.dataset, { kind, user });
  const words = document.createElement("p");
  words.textContent = text;
  const buttons = document.createElement("div");
  for (const [label, action] of answers) {
    buttons.append(
      button(label, async () => {
        try {
          await action();
          item.remove();
        } catch (error) {
          refused(label, error);
        }
      }),
    );
  }
  item.append(words, buttons);
  $("notifications").append(item);
}

function findAsk(kind, user) {
  return document.querySelector(`#notifications li[data-kind="${kind}"][data-user="${CSS.escape(user)}"]`);
}

export function settle(kind, user) {
  findAsk(kind, user)?.remove();
}
