"""Secret generation for .env: strong, and safe wherever a secret ends up.

Used by the hook, which writes each secret once and never again; a generated project carries a copy
(.stacks/credentials.py) for `make env`.
"""

from __future__ import annotations

import math
import secrets
import string

# Letters and digits only: nothing that compose interpolation ($), .env or YAML quoting (quotes, #, \, space),
# a shell (`) or a URL's userinfo (@ : / %) would read specially, so a secret can sit in DATABASE_URL as is.
SECRET_ALPHABET = string.ascii_letters + string.digits
SECRET_LENGTH = 43
SECRET_BITS = SECRET_LENGTH * math.log2(len(SECRET_ALPHABET))  # about 256


def new_secret(length: int = SECRET_LENGTH) -> str:
    return "".join(secrets.choice(SECRET_ALPHABET) for _ in range(length))
