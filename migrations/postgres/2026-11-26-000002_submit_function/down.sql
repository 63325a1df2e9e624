DROP FUNCTION replyguard_submit;
