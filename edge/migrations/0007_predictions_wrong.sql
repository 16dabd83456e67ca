-- EvalRun.misclassified pages through a run's wrong predictions in idx order, of every intent or of
-- one (gold or predicted). predictions_wrong (run_id, gold, idx) served neither: the query walked
-- the run's primary key and tested each row, so a very accurate run, or an intent nobody has, cost a
-- scan of the whole run (20 aliases of first: 1 on a 150k-row run: 674 ms of D1; session 14's
-- second attack pass). These two, with predictions_wrong for gold, make each page an index range.
CREATE INDEX IF NOT EXISTS predictions_wrong_idx ON predictions (run_id, idx) WHERE gold <> predicted;
CREATE INDEX IF NOT EXISTS predictions_wrong_predicted ON predictions (run_id, predicted, idx) WHERE gold <> predicted;
