-- A focus group's suggested price for its stored listing (one row per simulation, no persona),
-- held against the price the listing really sold for.
ALTER TABLE predictions ADD COLUMN price DOUBLE PRECISION;
