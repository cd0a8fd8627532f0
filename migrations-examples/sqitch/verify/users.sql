-- Verify flipr:users on pg

SELECT nickname, password FROM flipr.users WHERE false;
