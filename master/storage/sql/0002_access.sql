-- Who may watch whom (U3-U7): allow and ignore lists, invitations, view requests and
-- their answers, consent given for a broadcast, and viewers thrown out.
CREATE TABLE access_lists (
    owner_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_id  BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    list     TEXT NOT NULL CHECK (list IN ('allow', 'ignore')),
    PRIMARY KEY (owner_id, list, user_id)
);

CREATE TABLE invites (
    from_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    to_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (from_id, to_id)
);
CREATE INDEX invites_to ON invites (to_id);

-- One request per viewer and broadcaster: pending until answered or expired.
CREATE TABLE view_requests (
    viewer_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    broadcaster_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session        TEXT NOT NULL,
    created_at     DOUBLE PRECISION NOT NULL,
    expires_at     DOUBLE PRECISION NOT NULL,
    answer         TEXT CHECK (answer IN ('accepted', 'denied')),
    PRIMARY KEY (viewer_id, broadcaster_id)
);
CREATE INDEX view_requests_broadcaster ON view_requests (broadcaster_id);

-- Consent to watch one broadcast (its session), from an accepted request or an invitation.
CREATE TABLE grants (
    broadcaster_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    viewer_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session        TEXT NOT NULL,
    granted_at     DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (broadcaster_id, viewer_id)
);

CREATE TABLE throws (
    broadcaster_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    viewer_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    thrown_at      DOUBLE PRECISION NOT NULL,
    until          DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (broadcaster_id, viewer_id)
);
