-- 004: the per-service decision timeout (Limits.decision_timeout_ms, DESIGN.md §7 "Fail
-- safe"): how long a relay node waits for one control-plane decision before it answers
-- 451 4.3.0 (AUTH 454 4.7.0) or, with fail_open, lets the command through. Rows written
-- before this migration get the default, 1000 ms; 0 is "the default" like every limit.
ALTER TABLE services ADD COLUMN decision_timeout_ms INTEGER NOT NULL DEFAULT 1000
  CHECK (decision_timeout_ms BETWEEN 0 AND 60000);
