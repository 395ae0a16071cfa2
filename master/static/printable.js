// Another user's text, shown as textContent (never markup), with controls and direction marks
// shown as their escapes, as the CLI prints them (client/printable.py): no fake lines.
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;
const NAMED = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

export function printable(text) {
  return text.replace(UNSAFE, (char) => {
    if (char in NAMED) return NAMED[char];
    const code = char.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}
