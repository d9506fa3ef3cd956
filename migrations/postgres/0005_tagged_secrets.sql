-- Every stored subscription secret carries a tag of its kind (src/secret-box.ts): `enc:v1:…` is
-- encrypted, `plain:…` is kept as given. Untagged values were read as encrypted when they began
-- with `enc:v1:` (compared case-sensitively) and as plaintext otherwise; each keeps that reading.
UPDATE subscriptions SET signing_secret = 'plain:' || signing_secret
  WHERE substr(signing_secret, 1, 7) <> 'enc:v1:';
UPDATE subscriptions SET previous_signing_secret = 'plain:' || previous_signing_secret
  WHERE previous_signing_secret IS NOT NULL AND substr(previous_signing_secret, 1, 7) <> 'enc:v1:';
UPDATE subscriptions SET secret_header_value = 'plain:' || secret_header_value
  WHERE secret_header_value IS NOT NULL AND substr(secret_header_value, 1, 7) <> 'enc:v1:';
