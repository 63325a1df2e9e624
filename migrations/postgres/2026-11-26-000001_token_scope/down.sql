ALTER TABLE admin_tokens DROP COLUMN scope;
