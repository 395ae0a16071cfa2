-- Rooms get an owner (U11, issue 18): membership, which a broadcaster's room:#R rule
-- trusts, needs the owner's invitation or approval, never just a join. An existing room's
-- owner is its first member; a room nobody is in has no one to see its messages, so it goes.
DELETE FROM rooms r WHERE NOT EXISTS (SELECT 1 FROM room_members k WHERE k.room_id = r.id);
ALTER TABLE rooms ADD COLUMN owner_id BIGINT REFERENCES users (id) ON DELETE CASCADE;
UPDATE rooms r SET owner_id = (
    SELECT k.user_id FROM room_members k WHERE k.room_id = r.id ORDER BY k.joined_at, k.user_id LIMIT 1
);
ALTER TABLE rooms ALTER COLUMN owner_id SET NOT NULL;
CREATE INDEX rooms_owner ON rooms (owner_id);

-- The owner's invitations (the user's join then succeeds at once) and users' requests to
-- join (the owner's invitation then admits them at once): one row per room and user.
CREATE TABLE room_invites (
    room_id    BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('invited', 'asked')),
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
