-- Each user's token epoch (issue 18): login and player tokens carry the epoch they were
-- made in; `framecast logout --everywhere` moves it on, which ends every earlier token.
ALTER TABLE users ADD COLUMN token_epoch BIGINT NOT NULL DEFAULT 0;
