-- What planning had to warn of (a panel smaller than asked), as a JSON array of sentences.
ALTER TABLE simulations ADD COLUMN warnings JSONB NOT NULL DEFAULT '[]';
