-- The image a build made: its full name (with the build number as tag) and the digest of its
-- manifest as the registry (or the local image store) holds it. Written by the terminal write of
-- a SUCCEEDED build, with `stats.imageSizeBytes`.
ALTER TABLE builds
    ADD COLUMN image_name   TEXT,
    ADD COLUMN image_digest TEXT;
