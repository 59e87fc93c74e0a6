-- Singleton background jobs across replicas: whoever updates a job's row claims its run for the
-- interval (see api/src/jobs). One row per job, created by the first claim.
CREATE TABLE job_runs (
    name             text PRIMARY KEY,
    last_run_at      timestamptz NOT NULL,
    last_run_by      text NOT NULL,
    last_finished_at timestamptz,
    last_result      jsonb
);
