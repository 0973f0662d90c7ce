-- Several nodes on one catalogue.
--
-- A PATCH holds its upload under a lease: one writer at a time across every node, and a node
-- that dies holds it no longer than the lease. The holder's name fences its writes: the offset
-- moves, and the upload completes, only for the request that holds the lease.
ALTER TABLE uploads ADD COLUMN lease_owner TEXT;
ALTER TABLE uploads ADD COLUMN lease_until TEXT;
