// The page's one connection to a master (through whichever front serves the page), kept up:
// when it is lost the page says so and tries again by itself, with a growing pause, until a
// master attaches the session again; then `onRegained` refreshes what the page shows.

import { Connection, T } from "./framecast.js";
import { clear, problem } from "./notify.js";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const FIRST_PAUSE = 500; // ms before the first new attempt
const LONGEST_PAUSE = 5000;

export class MasterLink {
  constructor(onEvent, onRegained) {
    this.onEvent = onEvent;
    this.onRegained = onRegained;
    this.token = "";
    this.current = null;
    this.retrying = false;
  }

  // The connection to use now: a new one if the last was lost. (Watchers and the camera
  // call this too, so that they ask the master that is there now.)
  connection() {
    if (!this.current || this.current.closed) {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      this.current = new Connection(`${scheme}//${location.host}/ws`, this.onEvent);
      this.current.onClose = () => this.lost();
    }
    return this.current;
  }

  request(type, body, expect) {
    return this.connection().request(type, { token: this.token, ...body }, expect);
  }

  // A refused token ends the session here (no more attempts); other failures are retried.
  async attach(token) {
    this.token = token;
    try {
      await this.request(T.ATTACH, { presence: true }, [T.ATTACHED]);
    } catch (error) {
      if (error.code === "bad_token") this.token = "";
      throw error;
    }
    this.show("connected");
  }

  async lost() {
    if (!this.token || this.retrying) return;
    this.retrying = true;
    let pause = FIRST_PAUSE;
    for (let attempt = 1; this.token; attempt++) {
      this.show("lost", `lost the connection to the server; trying again (attempt ${attempt})`);
      await sleep(pause);
      pause = Math.min(pause * 2, LONGEST_PAUSE);
      try {
        await this.attach(this.token);
        this.retrying = false;
        this.onRegained();
        return;
      } catch (error) {
        if (!this.token) problem("link", `${error.message}: log in again`);
      }
    }
    this.retrying = false;
  }

  show(state, text = "") {
    const element = document.getElementById("link-state");
    element.dataset.state = state;
    element.textContent = state === "connected" ? "connected" : "reconnecting…";
    if (text) problem("link", text);
    else clear("link");
  }
}
