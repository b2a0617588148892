-- Agent steps that failed, counted apart from those done: `done + failed` of `total` ran.
ALTER TABLE simulations ADD COLUMN progress_failed BIGINT NOT NULL DEFAULT 0;
