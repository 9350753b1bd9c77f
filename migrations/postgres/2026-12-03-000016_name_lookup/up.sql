-- Search by the head's name without opening names: the keyed HMAC of the name
-- (`PiiKey::name_hmac`) beside the sealed name, as the head's ID number already has. Rows
-- imported before this are filled by the API at start (it holds the key; a migration does not).
ALTER TABLE households ADD COLUMN head_name_hmac TEXT;
CREATE INDEX households_head_name_hmac ON households (head_name_hmac);
