-- The outcome list pages newest first through all kinds: this index walks a brokerage's outcomes
-- in id order (ids are time-ordered) and stops at the page's end, where the one led by kind
-- could only serve a list of one kind and every other list sorted all of the brokerage's rows.
CREATE INDEX outcomes_brokerage_newest ON outcomes (brokerage_id, id);
