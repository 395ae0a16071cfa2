// The settings dialog: the user's settings as the master keeps them (shown again when they
// change from another session), saved one changed setting at a time.

import { T } from "./framecast.js";
import { note } from "./notify.js";

const $ = (id) => document.getElementById(id);

export class SettingsDialog {
  constructor(request) {
    this.request = request;
  }

  show(settings) {
    for (const [key, value] of Object.entries(settings)) {
      const field = $(`pref-${key}`);
      if (field) field.value = String(value);
    }
    $("pref-quality-shown").textContent = $("pref-quality").value;
  }

  async load() {
    this.show((await this.request(T.PREFS_REQUEST, {}, [T.PREFS])).body.settings);
  }

  async open() {
    await this.load();
    $("settings-dialog").showModal();
  }

  async save() {
    const stored = (await this.request(T.PREFS_REQUEST, {}, [T.PREFS])).body.settings;
    for (const [key, value] of Object.entries(stored)) {
      const wanted = $(`pref-${key}`)?.value.trim();
      if (wanted !== undefined && wanted !== String(value)) {
        this.show((await this.request(T.SET_PREF, { key, value: wanted }, [T.PREFS])).body.settings);
      }
    }
    $("settings-dialog").close();
    note("settings saved");
  }
}
