-- 006: per-service protocol trace switch (Service.protocol_trace; DESIGN.md §8 "a
-- per-service protocol trace (like the reference's) can be switched on"). Off for every
-- service that existed before.
ALTER TABLE services ADD COLUMN protocol_trace INTEGER NOT NULL DEFAULT 0
  CHECK (protocol_trace IN (0, 1));
