-- Instant messages and chat rooms (U10, U11). A message goes to one user or to one room;
-- (sender, client_id) makes a sender's retry of the same message a no-op. Each user's
-- cursor is the last message one of their sessions has shown.
CREATE TABLE rooms (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE room_members (
    room_id   BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_members_user ON room_members (user_id);

CREATE TABLE messages (
    id           BIGSERIAL PRIMARY KEY,
    sender_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    recipient_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    room_id      BIGINT REFERENCES rooms (id) ON DELETE CASCADE,
    body         TEXT NOT NULL,
    sent_at      DOUBLE PRECISION NOT NULL,
    client_id    TEXT NOT NULL,
    UNIQUE (sender_id, client_id),
    CHECK ((recipient_id IS NULL) <> (room_id IS NULL))
);
CREATE INDEX messages_recipient ON messages (recipient_id, id);
CREATE INDEX messages_sender ON messages (sender_id, id);
CREATE INDEX messages_room ON messages (room_id, id);

CREATE TABLE message_cursors (
    user_id   BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    last_seen BIGINT NOT NULL
);
