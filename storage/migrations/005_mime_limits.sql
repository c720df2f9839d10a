-- 005: per-service caps on the MIME structure a DATA policy inspects (Limits.max_mime_parts,
-- max_mime_depth, max_mime_header_block; field case BR-29: "configurable caps on number of
-- parts, nesting depth and per-part header size"). Rows written before this migration get
-- the values gctld used as fixed caps until then; 0 is "the default" like every limit.
ALTER TABLE services ADD COLUMN max_mime_parts INTEGER NOT NULL DEFAULT 1000
  CHECK (max_mime_parts BETWEEN 0 AND 100000);
ALTER TABLE services ADD COLUMN max_mime_depth INTEGER NOT NULL DEFAULT 20
  CHECK (max_mime_depth BETWEEN 0 AND 100);
ALTER TABLE services ADD COLUMN max_mime_header_block INTEGER NOT NULL DEFAULT 65536
  CHECK (max_mime_header_block BETWEEN 0 AND 1048576);
