// The framecast protocol in the browser: the same messages as the CLI, carried in binary
// WebSocket messages (common/websocket.py). Each message is a 10-byte header ("FC", version 1,
// type, flags, body length) and a body: JSON for control messages, binary for FRAME and ACK
// (common/protocol.py).

import { CODEC, FRAME_HEADER, HEADER, MAGIC, T, VERSION } from "./protocol.js";

export { T };
export const JPEG = CODEC.JPEG;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export function encode(type, body) {
  const bytes = body instanceof Uint8Array ? body : utf8.encode(JSON.stringify(body ?? {}));
  const message = new Uint8Array(HEADER + bytes.length);
  const view = new DataView(message.buffer);
  message.set([...MAGIC, VERSION, type]); // flags stay 0
  view.setUint32(6, bytes.length);
  message.set(bytes, HEADER);
  return message;
}

export function frameBody(seq, captureTime, width, height, jpeg) {
  const body = new Uint8Array(FRAME_HEADER + jpeg.length);
  const view = new DataView(body.buffer);
  view.setBigUint64(0, BigInt(seq));
  view.setFloat64(8, captureTime);
  view.setUint16(16, width);
  view.setUint16(18, height);
  view.setUint8(20, JPEG);
  body.set(jpeg, FRAME_HEADER);
  return body;
}

export function ackMessage(seq) {
  const body = new Uint8Array(8);
  new DataView(body.buffer).setBigUint64(0, BigInt(seq));
  return encode(T.ACK, body);
}

export function parseFrame(body) {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  return {
    seq: Number(view.getBigUint64(0)),
    captureTime: view.getFloat64(8),
    width: view.getUint16(16),
    height: view.getUint16(18),
    codec: view.getUint8(20),
    image: body.subarray(FRAME_HEADER),
  };
}

export class ServerError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

// Splits the byte stream into messages, whatever the WebSocket message boundaries.
class Decoder {
  constructor() {
    this.buffer = new Uint8Array(0);
  }

  *feed(data) {
    const joined = new Uint8Array(this.buffer.length + data.length);
    joined.set(this.buffer);
    joined.set(data, this.buffer.length);
    let at = 0;
    while (joined.length - at >= HEADER) {
      const length = new DataView(joined.buffer, at + 6, 4).getUint32(0);
      if (joined.length - at < HEADER + length) break;
      yield { type: joined[at + 3], body: joined.subarray(at + HEADER, at + HEADER + length) };
      at += HEADER + length;
    }
    this.buffer = joined.slice(at);
  }
}

export function json(body) {
  return body.length ? JSON.parse(fromUtf8.decode(body)) : {};
}

// One connection to a master or a slave. `request` sends one message and resolves with the
// first answer of the expected types (an ERROR rejects it); one request is open at a time,
// as the servers answer in order. Anything else is an event, handed to `onEvent(type, body)`.
export class Connection {
  constructor(url, onEvent) {
    this.onEvent = onEvent;
    this.onClose = () => {};
    this.decoder = new Decoder();
    this.waiting = null;
    this.queue = Promise.resolve();
    this.socket = new WebSocket(url, "framecast");
    this.socket.binaryType = "arraybuffer";
    this.opened = new Promise((resolve, reject) => {
      this.socket.onopen = resolve;
      this.socket.onerror = () => reject(new ServerError("unavailable", `cannot reach ${url}`));
    });
    this.socket.onmessage = (event) => this.received(new Uint8Array(event.data));
    this.closed = false;
    this.socket.onclose = () => {
      this.closed = true;
      this.waiting?.reject(new ServerError("unavailable", "the connection closed"));
      this.waiting = null;
      this.onClose();
    };
  }

  received(data) {
    for (const message of this.decoder.feed(data)) {
      const waiting = this.waiting;
      if (waiting && message.type === T.ERROR) {
        const error = json(message.body);
        this.waiting = null;
        waiting.reject(new ServerError(error.code, error.message));
      } else if (waiting && waiting.expect.includes(message.type)) {
        this.waiting = null;
        const binary = message.type === T.FRAME || message.type === T.ACK;
        waiting.resolve({ type: message.type, body: binary ? message.body : json(message.body) });
      } else {
        this.onEvent(message.type, message.body);
      }
    }
  }

  send(type, body) {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(encode(type, body));
  }

  sendBytes(bytes) {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(bytes);
  }

  request(type, body, expect) {
    const answer = this.queue.then(async () => {
      await this.opened;
      return new Promise((resolve, reject) => {
        if (this.socket.readyState !== WebSocket.OPEN) {
          reject(new ServerError("unavailable", "the connection closed"));
          return;
        }
        this.waiting = { expect, resolve, reject };
        this.send(type, body);
      });
    });
    this.queue = answer.catch(() => {});
    return answer;
  }

  close() {
    this.socket.close();
  }
}
