// Lists the page redraws while someone may be using them with the keyboard (the live grid,
// the viewers, the conversations): a redraw keeps the focus on the same item's same control.

const sameItem = (a, b) => JSON.stringify({ ...a.dataset }) === JSON.stringify({ ...b.dataset });

export function redraw(list, items) {
  const focused = document.activeElement;
  const was = list.contains(focused) ? [...list.children].find((child) => child.contains(focused)) : null;
  const action = focused?.dataset?.action;
  list.replaceChildren(...items);
  list.dataset.redraws = String(Number(list.dataset.redraws ?? 0) + 1); // for tests to wait on
  if (!was) return;
  if (focused.isConnected) {
    focused.focus({ preventScroll: true });
    return;
  }
  const again = items.find((item) => sameItem(item, was));
  again?.querySelector(`[data-action="${action}"]`)?.focus({ preventScroll: true });
}
