-- Last-seen writes rewrite a device's row once per interval for every phone that boots. With
-- full pages the new row version lands on another page, and all three of the table's
-- indexes get an entry for it; with room left on each page it stays on its page (a HOT
-- update) and no index is touched. Measured on a boot storm of 100,000 phones whose
-- last-seen was due: HOT updates 32% -> 96%, WAL written 78 MB -> 51 MB.
--
-- Only pages written from now on keep the room; an existing table gets it as its rows are
-- rewritten, or at once with VACUUM FULL devices (which locks the table while it runs).
ALTER TABLE devices SET (fillfactor = 70);
