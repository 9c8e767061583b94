"""schemathesis hooks for `make fuzz` (SCHEMATHESIS_HOOKS=fuzz_hooks): the fuzzer never acts on its own account.

Its id is in `GET /api/admin/users` and schemathesis carries it on to the admin API's per-user operations; a
generated e-mail, password or admin flag for it revokes its token, and every later request is a blind 401.
"""

import os
import uuid

import schemathesis

OWN_ID = os.environ.get("FUZZ_ADMIN_ID", "")


@schemathesis.hook
def before_call(context, case, **kwargs):
    if OWN_ID and case.path_parameters and case.path_parameters.get("user_id") == OWN_ID:
        case.path_parameters["user_id"] = str(uuid.uuid4())  # someone who does not exist: a 404 path
