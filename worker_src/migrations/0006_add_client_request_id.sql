-- 0006_add_client_request_id: the request id a client sent, kept beside ours.
--
-- `request_id` is always one the backend generated (the response's X-Request-Id), so support queries by it
-- cannot be polluted by a client. A client's own `X-Request-Id` (checked: 1-128 characters of
-- A-Z a-z 0-9 . _ : -) is recorded here, echoed back as X-Client-Request-Id, and filterable
-- (`GET /api/runs?client_request_id=`) through the index below; runs created without one leave it NULL,
-- which the partial index leaves out.

ALTER TABLE runs ADD COLUMN client_request_id TEXT;

CREATE INDEX runs_client_request_id ON runs (client_request_id, created_at, id) WHERE client_request_id IS NOT NULL;
