-- Verify flipr:flips on pg

SELECT id, nickname, body FROM flipr.flips WHERE false;
