-- SQLite twin of ../postgres/0024_predicted_price.sql.
ALTER TABLE predictions ADD COLUMN price REAL;
